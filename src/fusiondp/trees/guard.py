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


def auroc_difference_se(y: np.ndarray, a: np.ndarray, b: np.ndarray, seed: int, draws: int = 200) -> float:
    """Bootstrap standard error of AUROC(b) − AUROC(a), both scored on the same rows (paired).

    The rows are resampled with replacement `draws` times from a public stream of the run's public `seed`
    (`fusiondp._seeds`, ``tree_guard_bootstrap``); resamples holding one class only are skipped. The rows
    are the labelled public support set: no ε.

    >>> y = np.array([0, 1] * 50); s = np.linspace(0, 1, 100)
    >>> auroc_difference_se(y, s, s, seed=0)
    0.0
    """
    from sklearn.metrics import roc_auc_score

    from fusiondp._seeds import stream

    rng, diffs = stream(seed, "tree_guard_bootstrap"), []
    for _ in range(draws):
        i = rng.integers(0, len(y), len(y))
        if 0 < y[i].sum() < len(i):
            diffs.append(roc_auc_score(y[i], b[i]) - roc_auc_score(y[i], a[i]))
    return float(np.std(diffs, ddof=1)) if len(diffs) > 1 else float("inf")


def lead_within_noise(y: np.ndarray, kept: np.ndarray, challenger: np.ndarray, lead: float, z: float,
                      seed: int) -> tuple[bool, float]:
    """Whether a challenger's support AUROC lead over the model it would replace is within `z` bootstrap standard
    errors of the paired difference (`auroc_difference_se`), so the kept model stays; also returns the SE.
    `kept`, `challenger`: both models' scores on the labelled support rows `y` (public). z <= 0: no bar."""
    if z <= 0:
        return False, float("nan")
    se = auroc_difference_se(y, kept, challenger, seed)
    return not lead > z * se, se


def guarded_prefix(losses: list[float], public_rows: np.ndarray, prefix_rows, *, whole_differs: bool,
                   z: float) -> tuple[int, bool, dict]:
    """The private stage's release choice on the guard rows, for the binary and the multiclass learner alike.

    `losses[k]` is the support log-loss of the start plus the first k private rounds, `public_rows` the per-row
    support log-losses of the whole selected public stage and `prefix_rows(k)` those of the start plus k rounds;
    `whole_differs` says the private stage started from fewer public trees than the whole stage. The prefix
    with the least loss is kept (`private_prefix`), unless the whole public stage is at least as good or the
    prefix's gain over it is not significant at `z` (`significant_gain`). Public rows and released trees only.

    Returns ``(k, whole, entry)``: the rounds kept, whether the whole public stage replaces the start, and the
    selection record's fields to update (``trees_kept`` counts rounds here; the caller scales it).
    """
    k, entry = private_prefix(losses), {}
    if whole_differs:  # started from fewer public trees: the whole stage competes too
        whole = float(np.mean(public_rows))
        entry["support_log_loss_whole_public_stage"] = whole
        if whole <= losses[k]:
            return 0, True, {**entry, "support_log_loss": whole, "trees_kept": 0}
    if k > 0 and z > 0 and not significant_gain(public_rows, prefix_rows(k), z):
        return 0, True, {**entry, "support_log_loss": float(np.mean(public_rows)), "trees_kept": 0,
                         "guard_test": "gain not significant"}
    return k, False, entry


def tree_release_guard(result, data, support: tuple[np.ndarray, np.ndarray], *, baseline=None,
                       z: float | None = None):
    """Release the tree release unless the network's free baseline `sgd_hybrid` is clearly better on the support set.

    The tree release is already the better (support log-loss) of the tree public stage and its private
    prefixes (`fusiondp.trees.learner.fit_trees`); this adds the MLP trained on the hybrid rows and labels
    (public) as the third candidate, judged on support AUROC as the network learner's guard judges
    (`fusiondp.tune.baseline.release_guard`, reused, not copied), with one bar: `sgd_hybrid` replaces the
    trees only if its AUROC lead exceeds `z` bootstrap standard errors of the paired difference
    (`auroc_difference_se`; `z` is the trees' ``guard_z``, default from ``defaults.json``). On a small
    support set a bare "higher AUROC" is mostly noise, and the free model it would release was below the
    trees on every table measured (docs/results/defaults.md, round 6). Reads the released trees, the
    hybrid rows, the labels and the support set only: post-processing, no ε.

    Args:
        result: the tree run (`fit_trees`' `TrainResult`).
        data: the run's training views; only the hybrid view and the labels are read.
        support: the encoded support rows and their labels (NumPy).
        baseline: an already trained `sgd_hybrid` for this data and seed (benchmarks reuse one across ε).
        z: the bar in standard errors (0: the higher support AUROC wins, as for the network learner).

    Returns:
        ``(released, section, baseline)`` as `release_guard` returns them; ``section["bar"]`` records the
        bar, the standard error and whether it kept the trees.
    """
    from fusiondp.evaluate.metrics import predict_scores
    from fusiondp.pipeline import support_tensors
    from fusiondp.trees.settings import tree_defaults
    from fusiondp.tune.baseline import BASELINE, release_guard

    z = float(tree_defaults()["private_leaves"].get("guard_z", 0.0) if z is None else z)
    x, y = support_tensors(*support)
    released, section, base = release_guard(result, data, (x, y), baseline=baseline)
    if section.get("released") != BASELINE or base is None or z <= 0:
        return released, section, base
    if section.get("metric") != "auroc":  # multiclass targets: judged on macro-F1 as the network's guard does
        section["bar"] = {"z": z, "kept_trees": False, "rule": "not applied: the bar bootstraps the binary AUROC"}
        return released, section, base
    lead = section["baseline_score"] - section["private_score"]
    kept, se = lead_within_noise(y.numpy().astype(int), predict_scores(result.model, x),
                                 predict_scores(base.model, x), lead, z, result.config.seed)
    section["bar"] = {"z": z, "auroc_lead": lead, "bootstrap_se": se, "kept_trees": kept,
                      "rule": f"sgd_hybrid replaces the trees only if its support AUROC lead exceeds {z:g} "
                              "bootstrap standard errors (paired, public rows, public seed)"}
    if kept:
        section["released"] = "private"
        return result, section, base
    return released, section, base
