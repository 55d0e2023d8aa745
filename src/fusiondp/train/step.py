"""The one training step every method runs (docs/method.md §4), with no method names in it.

Structure, kept explicit so the sums can be all-reduced across processes with a single
noise draw (fusiondp.train.distributed):

1. public gradient: mean ∇ℓ over the public batch, no clipping, no noise;
2. private clipped sum: Σ_i clip(u_i, C) over the Poisson-sampled records;
3. one Gaussian draw N(0, σ²C²I) added to that sum, nothing rescales it before;
   (with a public basis V, `fusiondp.train.projection`: the per-sample terms are projected onto V and
   clipped there, and the draw is N(0, σ²C²I_k) on the k coordinates, mapped back by V)
   (in a process group: each rank holds its shard's part of 1 and 2 and draws the noise of its own
   slice of the coordinates, so each coordinate is noised exactly once, and one all-reduce (SUM) of
   everything gives every rank the same totals)
4. divide by the private denominator and mix: w_pub·g_pub + w_priv·g_priv;
5. optimizer step, then projection onto the L2 ball of radius M.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from fusiondp.errors import ConfigError
from fusiondp.privacy.randomness import SecureRandom
from fusiondp.train.ghost import clipped_grad_sum_ghost, unit_grads_ghost
from fusiondp.train.methods import MethodSpec
from fusiondp.train.persample import LossFn, batched_objective, clipped_grad_sum, per_sample_grads
from fusiondp.train.projection import projected_noised_sum


@dataclass
class Batch:
    """The rows one step touches. Private tensors are empty for non-private methods."""

    public_x: torch.Tensor | None
    public_y: torch.Tensor | None
    private_x: torch.Tensor
    private_x_tilde: torch.Tensor
    private_y: torch.Tensor
    private_denominator: float
    # Rows of the whole public batch when this process holds only part of it (a process group):
    # the local gradient is weighted by rows_here / public_denominator so the all-reduced sum is the mean.
    public_denominator: float | None = None
    # Positions of the public rows in the training views (None when a caller's own public source gave
    # them): the projection lever picks its public stand-in records among them.
    public_index: torch.Tensor | None = None


@dataclass
class StepStats:
    public_loss: float
    private_batch: int
    clipped_fraction: float


def public_gradient(model: nn.Module, params: dict, x: torch.Tensor, y: torch.Tensor, loss_fn: LossFn,
                    weight: float = 1.0) -> tuple[dict[str, torch.Tensor], float]:
    """Noise-free mean gradient over public rows, times `weight` (zeros for no rows)."""
    if x.shape[0] == 0:
        return {k: torch.zeros_like(p) for k, p in params.items()}, 0.0
    loss = loss_fn(model(x), y)
    if weight != 1.0:
        loss = loss * weight
    grads = torch.autograd.grad(loss, list(params.values()))
    return dict(zip(params, grads)), float(loss.detach())


def add_noise(clipped_sum: dict[str, torch.Tensor], std: float, generator: torch.Generator,
              part: tuple[int, int] | None = None) -> dict[str, torch.Tensor]:
    """One Gaussian draw of standard deviation `std` (= σ·C) per coordinate.

    Drawn on the generator's device (the secret generators live on the CPU) and moved to the sum's.
    `generator` may be the OS CSPRNG (`fusiondp.privacy.randomness.SecureRandom`, secure mode): then one
    draw covers every parameter.

    `part` = (lo, hi): only coordinates lo..hi-1 of the flattened vector (parameters in `clipped_sum`'s
    order) get noise here, the others are returned unchanged. A process group splits the coordinates
    among its ranks (`fusiondp.train.distributed.noise_part`), so after the all-reduce (SUM) every coordinate
    carries exactly one draw N(0, std²), from the rank that owns it: the same law as one process's draw,
    at 1/world_size of the cost per rank. The CSPRNG draws only the part; a torch generator draws the whole
    vector, as one process would, and keeps the part (cheap; and in the test-only replayable mode, where
    every rank holds the same generator, the parts add up to exactly the single-process draw).
    """
    if std == 0:
        return clipped_sum
    total = sum(v.numel() for v in clipped_sum.values())
    lo, hi = part if part is not None else (0, total)
    if isinstance(generator, SecureRandom):
        z = generator.gaussian((hi - lo,), torch.float64)
        out, at = {}, 0
        for k, v in clipped_sum.items():
            a, b = max(at, lo), min(at + v.numel(), hi)  # this parameter's coordinates inside the part
            if a < b:
                noise = torch.zeros(v.numel(), dtype=torch.float64)
                noise[a - at:b - at] = z[a - lo:b - lo]
                out[k] = v + std * noise.view(v.shape).to(device=v.device, dtype=v.dtype)
            else:
                out[k] = v
            at += v.numel()
        return out
    out, at = {}, 0
    for k, v in clipped_sum.items():
        noise = torch.randn(v.shape, generator=generator, dtype=v.dtype, device=generator.device).to(v.device)
        if (lo, hi) != (0, total):
            keep = torch.zeros(v.numel(), dtype=torch.bool, device=v.device)
            keep[max(lo - at, 0):max(min(hi - at, v.numel()), 0)] = True
            noise = noise * keep.view(v.shape)
        out[k] = v + std * noise
        at += v.numel()
    return out


def project_(params: dict[str, torch.Tensor], radius: float) -> None:
    """Project the parameter vector onto the L2 ball of radius M, in place."""
    if radius is None or radius == float("inf"):
        return
    norm = torch.sqrt(sum(p.detach().square().sum() for p in params.values()))
    if norm > radius:
        with torch.no_grad():
            for p in params.values():
                p.mul_(radius / norm)


def private_clipped_sum(model: nn.Module, wrapper: nn.Module, batch: Batch, spec: MethodSpec, *, term,
                        row_loss: LossFn | None, clip: float, beta: float, ch: float | None
                        ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Σ_i clip(u_i, C) over the private batch: ghost clipping when `row_loss` is given, else vmap."""
    if row_loss is not None and batch.private_x.shape[0] > 0:
        k, objective = batched_objective(spec, row_loss, batch.private_y, beta=beta, ch=ch)
        rows = batch.private_x if k == 1 else torch.cat([batch.private_x, batch.private_x_tilde])
        return clipped_grad_sum_ghost(model, objective, rows, k, clip, prefix="m.")
    params = {k: p.detach() for k, p in wrapper.named_parameters()}
    return clipped_grad_sum(term, params, dict(wrapper.named_buffers()), batch.private_x, batch.private_x_tilde,
                            batch.private_y, clip)


def private_unit_grads(model: nn.Module, wrapper: nn.Module, x: torch.Tensor, x_tilde: torch.Tensor,
                       y: torch.Tensor, spec: MethodSpec, *, term, row_loss: LossFn | None, beta: float,
                       ch: float | None) -> dict[str, torch.Tensor]:
    """Each record's gradient of the private term, name -> (n, *shape) in the wrapper's parameter order.

    Ghost layout when `row_loss` is given (one batched backward), else vmap over `term`.
    """
    params = {k: p.detach() for k, p in wrapper.named_parameters()}
    if row_loss is not None and x.shape[0] > 0:
        k, objective = batched_objective(spec, row_loss, y, beta=beta, ch=ch)
        rows = x if k == 1 else torch.cat([x, x_tilde])
        grads = unit_grads_ghost(model, objective, rows, k, prefix="m.")
    else:
        grads = per_sample_grads(term, params, dict(wrapper.named_buffers()), x, x_tilde, y)
    return {k: grads[k] for k in params}


def step(model: nn.Module, wrapper: nn.Module, optimizer: torch.optim.Optimizer, batch: Batch, spec: MethodSpec,
         *, term, loss_fn: LossFn, clip: float, noise_multiplier: float, alpha: float, beta: float,
         radius: float, generator: torch.Generator | None, row_loss: LossFn | None = None,
         ch: float | None = None, reduce: Callable[[dict], dict] | None = None,
         basis: torch.Tensor | None = None, noise_part: tuple[int, int] | None = None) -> StepStats:
    """Run one step of `spec` on `batch` and update the model in place: :func:`noised_gradient`, then
    ``optimizer.step()`` and the projection onto the ball of radius M (steps 1-5 of the module docstring)."""
    params = dict(wrapper.named_parameters())
    total, stats = noised_gradient(model, wrapper, batch, spec, term=term, loss_fn=loss_fn, clip=clip,
                                   noise_multiplier=noise_multiplier, alpha=alpha, beta=beta, generator=generator,
                                   row_loss=row_loss, ch=ch, reduce=reduce, basis=basis, noise_part=noise_part)
    optimizer.zero_grad(set_to_none=True)
    for k, p in params.items():
        p.grad = total[k]
    optimizer.step()
    project_(params, radius)
    return stats


def noised_gradient(model: nn.Module, wrapper: nn.Module, batch: Batch, spec: MethodSpec, *, term, loss_fn: LossFn,
                    clip: float, noise_multiplier: float, alpha: float, beta: float,
                    generator: torch.Generator | None, row_loss: LossFn | None = None, ch: float | None = None,
                    reduce: Callable[[dict], dict] | None = None, basis: torch.Tensor | None = None,
                    noise_part: tuple[int, int] | None = None) -> tuple[dict[str, torch.Tensor], StepStats]:
    """The gradient one step of `spec` applies on `batch` (steps 1-4 of the module docstring), by the
    wrapper's parameter names, and the step's statistics. Nothing is written to the model.

    `row_loss` (per-row loss) selects the ghost-clipping path for Linear/LayerNorm models;
    without it the per-sample gradients come from torch.func vmap over `term`.
    `reduce` (a process group's all-reduce SUM, `Dist.all_reduce_sum`) combines the ranks' public
    gradients, clipped sums and statistics in one collective; each rank then noises only its
    `noise_part` of the coordinates (:func:`add_noise`), so the reduced sum carries exactly one draw per
    coordinate (a rank without `generator`, or with an empty part, adds none). In a single process
    `reduce` and `noise_part` are None and `generator` is required.
    `basis` (P × k, orthonormal columns, parameters in the wrapper's order; estimated from public rows
    by the engine) projects the private term onto its span, clips and noises it there
    (`fusiondp.train.projection`); None leaves the step as in the paper.
    """
    params = dict(wrapper.named_parameters())
    # The statistics travel in the gradients' dtype, so a process group sums everything in ONE all-reduce
    # (counts stay exact up to 2^24 rows in float32).
    stat_dtype = next(iter(params.values())).dtype
    w_pub, w_priv = spec.weights(alpha, beta)
    std = noise_multiplier * clip if noise_multiplier > 0 else 0.0
    if reduce is None and generator is None and spec.is_private and std > 0:
        raise ConfigError("A private step needs the noise generator; only a rank of a process group may omit it.")
    parts: dict[str, torch.Tensor] = {}
    if spec.public_rows is not None:
        rows = batch.public_x.shape[0]
        weight = rows / batch.public_denominator if batch.public_denominator else 1.0
        g_pub, public_loss = public_gradient(model, params, batch.public_x, batch.public_y, loss_fn, weight)
        parts.update({f"pub.{k}": g_pub[k] for k in params})
        parts["pub_loss"] = torch.tensor([public_loss], dtype=stat_dtype)
    n_clipped = 0
    if spec.is_private:
        # The two rows of a difference term must see the same network: with independent dropout masks
        # ℓ(x) − ℓ(x̃) would be dominated by mask noise, and clipping turns that noise into bias.
        paired = spec.private_term == "diff" and model.training
        if paired:
            model.eval()
        try:
            if basis is None:
                summed, norms = private_clipped_sum(model, wrapper, batch, spec, term=term, row_loss=row_loss,
                                                    clip=clip, beta=beta, ch=ch)
            else:
                grads = private_unit_grads(model, wrapper, batch.private_x, batch.private_x_tilde,
                                           batch.private_y, spec, term=term, row_loss=row_loss, beta=beta, ch=ch)
        finally:
            if paired:
                model.train()
        if basis is None:
            summed = {k: summed[k] for k in params}  # one fixed order: noise coordinates and the all-reduce layout
            noisy = add_noise(summed, std, generator, noise_part) if generator is not None else summed
        else:
            noisy, norms = projected_noised_sum(grads, {k: p.detach() for k, p in params.items()}, basis, clip,
                                                std, generator)
        parts.update({f"priv.{k}": noisy[k] for k in params})
        n_clipped = int((norms > clip).sum()) if norms.numel() else 0
    parts["counts"] = torch.tensor([batch.private_x.shape[0], n_clipped], dtype=stat_dtype)
    if reduce is not None:
        parts = reduce(parts)
    total = {k: torch.zeros_like(p) for k, p in params.items()}
    public_loss = float("nan")
    if spec.public_rows is not None:
        for k in total:
            total[k] += w_pub * parts[f"pub.{k}"]
        public_loss = float(parts["pub_loss"][0])
    if spec.is_private:
        for k in total:
            total[k] += w_priv * parts[f"priv.{k}"] / batch.private_denominator
    n_private, n_clipped = (int(v) for v in parts["counts"].tolist())
    return total, StepStats(public_loss, n_private, n_clipped / n_private if n_private else 0.0)
