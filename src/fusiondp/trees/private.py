"""The private term of the tree learner: clipped, noised difference histograms (docs/method.md §9).

At one level of one private tree, record i contributes to the histograms of the
original rows the vector c(x_i): (g_i, h_i) in cell (node of x_i, feature j,
bin of x_ij) for every released feature j, where g_i, h_i are the log-loss
gradient and hessian of the *current model evaluated on x_i*. The released
statistic is

    S = Σ_i c(x̃_i)                     (hybrid rows: public, noise-free)
      + Σ_i clip_C(c(x_i) − c(x̃_i))    (the difference term: private)
      + N(0, σ²C² I)                   (one draw per cell, g and h cells alike)

The difference d_i = c(x_i) − c(x̃_i) is zero when record i's true sensitive
values equal its imputed ones (then x_i = x̃_i, so routing, bins and the current
model's gradient all agree): that is the zero-out (`remove`) relation, with
L2 sensitivity C after clipping (2C under `replace`). d_i's norm is known in
closed form without building the vector: per released feature the two cells
coincide (same node and bin) or not, so

    ‖d_i‖² = Σ_j [same_ij] ((g_i − g̃_i)² + (h_i − h̃_i)²) + [not same_ij] (g_i² + h_i² + g̃_i² + h̃_i²).

Note that d_i is *not* confined to the sensitive features' histograms: the
current model's gradient at x_i differs from the one at x̃_i, so public-feature
cells differ by (g_i − g̃_i) too, and a sensitive split earlier in the tree can
route x_i and x̃_i to different nodes. The clip bounds the whole vector.

The `leaves` mechanism (the default when a labelled public support set is given) releases far less: the
tree's structure is grown on public rows, so only its leaf sums are private. Then c(x) has (g, h) in the
cell of the leaf x reaches, d_i has at most two non-zero cells, and one clipped, noised vector of
2 · leaves numbers is released per tree (`clipped_leaf_difference`).
"""

from __future__ import annotations

import numpy as np
import torch

from fusiondp.privacy.randomness import gaussian_like

from fusiondp.trees.booster import Tree, histograms


def record_norms(node: np.ndarray, node_h: np.ndarray, bins: np.ndarray, bins_h: np.ndarray,
                 g: np.ndarray, h: np.ndarray, gh: np.ndarray, hh: np.ndarray) -> np.ndarray:
    """‖d_i‖ of every record's difference vector over the released features' cells (closed form above)."""
    same = ((bins == bins_h) & (node == node_h)[:, None]).sum(axis=1)
    f = bins.shape[1]
    a = (g - gh) ** 2 + (h - hh) ** 2
    b = g * g + h * h + gh * gh + hh * hh
    return np.sqrt(np.maximum(a * same + b * (f - same), 0.0))


def clipped_difference(tree: Tree, level: int, bins: np.ndarray, bins_h: np.ndarray, cols: np.ndarray,
                       n_bins: int, g: np.ndarray, h: np.ndarray, gh: np.ndarray, hh: np.ndarray,
                       clip: float) -> tuple[np.ndarray, np.ndarray]:
    """Σ_i clip_C(c(x_i) − c(x̃_i)) at `level` of `tree`, as (G, H) arrays (nodes, len(cols), bins), no noise.

    `bins`/`bins_h` are the binned original/hybrid rows (all columns; routing uses all of them),
    `cols` the released features. Rows identical in both views have d_i = 0 and are skipped (exactly).
    """
    n_nodes = 2 ** level
    differ = np.flatnonzero((bins != bins_h).any(axis=1) | (g != gh) | (h != hh))
    shape = (n_nodes, len(cols), n_bins)
    if len(differ) == 0:
        return np.zeros(shape), np.zeros(shape)
    b, bh = bins[differ], bins_h[differ]
    node, node_h = tree.route(b, level), tree.route(bh, level)
    gi, hi, ghi, hhi = g[differ], h[differ], gh[differ], hh[differ]
    norms = record_norms(node, node_h, b[:, cols], bh[:, cols], gi, hi, ghi, hhi)
    scale = np.minimum(1.0, clip / np.maximum(norms, 1e-300))
    Go, Ho = histograms(b[:, cols], node, n_nodes, n_bins, scale * gi, scale * hi)
    Gh, Hh = histograms(bh[:, cols], node_h, n_nodes, n_bins, scale * ghi, scale * hhi)
    return Go - Gh, Ho - Hh  # nothing else leaves: how many records were clipped is private


def leaf_norms(leaf: np.ndarray, leaf_h: np.ndarray, g: np.ndarray, h: np.ndarray, gh: np.ndarray,
               hh: np.ndarray) -> np.ndarray:
    """‖d_i‖ of every record's difference vector over a tree's leaf cells (the `leaves` mechanism, §9).

    c(x) holds (g, h) in the cell of the leaf x reaches, so d_i = c(x_i) − c(x̃_i) has two non-zero
    cells when x_i and x̃_i reach different leaves, one when they reach the same leaf.
    """
    same = leaf == leaf_h
    return np.sqrt(np.where(same, (g - gh) ** 2 + (h - hh) ** 2, g * g + h * h + gh * gh + hh * hh))


def clipped_leaf_difference(leaf: np.ndarray, leaf_h: np.ndarray, n_leaves: int, g: np.ndarray, h: np.ndarray,
                            gh: np.ndarray, hh: np.ndarray, clip: float) -> tuple[np.ndarray, np.ndarray]:
    """Σ_i clip_C(c(x_i) − c(x̃_i)) over a tree's leaves, as (G, H) arrays of length `n_leaves`, no noise.

    `leaf`/`leaf_h`: the leaf each original/hybrid row reaches in a tree whose structure is public;
    g, h / gh, hh: the current model's log-loss gradient and hessian at the original/hybrid rows.
    """
    scale = np.minimum(1.0, clip / np.maximum(leaf_norms(leaf, leaf_h, g, h, gh, hh), 1e-300))
    G = np.bincount(leaf, scale * g, n_leaves) - np.bincount(leaf_h, scale * gh, n_leaves)
    H = np.bincount(leaf, scale * h, n_leaves) - np.bincount(leaf_h, scale * hh, n_leaves)
    return G, H


def clipped_joint_leaf_difference(leaf: np.ndarray, leaf_h: np.ndarray, n_leaves: int, g: np.ndarray,
                                  h: np.ndarray, gh: np.ndarray, hh: np.ndarray,
                                  clip: float) -> tuple[np.ndarray, np.ndarray]:
    """Σ_i clip_C(c(x_i) − c(x̃_i)) over the leaves of one multiclass round's K trees, as (G, H) arrays of
    shape (K, n_leaves), no noise (docs/method.md §9, "Multiclass targets").

    Column k of every (rows, K) argument belongs to class k's tree: `leaf`/`leaf_h` the leaf the original /
    hybrid row reaches in it, g, h / gh, hh the softmax gradient and hessian of class k at those rows. A
    record's difference vector spans all K trees' (g, h) leaf cells (at most two non-zero cells per tree), so
    its norm is the root of the per-tree `leaf_norms` squared, and it is clipped *jointly* to C: one record
    moves the whole round's 2·K·n_leaves numbers by at most C (`remove`), one Gaussian release per round.
    """
    k = leaf.shape[1]
    norms = np.sqrt(sum(leaf_norms(leaf[:, j], leaf_h[:, j], g[:, j], h[:, j], gh[:, j], hh[:, j]) ** 2
                        for j in range(k)))
    scale = np.minimum(1.0, clip / np.maximum(norms, 1e-300))
    G = np.stack([np.bincount(leaf[:, j], scale * g[:, j], n_leaves)
                  - np.bincount(leaf_h[:, j], scale * gh[:, j], n_leaves) for j in range(k)])
    H = np.stack([np.bincount(leaf[:, j], scale * h[:, j], n_leaves)
                  - np.bincount(leaf_h[:, j], scale * hh[:, j], n_leaves) for j in range(k)])
    return G, H


def gaussian_noise(shape: tuple[int, ...], std: float, generator) -> np.ndarray:
    """N(0, std²) per cell from the run's secret source (`fusiondp.privacy.randomness`: the OS CSPRNG or an
    OS-seeded generator); zeros if std = 0."""
    if std == 0 or generator is None:
        return np.zeros(shape)
    return (gaussian_like(shape, torch.float64, generator) * std).numpy()
