"""The leaf mechanism's private rounds: public structures, private leaf sums (docs/method.md §9).

Each private tree's structure is grown on the labelled public support set (under the released model) and
only its leaf sums are released. Round 3 grew one structure per round on every support row and column; its
limit was the structures (the release was as good without noise as with it). Each
round now grows `structure_candidates` = K candidate structures on the support set, each from a public random
subsample of the support rows and of the columns (`structure_row_fraction`, `structure_col_fraction`; the
subsamples come from the public stream ``tree_structures`` of the run's seed: they read public rows only), and
releases every candidate's leaf sums:

    S_k = Σ_i c_k(x̃_i) + Σ_i clip_C(c_k(x_i) − c_k(x̃_i)) + N(0, σ²C² I_{2L}),   k = 1 … K,

one Gaussian release of sensitivity C per candidate (`fusiondp.trees.private.clipped_leaf_difference`), so
a round is K releases and the run `private_rounds · K` (the accountant composes them; `releases_per_round`).
The candidate kept is the one whose released sums promise the largest loss decrease, Σ_l G_l²/(H_l + λ)
over its leaves with released H_l ≥ the noise floor: a function of the releases only (post-processing), so
the choice costs nothing beyond the K releases. The private rows thus pick which structure is used, which a
single support-grown structure cannot do, while no split is ever computed from a private value.
"""

from __future__ import annotations

import numpy as np

from fusiondp._seeds import stream
from fusiondp.trees.booster import (GrowParams, OneHotBins, SubtractingHistograms, Tree, add_trees, grow,
                                    logistic_grad)
from fusiondp.trees.guard import leaf_values
from fusiondp.trees.private import clipped_leaf_difference, gaussian_noise


def _subsample(gen: np.random.Generator, n: int, fraction: float, at_least: int = 1) -> np.ndarray:
    """Sorted indices of a public random subsample (without replacement) of `fraction` of `n`."""
    if fraction >= 1:
        return np.arange(n)
    return np.sort(gen.choice(n, size=max(at_least, int(round(fraction * n))), replace=False))


def released_gain(G: np.ndarray, H: np.ndarray, l2: float, min_h: float) -> float:
    """Σ_l G_l²/(H_l + λ) over leaves whose released H_l ≥ `min_h`: the loss decrease a tree's released leaf
    sums promise (twice the Newton step's), read from the release alone."""
    ok = H >= min_h
    return float(np.sum(np.where(ok, G * G / (np.maximum(H, 0.0) + l2), 0.0)))


def candidate_leaf_rounds(s, released: list, base: float, b_o: np.ndarray, b_h: np.ndarray, b_s: np.ndarray,
                          y: np.ndarray, y_sup: np.ndarray, m_o: np.ndarray, m_h: np.ndarray, cols: np.ndarray,
                          std: float, rng, seed: int) -> list[tuple[Tree, float]]:
    """Private trees whose structure is the best (by released gain) of K support-grown candidates.

    Same arguments as the leaf mechanism's rounds, plus the run's public `seed` (the candidates' row and
    column subsamples of the public support set). `m_o`/`m_h` (margins at the original/hybrid rows) are
    updated in place. Each candidate's leaf sums are one Gaussian release (noise std `std` = σC).
    """
    depth, n_leaves = s.private_depth, 2 ** s.private_depth
    sp = GrowParams(l2=s.l2, min_hessian=s.structure_min_hessian, max_leaf=s.max_leaf)
    min_leaf_h = s.private_min_hessian_times_noise * std
    gen = stream(seed, "tree_structures")  # public randomness: subsamples of public rows and columns
    m_s = add_trees(np.full(len(y_sup), base), released, b_s)
    full_onehot = OneHotBins(b_s[:, cols], s.bins)
    priv_trees = []
    for _ in range(s.private_rounds):
        gs, hs = logistic_grad(m_s, y_sup)  # public rows, public labels, released model
        g, h = logistic_grad(m_o, y)        # private: model at the original rows
        gh, hh = logistic_grad(m_h, y)      # public: model at the hybrid rows
        best = None
        for _k in range(s.structure_candidates):
            rows = _subsample(gen, len(y_sup), s.structure_row_fraction, at_least=2)
            ccols = cols[_subsample(gen, len(cols), s.structure_col_fraction)]
            whole = len(rows) == len(y_sup) and len(ccols) == len(cols)
            stats = SubtractingHistograms(b_s[rows], s.bins, gs[rows], hs[rows], ccols,
                                          full_onehot if whole else None)
            tree = grow(stats, depth, s.bins, ccols, sp)
            leaf, leaf_h = tree.route(b_o, depth), tree.route(b_h, depth)
            Gd, Hd = clipped_leaf_difference(leaf, leaf_h, n_leaves, g, h, gh, hh, s.clip)
            G_pub, H_pub = np.bincount(leaf_h, gh, n_leaves), np.bincount(leaf_h, hh, n_leaves)
            G = G_pub + Gd + gaussian_noise((n_leaves,), std, rng.noise)
            H = H_pub + Hd + gaussian_noise((n_leaves,), std, rng.noise)
            gain = released_gain(G, H, s.l2, min_leaf_h)
            if best is None or gain > best[0]:
                best = (gain, tree, G, H, G_pub, H_pub, leaf, leaf_h)
        _, tree, G, H, G_pub, H_pub, leaf, leaf_h = best
        tree.leaf = leaf_values(G, H, G_pub, H_pub, std, l2=s.l2, max_leaf=s.max_leaf, min_leaf_h=min_leaf_h,
                                shrinkage=s.private_shrinkage)  # post-processing of the release, as the leaf mechanism
        priv_trees.append((tree, s.private_lr))
        m_o += s.private_lr * tree.leaf[leaf]
        m_h += s.private_lr * tree.leaf[leaf_h]
        m_s += s.private_lr * tree.predict(b_s)
    return priv_trees
