"""Never below the free baseline (issue 25, item 2): the tree learner's safe private leaves and its release guard.

Two parts, both post-processing of released or public quantities (docs/method.md §9, "Never below the free
baseline"), so neither costs ε nor reads a private value:

* **Shrunk private leaves** (`leaf_values`). A private tree's released leaf sums are S = hybrid sums (public,
  exact) + Σ clip_C(d_i) + N(0, σ²C²). Their private part D = S − hybrid sums is the noisy estimate of the
  correction Σ d_i, whose value under "the imputation is exact" is 0. The leaf values use the positive-part
  James–Stein estimate of D (shrunk towards 0 by how much of ‖D‖² the known noise variance σ²C² explains),
  so a tree whose release is mostly noise gets (nearly) the leaf values the hybrid rows alone give: the
  weaker the signal against the noise, the closer the private stage stays to a public model (hybrid rows'
  gradients, structures from the support set). Everything it reads is the release, the hybrid rows' sums
  and σC (public).
* **The release guard** (`private_prefix`, `tree_release_guard`): how many private trees to keep (least
  support log-loss, 0 = the tree public stage), then whether the network's free baseline `sgd_hybrid` beats
  the trees on support AUROC, the criterion the network learner's guard uses (`fusiondp.tune.baseline.
  release_guard`, reused). The private trees' splits are grown on the support rows, so their support
  log-loss is in-sample for the splits (optimistic); the shrinkage keeps a wrongly kept prefix close to a
  public model, and `significant_gain` releases the public stage unless the prefix's gain over it exceeds
  ``guard_z`` standard errors (docs/method.md §9, the caveat of the leaf mechanism).
"""

from __future__ import annotations

import numpy as np

from fusiondp.errors import ConfigError


def james_stein(d: np.ndarray, var: float) -> np.ndarray:
    """Positive-part James–Stein estimate of a mean vector from one draw ``d ~ N(mean, var·I)``, shrunk to 0.

    ``max(0, 1 − (k − 2)·var / ‖d‖²) · d`` for k ≥ 3 coordinates; with fewer, the positive-part
    shrinkage ``max(0, 1 − var / ‖d‖²)`` per vector (no dominance result there, the same direction of
    safety). var = 0 returns d unchanged.
    """
    if var <= 0:
        return d
    k = d.size
    ss = float(np.sum(d * d))
    if ss <= 0:
        return np.zeros_like(d)
    c = (k - 2) if k >= 3 else 1
    return max(0.0, 1.0 - c * var / ss) * d


def leaf_values(G: np.ndarray, H: np.ndarray, G_pub: np.ndarray, H_pub: np.ndarray, std: float, *, l2: float,
                max_leaf: float, min_leaf_h: float, shrinkage: str) -> np.ndarray:
    """Leaf values of one private tree from its released sums (G, H) and the hybrid rows' sums (G_pub, H_pub).

    ``shrinkage='none'``: the Newton step −G/(H + λ) of the release; ``'james_stein'``: the release's private
    parts G − G_pub and H − H_pub shrunk by `james_stein` with the noise variance std² first. Capped at
    ±max_leaf; a leaf whose (estimated) hessian sum is below `min_leaf_h` gets 0. Post-processing only.
    """
    if shrinkage == "james_stein":
        G = G_pub + james_stein(G - G_pub, std * std)
        H = H_pub + james_stein(H - H_pub, std * std)
    elif shrinkage != "none":
        raise ConfigError(f"Unknown tree private_shrinkage {shrinkage!r}; choose 'james_stein' or 'none'.")
    value = np.clip(-G / (np.maximum(H, 0.0) + l2), -max_leaf, max_leaf)
    return np.where(H >= min_leaf_h, value, 0.0)


def private_prefix(support_losses: list[float]) -> int:
    """How many private trees to keep: the prefix (0 = the public model) with the least support log-loss.

    `support_losses[k]` is the labelled public support set's log-loss of the public model plus the first k
    private trees (released values, public rows): choosing on it is post-processing. Ties go to the shorter
    prefix, so a prefix of trees that change nothing is not kept.
    """
    return int(np.argmin(np.asarray(support_losses)))


def significant_gain(public_losses: np.ndarray, private_losses: np.ndarray, z: float) -> bool:
    """Whether the private prefix's support log-loss gain over the public stage is more than noise.

    One-sided paired test on the support rows' per-row log-losses: mean(public − private) > z · sd / √n.
    The prefix was chosen (and its splits grown) on the same rows, so a bare "lower loss" is optimistic;
    requiring the gain to exceed z standard errors keeps a marginal private correction from replacing the
    free public stage (``guard_z`` in the tree settings; 0 turns the test off). Public rows only: no ε.

    >>> significant_gain(np.array([1.0, 1.0, 1.0, 1.0]), np.array([0.5, 0.5, 0.5, 0.5]), 2.0)
    True
    >>> significant_gain(np.array([1.0, 0.2, 1.0, 0.2]), np.array([0.2, 1.0, 0.3, 0.8]), 2.0)
    False
    """
    d = np.asarray(public_losses, float) - np.asarray(private_losses, float)
    if z <= 0:
        return bool(d.mean() > 0)
    if len(d) < 2:
        return False
    se = float(d.std(ddof=1)) / np.sqrt(len(d))
    return bool(d.mean() > z * se)


def tree_release_guard(result, data, support: tuple[np.ndarray, np.ndarray], *, baseline=None):
    """Release the better of the tree release and the network's free baseline `sgd_hybrid` on the support set.

    The tree release is already the better (support log-loss) of the tree public stage and its private
    prefixes (`fusiondp.trees.learner.fit_trees`); this adds the MLP trained on the hybrid rows and labels
    (public) as the third candidate, judged as the network learner's guard judges (support AUROC;
    `fusiondp.tune.baseline.release_guard`, reused, not copied). Reads the released trees, the hybrid rows,
    the labels and the support set only: post-processing, no ε.

    Args:
        result: the tree run (`fit_trees`' `TrainResult`).
        data: the run's training views; only the hybrid view and the labels are read.
        support: the encoded support rows and their labels (NumPy).
        baseline: an already trained `sgd_hybrid` for this data and seed (benchmarks reuse one across ε).

    Returns:
        ``(released, section, baseline)`` as `release_guard` returns them.
    """
    from fusiondp.pipeline import support_tensors
    from fusiondp.tune.baseline import release_guard

    return release_guard(result, data, support_tensors(*support), baseline=baseline)
