"""The one training step every method runs (METHOD.md §3), with no method names in it.

Structure, kept explicit so the clipped sum can later be all-reduced across
processes before the single noise draw:

1. public gradient: mean ∇ℓ over the public batch, no clipping, no noise;
2. private clipped sum: Σ_i clip(u_i, C) over the Poisson-sampled records;
3. one Gaussian draw N(0, σ²C²I) added to that sum, nothing rescales it before;
4. divide by the private denominator and mix: w_pub·g_pub + w_priv·g_priv;
5. optimizer step, then projection onto the L2 ball of radius M.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from fusiondp.train.ghost import clipped_grad_sum_ghost
from fusiondp.train.methods import MethodSpec
from fusiondp.train.persample import LossFn, batched_objective, clipped_grad_sum


@dataclass
class Batch:
    """The rows one step touches. Private tensors are empty for non-private methods."""

    public_x: torch.Tensor | None
    public_y: torch.Tensor | None
    private_x: torch.Tensor
    private_x_tilde: torch.Tensor
    private_y: torch.Tensor
    private_denominator: float


@dataclass
class StepStats:
    public_loss: float
    private_batch: int
    clipped_fraction: float


def public_gradient(model: nn.Module, params: dict, x: torch.Tensor, y: torch.Tensor, loss_fn: LossFn
                    ) -> tuple[dict[str, torch.Tensor], float]:
    """Noise-free mean gradient over public rows."""
    loss = loss_fn(model(x), y)
    grads = torch.autograd.grad(loss, list(params.values()))
    return dict(zip(params, grads)), float(loss.detach())


def add_noise(clipped_sum: dict[str, torch.Tensor], std: float, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """One Gaussian draw of standard deviation `std` (= σ·C) per coordinate."""
    if std == 0:
        return clipped_sum
    return {k: v + std * torch.randn(v.shape, generator=generator, dtype=v.dtype, device=v.device)
            for k, v in clipped_sum.items()}


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


def step(model: nn.Module, wrapper: nn.Module, optimizer: torch.optim.Optimizer, batch: Batch, spec: MethodSpec,
         *, term, loss_fn: LossFn, clip: float, noise_multiplier: float, alpha: float, beta: float,
         radius: float, generator: torch.Generator, row_loss: LossFn | None = None,
         ch: float | None = None) -> StepStats:
    """Run one step of `spec` on `batch` and update the model in place.

    `row_loss` (per-row loss) selects the ghost-clipping path for Linear/LayerNorm models;
    without it the per-sample gradients come from torch.func vmap over `term`.
    """
    params = dict(wrapper.named_parameters())
    w_pub, w_priv = spec.weights(alpha, beta)
    total = {k: torch.zeros_like(p) for k, p in params.items()}
    public_loss = float("nan")
    if spec.public_rows is not None:
        g_pub, public_loss = public_gradient(model, params, batch.public_x, batch.public_y, loss_fn)
        for k in total:
            total[k] += w_pub * g_pub[k]
    clipped_fraction = 0.0
    if spec.is_private:
        # The two rows of a difference term must see the same network: with independent dropout masks
        # ℓ(x) − ℓ(x̃) would be dominated by mask noise, and clipping turns that noise into bias.
        paired = spec.private_term == "diff" and model.training
        if paired:
            model.eval()
        try:
            summed, norms = private_clipped_sum(model, wrapper, batch, spec, term=term, row_loss=row_loss,
                                                clip=clip, beta=beta, ch=ch)
        finally:
            if paired:
                model.train()
        noisy = add_noise(summed, noise_multiplier * clip if noise_multiplier > 0 else 0.0, generator)
        for k in total:
            total[k] += w_priv * noisy[k] / batch.private_denominator
        clipped_fraction = float((norms > clip).float().mean()) if norms.numel() else 0.0
    optimizer.zero_grad(set_to_none=True)
    for k, p in params.items():
        p.grad = total[k]
    optimizer.step()
    project_(params, radius)
    return StepStats(public_loss, int(batch.private_x.shape[0]), clipped_fraction)
