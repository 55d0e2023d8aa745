"""Vectorised per-sample gradients and their clipped sum (torch.func vmap over grad).

The private per-record term u_i (docs/method.md §4, step 3) is differentiated for
all sampled records at once; no Python loop over samples.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.func import functional_call, grad, vmap

from fusiondp.train.methods import MethodSpec

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def loss_for(n_classes: int) -> LossFn:
    """Mean loss over a batch: BCE-with-logits for two classes, cross-entropy otherwise."""
    if n_classes == 2:
        def bce(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return nn.functional.binary_cross_entropy_with_logits(logits.reshape(-1), y.to(logits.dtype))
        return bce

    def ce(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(logits, y.long())
    return ce


def row_loss_for(n_classes: int) -> LossFn:
    """Per-row loss (no reduction), matching `loss_for`."""
    if n_classes == 2:
        def bce(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return nn.functional.binary_cross_entropy_with_logits(logits.reshape(-1), y.to(logits.dtype),
                                                                  reduction="none")
        return bce

    def ce(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(logits, y.long(), reduction="none")
    return ce


def consistency(h: torch.Tensor, h_tilde: torch.Tensor, ch: float) -> torch.Tensor:
    """R_i = ‖clip(h − h̃, C_h)‖² / C_h², in [0, 1] (docs/method.md §4).

    The clipping factor is treated as a constant (as in DP-SGD clipping), so a
    clipped Δ still gets a gradient pulling h towards h̃.
    """
    delta = h - h_tilde
    norm = delta.norm()
    factor = torch.clamp(ch / (norm + 1e-12), max=1.0).detach()
    return (delta * factor).square().sum() / ch**2


def per_sample_term(wrapper: nn.Module, spec: MethodSpec, loss_fn: LossFn, *, beta: float,
                    ch: float | None) -> Callable:
    """The private per-record objective u_i(params; x_i, x̃_i, y_i) of `spec`, for one record."""
    use_r = spec.consistency and beta > 0

    def term(params: dict, buffers: dict, x: torch.Tensor, x_tilde: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        yb = y.unsqueeze(0)
        if spec.private_term == "loss":
            logits, _ = functional_call(wrapper, (params, buffers), (x.unsqueeze(0),))
            return loss_fn(logits, yb)
        logits, h = functional_call(wrapper, (params, buffers), (torch.stack([x, x_tilde]),))
        value = loss_fn(logits[:1], yb) - loss_fn(logits[1:], yb)
        if use_r:
            value = value + beta * consistency(h[0], h[1], ch)
        return value

    return term


def clipped_grad_sum(term: Callable, params: dict, buffers: dict, x: torch.Tensor, x_tilde: torch.Tensor,
                     y: torch.Tensor, clip: float) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Σ_i u_i·min(1, C/‖u_i‖) over the batch, and the per-sample norms ‖u_i‖.

    Returns zeros (and an empty norm vector) for an empty batch.
    """
    if x.shape[0] == 0:
        return {k: torch.zeros_like(v) for k, v in params.items()}, x.new_zeros(0)
    per_ex = per_sample_grads(term, params, buffers, x, x_tilde, y)
    norms = torch.sqrt(sum(g.reshape(g.shape[0], -1).square().sum(1) for g in per_ex.values()))
    factor = torch.clamp(clip / (norms + 1e-12), max=1.0)
    summed = {k: torch.einsum("i,i...->...", factor, g) for k, g in per_ex.items()}
    return summed, norms


def per_sample_grads(term: Callable, params: dict, buffers: dict, x: torch.Tensor, x_tilde: torch.Tensor,
                     y: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every record's gradient of `term`: name -> (n, *parameter shape) (vmap over grad)."""
    if x.shape[0] == 0:
        return {k: v.new_zeros((0, *v.shape)) for k, v in params.items()}
    return vmap(grad(term), in_dims=(None, None, 0, 0, 0), randomness="different")(params, buffers, x, x_tilde, y)


def batched_objective(spec: MethodSpec, row_loss: LossFn, y: torch.Tensor, *, beta: float, ch: float | None
                      ) -> tuple[int, Callable]:
    """The same per-record term as `per_sample_term`, evaluated for a whole batch at once.

    Returns (k, objective): rows are k stacked blocks of the batch ([x] for 'loss', [x; x̃] for
    'diff'), and objective(logits, h) gives the per-record values u_i, shape (n,).
    """
    if spec.private_term == "loss":
        return 1, lambda logits, h: row_loss(logits, y)
    use_r = spec.consistency and beta > 0

    def objective(logits: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        n = y.shape[0]
        losses = row_loss(logits, torch.cat([y, y]))
        value = losses[:n] - losses[n:]
        if use_r:
            delta = h[:n] - h[n:]
            factor = torch.clamp(ch / (delta.norm(dim=1, keepdim=True) + 1e-12), max=1.0).detach()
            value = value + beta * (delta * factor).square().sum(1) / ch**2
        return value

    return 2, objective
