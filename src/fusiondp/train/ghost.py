"""Per-sample clipped sums without per-sample backward passes, for Linear/LayerNorm models.

For a layer y = W a + b, the gradient of a row's loss is g aᵀ (g = ∂loss/∂y of that row),
so one batched backward that keeps each row's (a, g) gives every per-sample gradient.
A private unit i covers k rows (k = 1 for a plain loss, 2 for the pair (x_i, x̃_i)), so

    ‖∇W u_i‖² = Σ_{k,l} (g_{k,i}·g_{l,i}) (a_{k,i}·a_{l,i})      ("ghost norm", no per-sample tensor),
    Σ_i f_i ∇W u_i = Σ_k (f ⊙ g_k)ᵀ a_k                          (one matmul per layer),

with f_i = min(1, C/‖u_i‖) (Goodfellow 2015; Li et al. 2022, "Large Language Models Can Be
Strong Differentially Private Learners", ghost clipping). LayerNorm's affine parameters have
per-row gradients g ⊙ â and g. The result equals `persample.clipped_grad_sum` (tested) and is
used automatically when every parameter of the model lives in a supported layer; otherwise
the engine falls back to torch.func vmap.
"""

from __future__ import annotations

import torch
from torch import nn

SUPPORTED = (nn.Linear, nn.LayerNorm)


def supports(model: nn.Module) -> bool:
    """True if every parameter belongs to a Linear or LayerNorm layer (and nothing else owns one)."""
    for module in model.modules():
        own = list(module.parameters(recurse=False))
        if own and not isinstance(module, SUPPORTED):
            return False
        if isinstance(module, nn.LayerNorm) and len(module.normalized_shape) != 1:
            return False
    return any(isinstance(m, SUPPORTED) for m in model.modules())


class RowCapture:
    """Forward hooks that keep each supported layer's input (and output, for the backward)."""

    def __init__(self, model: nn.Module) -> None:
        self.layers = [(name, m) for name, m in model.named_modules() if isinstance(m, SUPPORTED)]
        self.inputs: dict[str, torch.Tensor] = {}
        self.outputs: dict[str, torch.Tensor] = {}
        self._handles = [m.register_forward_hook(self._hook(name)) for name, m in self.layers]

    def _hook(self, name: str):
        def hook(module, args, output):
            self.inputs[name] = args[0].detach()
            self.outputs[name] = output
        return hook

    def remove(self) -> None:
        for h in self._handles:
            h.remove()


def _pairwise(a: torch.Tensor) -> torch.Tensor:
    """(k, n, d) → (n, k, k) Gram matrices of each unit's rows."""
    return torch.einsum("knd,lnd->nkl", a, a)


def _unit_pieces(model: nn.Module, objective, x_rows: torch.Tensor, k: int) -> list[tuple]:
    """One batched forward/backward; per layer (name, layer, kind, w, gb) with the per-unit factors.

    kind 'ln': w = (n, H) per-unit weight gradient, gb = (n, H) bias gradient;
    kind 'linear': w = (g, a) with g (k, n, out) and a (k, n, in), gb = (n, out) or None.
    """
    n = x_rows.shape[0] // k
    cap = RowCapture(model)
    try:
        h = model.representation(x_rows)
        values = objective(model.head(h), h)
    finally:
        cap.remove()
    names = [name for name, _ in cap.layers]
    outs = [cap.outputs[name] for name in names]
    grads_out = torch.autograd.grad(values.sum(), outs, allow_unused=True)
    pieces = []
    for (name, layer), g in zip(cap.layers, grads_out):
        a = cap.inputs[name]
        if g is None:
            g = torch.zeros_like(cap.outputs[name])
        g = g.detach().reshape(k, n, -1)
        if isinstance(layer, nn.LayerNorm):
            ahat = nn.functional.layer_norm(a, layer.normalized_shape, eps=layer.eps).reshape(k, n, -1)
            pieces.append((name, layer, "ln", (g * ahat).sum(0), g.sum(0)))
        else:
            pieces.append((name, layer, "linear", (g, a.reshape(k, n, -1)),
                           g.sum(0) if layer.bias is not None else None))
    return pieces


def clipped_grad_sum_ghost(model: nn.Module, objective, x_rows: torch.Tensor, k: int, clip: float,
                           prefix: str = "") -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Clipped sum of per-unit gradients for units made of `k` row blocks.

    Args:
        model: a contract model whose parameters all sit in Linear/LayerNorm layers.
        objective: maps the model's (logits, representation) on `x_rows` to the per-unit
            objective values, shape (n,); rows are laid out as k blocks of n (block j, unit i
            is row j·n + i).
        x_rows: the stacked rows, shape (k·n, d).
        k: rows per unit.
        clip: clipping norm C.
        prefix: prepended to parameter names in the result (to match a wrapper's names).
    """
    n = x_rows.shape[0] // k
    pieces = _unit_pieces(model, objective, x_rows, k)
    norm2 = x_rows.new_zeros(n)
    for _, _, kind, w, gb in pieces:
        if kind == "ln":
            norm2 += w.square().sum(1) + gb.square().sum(1)
        else:
            g, a = w
            norm2 += (_pairwise(g) * _pairwise(a)).sum((1, 2))
            if gb is not None:
                norm2 += gb.square().sum(1)
    norms = norm2.clamp_min(0).sqrt()
    factor = torch.clamp(clip / (norms + 1e-12), max=1.0)
    out: dict[str, torch.Tensor] = {}
    for name, layer, kind, w, gb in pieces:
        p = f"{prefix}{name}." if name else prefix
        if kind == "ln":
            out[p + "weight"] = factor @ w
            out[p + "bias"] = factor @ gb
        else:
            g, a = w
            out[p + "weight"] = torch.einsum("kno,kni->oi", g * factor[None, :, None], a)
            if gb is not None:
                out[p + "bias"] = factor @ gb
    return out, norms


def unit_grads_ghost(model: nn.Module, objective, x_rows: torch.Tensor, k: int,
                     prefix: str = "") -> dict[str, torch.Tensor]:
    """Every unit's gradient, materialised: name -> (n, *parameter shape) (same layout as above).

    Used where the per-unit gradients themselves are needed (projection onto a public subspace,
    `fusiondp.train.projection`), not only their clipped sum; memory n × parameters.
    """
    out: dict[str, torch.Tensor] = {}
    for name, layer, kind, w, gb in _unit_pieces(model, objective, x_rows, k):
        p = f"{prefix}{name}." if name else prefix
        if kind == "ln":
            out[p + "weight"], out[p + "bias"] = w, gb
        else:
            g, a = w
            out[p + "weight"] = torch.einsum("kno,kni->noi", g, a)
            if gb is not None:
                out[p + "bias"] = gb
    return out
