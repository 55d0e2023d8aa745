"""Projection of the private term onto a subspace estimated from public rows (a lever beyond the paper).

After GEP (Yu, Zhang, Chen, Yin, Liu: "Do Not Let Privacy Overbill Utility: Gradient Embedding
Perturbation for Private Learning", ICLR 2021): per-sample gradients concentrate in a low-dimensional
subspace, and noise added in a rank-k subspace has total energy σ²C²·k instead of σ²C²·P (P parameters).

The variant here (`TrainConfig.projection_rank` = k):

1. every :data:`REFRESH_STEPS` steps, a basis V (P × k, orthonormal columns) is estimated from the
   per-sample gradients of the method's *own private term* on public stand-in records: the reference
   view (hybrid rows whose sensitive part comes from another random hybrid row) paired with the
   method's public view of the same rows (hybrid or noise). These pairs change only the sensitive
   columns, like the private pairs (x_i, x̃_i), and read nothing but public tables. V = top-k right
   singular vectors of that (rows × P) gradient matrix;
2. each private record's gradient u_i is replaced by its coordinates c_i = Vᵀu_i (k numbers), clipped
   to norm C in the subspace: c̄_i = c_i·min(1, C/‖c_i‖);
3. one Gaussian draw N(0, σ²C² I_k) from the run's secret noise generator is added to Σ c̄_i;
4. the noised coordinates are mapped back, V(Σ c̄_i + z), and the step continues as usual.

Privacy: V is computed from public rows and the current weights (themselves post-processing of earlier
noised steps), so it is the same on neighbouring datasets; changing one record's sensitive values moves
Σ c̄_i by at most C (remove) or 2C (replace), exactly the sensitivity of the unprojected mechanism, and the
noise per coordinate is still σC. The accounting is therefore unchanged. The residual u_i − VVᵀu_i is
dropped (GEP's simplest valid variant; GEP proper noises the residual separately with part of the
budget): what the subspace misses is lost, which is the bias this lever trades for less noise.

A run resumed from a checkpoint estimates a fresh basis at its first step (the weights of the last
refresh are not stored), so it follows the uninterrupted run only approximately; ε is unaffected.
Not supported in a process group (each rank holds only a shard of the public batch).
"""

from __future__ import annotations

import math

import torch

from fusiondp.privacy.randomness import gaussian_like

#: Steps between two estimates of the basis (the weights move little in ten steps; an estimate costs
#: about as much as a private step).
REFRESH_STEPS = 10
#: Public stand-in records per estimate: at least this many, and at least twice the rank.
BASIS_ROWS = 256


def basis_rows(rank: int) -> int:
    """How many public stand-in records an estimate of a rank-`rank` basis uses."""
    return max(BASIS_ROWS, 2 * rank)


def flatten(grads: dict[str, torch.Tensor], names: list[str]) -> torch.Tensor:
    """Per-sample gradients name -> (n, *shape) as one (n, P) matrix, parameters in `names` order."""
    return torch.cat([grads[k].reshape(grads[k].shape[0], math.prod(grads[k].shape[1:])) for k in names], dim=1)


def unflatten(vec: torch.Tensor, like: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A (P,) vector back into tensors shaped like `like` (same order as `flatten`)."""
    out, i = {}, 0
    for k, p in like.items():
        out[k] = vec[i:i + p.numel()].reshape(p.shape)
        i += p.numel()
    return out


def estimate_basis(grads: torch.Tensor, rank: int) -> torch.Tensor:
    """Top right singular vectors of a (rows × P) gradient matrix: (P, k) with orthonormal columns.

    k = min(rank, rows, P), fewer if the matrix has lower numerical rank. Computed from the rows' Gram
    matrix in float64 (rows ≪ P), so it is deterministic and draws no random number.
    """
    g = grads.detach().to(torch.float64)
    gram = g @ g.T
    evals, evecs = torch.linalg.eigh(gram)  # ascending
    evals, evecs = evals.flip(0), evecs.flip(1)
    keep = evals > evals[0].clamp_min(0) * 1e-10 if evals.numel() else evals > 0
    k = min(rank, int(keep.sum()))
    if k == 0:
        return grads.new_zeros((grads.shape[1], 0))
    v = g.T @ (evecs[:, :k] / evals[:k].sqrt())
    v, _ = torch.linalg.qr(v)  # re-orthonormalise (rounding)
    return v.to(grads.dtype)


def projected_noised_sum(grads: dict[str, torch.Tensor], params: dict[str, torch.Tensor], basis: torch.Tensor,
                         clip: float, std: float, generator: torch.Generator | None
                         ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """V(Σ_i clip(Vᵀu_i, C) + N(0, std² I_k)), shaped like `params`, and the subspace norms ‖Vᵀu_i‖.

    `grads` holds the per-sample gradients u_i (name -> (n, *shape)); `basis` is V (P × k) in the order
    of `params`. No noise when `generator` is None (a non-zero rank of a process group) or std is 0.
    """
    g = flatten(grads, list(params))
    coords = g @ basis.to(g.dtype)
    norms = coords.norm(dim=1)
    factor = torch.clamp(clip / (norms + 1e-12), max=1.0)
    summed = factor @ coords
    if generator is not None and std > 0:
        summed = summed + std * gaussian_like(summed.shape, summed.dtype, generator).to(summed.device)
    return unflatten(basis @ summed, params), norms
