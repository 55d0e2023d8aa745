"""Fit the tree learner: public stage on hybrid rows, private correction rounds, public-support selection.

docs/method.md §9, gives the algorithm and its privacy argument; in short (binary target; K ≥ 3 classes:
the same stages with rounds of K class trees and one jointly clipped release per round,
`fusiondp.trees.multiclass`):

1. bins from public rows (public columns: hybrid ∪ support; sensitive columns: the support set's true values;
   `fusiondp.trees.binning`);
2. public stage (ε = 0): histogram gradient boosting on the hybrid rows, which are public;
3. private stage: `private_rounds` more trees, started from the public model. With a labelled support set
   (the default mechanism, ``private_structure='support'``) each tree's splits are grown on the support rows
   and only its leaf sums are released: hybrid sums + a clipped, noised difference term, one Gaussian release
   with L2 sensitivity C per tree (`fusiondp.trees.private.clipped_leaf_difference`). Without support labels
   (``'histograms'``) every level of every tree is one release of noised difference histograms. Either way
   the run is a composition of Gaussian mechanisms (sampling rate 1: every release uses all records),
   accounted by dp-accounting (`fusiondp.privacy.accounting`);
4. never below the free baseline: the private leaf sums' private part is shrunk towards 0 by its known
   noise (`fusiondp.trees.guard.leaf_values`); with a labelled public support set, the number of public
   trees and then the number of private trees kept (0 … private_rounds, 0 = the public model itself) are
   chosen by the support set's log-loss (`fusiondp.trees.guard.private_prefix`; the pipeline then also weighs
   the network's `sgd_hybrid`, `fusiondp.trees.guard.tree_release_guard`). The support set is public and
   disjoint from the training rows, and the candidates are released-or-public models, so the choice costs
   no ε and never reads a private value.
"""

from __future__ import annotations

import time

import numpy as np

from fusiondp._seeds import stream
from fusiondp.errors import ConfigError
from fusiondp.privacy.accounting import plan as accounting_plan
from fusiondp.privacy.randomness import private_randomness
from fusiondp.train.config import TrainConfig
from fusiondp.train.engine import TrainData, TrainResult
from fusiondp.train.methods import MethodSpec
from fusiondp.trees.binning import Bins
from fusiondp.trees.booster import (GrowParams, OneHotBins, SubtractingHistograms, Tree, add_trees, grow, histograms,
                                    log_loss, logistic_grad, row_log_loss)
from fusiondp.trees.guard import guarded_prefix
from fusiondp.trees.model import TreeEnsembleModel
from fusiondp.trees.private import clipped_difference, gaussian_noise
from fusiondp.trees.settings import auto_tree_settings
from fusiondp.trees.structures import candidate_leaf_rounds

#: The tree learner's methods (the MLP engine's registry, `fusiondp.train.methods.METHODS`, is not shared:
#: those rows describe gradient steps of a network).
TREE_METHODS: dict[str, MethodSpec] = {
    "fusiondp_trees": MethodSpec(
        "fusiondp_trees", "hybrid", "diff", "hybrid", level="feature",
        summary="feature-level DP gradient-boosted trees: public boosting on hybrid rows, then correction trees "
                "from hybrid histograms + a clipped, noised per-record difference histogram"),
    "hybrid_trees": MethodSpec(
        "hybrid_trees", "hybrid", None, level="none",
        summary="gradient-boosted trees on the hybrid rows only (the tree learner's public stage, epsilon = 0)"),
}
#: `--method` names accepted with `--learner trees`, and the tree method each one means.
LEARNER_METHODS = {"fusiondp": "fusiondp_trees", "sgd_hybrid": "hybrid_trees",
                   "fusiondp_trees": "fusiondp_trees", "hybrid_trees": "hybrid_trees"}


def tree_method(method: str) -> MethodSpec:
    """The tree method for a `--method` name, or ConfigError listing what the tree learner accepts."""
    try:
        return TREE_METHODS[LEARNER_METHODS[method]]
    except KeyError:
        raise ConfigError(f"The tree learner runs methods {', '.join(LEARNER_METHODS)}; got {method!r}.",
                          hint="use --method fusiondp (private) or sgd_hybrid (the public stage alone)") from None


def _prefix_losses(margins0: np.ndarray, trees: list[tuple[Tree, float]], bins: np.ndarray,
                   y: np.ndarray) -> list[float]:
    """Log-loss after 0, 1, …, len(trees) trees (public rows only)."""
    m, out = margins0.copy(), [log_loss(margins0, y)]
    for t, lr in trees:
        m += lr * t.predict(bins)
        out.append(log_loss(m, y))
    return out


def private_stage_setup(spec, s, config: TrainConfig, sensitive_mask: np.ndarray, n_features: int):
    """What every private tree stage starts from: its accounting plan (``private_rounds`` Gaussian releases at
    sampling rate 1, σ calibrated to ε), the secret noise source, the noise std σC and the columns its trees
    may split on. Shared by the binary and the multiclass learner (one plan, one accounting)."""
    plan = accounting_plan(sample_rate=1.0, steps=s.private_rounds * s.releases_per_round, delta=config.delta,
                           relation=spec.relation(config.relation), accountant=config.accountant,
                           target_epsilon=config.epsilon, noise_multiplier=config.noise_multiplier)
    rng = private_randomness(config.insecure_noise_seed, csprng=config.secure_rng)
    cols = np.arange(n_features) if s.features == "all" else np.flatnonzero(sensitive_mask)
    if len(cols) == 0:
        raise ConfigError("features='sensitive' needs at least one sensitive column.")
    return plan, rng, plan.noise_multiplier * s.clip, cols


def _curve(losses: list[float]) -> list[float]:
    """A prefix log-loss curve as the report keeps it (6 decimals): public rows and released trees only."""
    return [round(float(v), 6) for v in losses]


def fit_trees(method: str, data: TrainData, sensitive_mask: np.ndarray, config: TrainConfig, *,
              support: tuple[np.ndarray, np.ndarray | None] | None = None, settings: dict | None = None,
              public_stage: dict | None = None) -> tuple[TrainResult, dict]:
    """Train `method` ('fusiondp'/'fusiondp_trees' or 'sgd_hybrid'/'hybrid_trees') on encoded rows.

    Args:
        data: encoded original rows (private), hybrid rows and labels (public), as the MLP engine gets them.
        sensitive_mask: which encoded columns belong to sensitive features.
        config: ε, δ, relation, accountant, noise_multiplier, insecure_noise_seed (tests) are read from it.
        support: encoded public support rows and their labels (None if unlabelled): bin edges and the
            public-support selection of item 2 (docs/method.md §9).
        settings: explicit tree settings (`TreeSettings` fields) over the defaults rule.
        public_stage: a cache dict reused across calls with the same public inputs (benchmarks): the public
            stage reads no private value, so it is the same for every seed and ε.
    """
    spec = tree_method(method)
    start = time.perf_counter()
    x, xh = data.x.numpy().astype(np.float64), data.x_hybrid.numpy().astype(np.float64)
    y = data.y.numpy().astype(np.float64)
    n, f = x.shape
    x_sup, y_sup = support if support is not None else (None, None)
    select = y_sup is not None and len(np.unique(y_sup)) >= 2  # labels 0 … K−1: at least two of them present
    s = auto_tree_settings(n, config.epsilon if spec.is_private else None, f, support_labels=select,
                           **(settings or {}))
    public_rows = xh if x_sup is None else np.vstack([xh, x_sup])
    bins = Bins.fit(public_rows, s.bins)
    sensitive_bins_from_support = x_sup is not None and bool(np.any(sensitive_mask)) and len(x_sup) >= s.bins
    if sensitive_bins_from_support:
        # Sensitive columns: edges from the support rows alone, whose values are true (and public); imputed
        # values crowd towards typical values and would waste the bins where the true tails carry signal.
        sens = Bins.fit(x_sup, s.bins)
        edges = bins.edges.copy()
        edges[np.asarray(sensitive_mask, bool)] = sens.edges[np.asarray(sensitive_mask, bool)]
        bins = Bins(edges, s.bins)
    b_o, b_h = bins.transform(x), bins.transform(xh)
    b_s = bins.transform(x_sup) if x_sup is not None else None
    bins_fitted_on = ("public columns: hybrid rows ∪ support set; sensitive columns: support set (public)"
                      if sensitive_bins_from_support else
                      "hybrid rows ∪ support set (public)" if x_sup is not None else "hybrid rows (public)")
    if data.n_classes > 2:  # softmax boosting, rounds of K trees (docs/method.md §9, "Multiclass targets")
        return _fit_multiclass(spec, data, sensitive_mask, config, s, bins, b_o, b_h, b_s, y_sup, select,
                               public_stage, start, bins_fitted_on)
    base = float(np.log(np.clip(y.mean(), 1e-6, 1 - 1e-6) / np.clip(1 - y.mean(), 1e-6, 1)))  # labels are public
    history: list[dict] = []

    # ---- public stage (ε = 0): ordinary histogram boosting on the hybrid rows
    key = (s.public_features, s.bins, s.public_depth, s.public_rounds, s.public_lr, s.public_min_hessian, s.l2,
           s.max_leaf)
    if public_stage is not None and public_stage.get("key") == key:
        pub_trees = public_stage["trees"]
    else:
        pp = GrowParams(l2=s.l2, min_hessian=s.public_min_hessian, max_leaf=s.max_leaf)
        pub_cols = np.arange(f) if s.public_features == "all" else np.flatnonzero(~sensitive_mask)
        m_h, pub_trees = np.full(n, base), []
        onehot = OneHotBins(b_h[:, pub_cols], s.bins)
        for _ in range(s.public_rounds):
            g, h = logistic_grad(m_h, y)
            tree = grow(SubtractingHistograms(b_h, s.bins, g, h, pub_cols, onehot), s.public_depth, s.bins,
                        pub_cols, pp)
            pub_trees.append((tree, s.public_lr))
            m_h += s.public_lr * tree.predict(b_h)
        if public_stage is not None:
            public_stage.update(key=key, trees=pub_trees)
    if select:
        losses = _prefix_losses(np.full(len(y_sup), base), pub_trees, b_s, y_sup)
        k_pub = int(np.argmin(losses))
        history.append({"stage": "public", "support_log_loss": losses[k_pub], "trees_kept": k_pub,
                        "trees_trained": len(pub_trees), "support_log_loss_by_trees": _curve(losses)})
    else:
        k_pub = len(pub_trees)
    released = list(pub_trees[:k_pub])
    full_public = released  # the public stage as selected: always a candidate of the guard

    # ---- private stage: correction trees; only their noised statistics read the original rows
    plan, secure, k_priv, priv_trees = None, True, 0, []
    if spec.is_private and s.private_rounds > 0:
        plan, rng, std, cols = private_stage_setup(spec, s, config, sensitive_mask, f)
        secure = rng.secure
        # the private stage starts from the first `private_start_trees` public trees (docs/method.md §9)
        released = released[:s.private_start_trees] if s.private_start_trees is not None else released
        m_o, m_h = add_trees(np.full(n, base), released, b_o), add_trees(np.full(n, base), released, b_h)
        if s.private_structure == "support":
            if not select:
                raise ConfigError("private_structure='support' needs a labelled public support set.",
                                  hint="give --support with the target column, or private_structure='histograms'")
            grow_rows, guard_rows = _split_support(y_sup, s.guard_fraction, config.seed)
            priv_trees = candidate_leaf_rounds(s, released, base, b_o, b_h, b_s[grow_rows], y, y_sup[grow_rows],
                                               m_o, m_h, cols, std, rng, config.seed)
        else:
            priv_trees = _histogram_rounds(s, b_o, b_h, y, m_o, m_h, cols, std, rng)
            guard_rows = np.arange(len(y_sup)) if select else None
        if select:
            # the private prefix is chosen on the guard rows: every support row by default (then in-sample for
            # the leaf mechanism's splits), or the rows held out by `guard_fraction`
            bg, yg = b_s[guard_rows], y_sup[guard_rows]
            m0 = add_trees(np.full(len(yg), base), released, bg)  # where the private trees start
            losses = _prefix_losses(m0, priv_trees, bg, yg)
            # the whole public stage (= the start unless the private stage started from fewer public trees)
            m_pub = m0 if len(released) == len(full_public) else add_trees(np.full(len(yg), base), full_public, bg)
            k_priv, whole, update = guarded_prefix(
                losses, row_log_loss(m_pub, yg), lambda k: row_log_loss(add_trees(m0, priv_trees[:k], bg), yg),
                whole_differs=len(released) < len(full_public), z=s.guard_z)
            entry = {"stage": "private", "support_log_loss": losses[k_priv], "trees_kept": k_priv,
                     "trees_trained": len(priv_trees), "support_log_loss_public_model": losses[0],
                     "guard_rows": len(yg), "start_trees": len(released), "support_log_loss_by_trees": _curve(losses),
                     **update}
            released = full_public if whole else released
            history.append(entry)
        else:
            k_priv = len(priv_trees)
        released = released + priv_trees[:k_priv]

    model = TreeEnsembleModel(bins, released, base)
    seconds = time.perf_counter() - start
    result = TrainResult(model=model, method=spec, config=config, plan=plan,
                         epsilon=plan.spent() if plan else 0.0, steps=plan.steps if plan else 0, ch=None,
                         seconds=seconds, history=[], secure_randomness=secure)
    info = {"learner": "trees", "settings": s.to_dict(),
            "bins_fitted_on": bins_fitted_on,
            "public_trees": len(released) - k_priv, "public_trees_selected": k_pub,
            "private_trees_trained": len(priv_trees), "private_trees_released": k_priv,
            "releases": plan.steps if plan else 0,
            "selection": history,  # support-set (public) log-losses of the kept prefixes
            "noise_std": plan.noise_multiplier * s.clip if plan else None,
            "baseline_guard": ("public support set log-loss chooses the public trees kept and then the private "
                               "correction trees kept (0 = the public model); public data only, ε = 0"
                               if select else "not applied: no labelled public support set; every tree released")}
    return result, info


def _fit_multiclass(spec, data, sensitive_mask, config, s, bins, b_o, b_h, b_s, y_sup, select, public_stage,
                    start: float, bins_fitted_on: str) -> tuple[TrainResult, dict]:
    """`fit_trees` for K ≥ 3 classes (`fusiondp.trees.multiclass`), with the binary run's report fields."""
    import dataclasses

    from fusiondp.trees.multiclass import fit_multiclass

    result, counts, _, history = fit_multiclass(spec, data, sensitive_mask, config, s, bins, b_o, b_h, b_s, y_sup,
                                                select, public_stage)
    result = dataclasses.replace(result, seconds=time.perf_counter() - start)
    plan = result.plan
    info = {"learner": "trees", "settings": s.to_dict(), "bins_fitted_on": bins_fitted_on, **counts,
            "releases": plan.steps if plan else 0, "selection": history,
            "noise_std": plan.noise_multiplier * s.clip if plan else None,
            "baseline_guard": ("public support set multiclass log-loss chooses the public rounds kept and then the "
                               "private rounds kept (0 = the public model); public data only, ε = 0"
                               if select else "not applied: no labelled public support set; every tree released")}
    return result, info


def _split_support(y_sup: np.ndarray, guard_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Support rows that grow the private structures and rows held out for the guard (docs/method.md §9).

    A public permutation (the run's public `seed`; the support rows are public), stratified by label so both
    parts keep both classes. ``guard_fraction = 0`` uses every row for both (the guard is then in-sample).
    """
    if guard_fraction <= 0:
        rows = np.arange(len(y_sup))
        return rows, rows
    rng = stream(seed, "tree_guard_split")
    grow_rows, guard_rows = [], []
    for label in np.unique(y_sup):
        idx = rng.permutation(np.flatnonzero(y_sup == label))
        k = int(round(guard_fraction * len(idx)))
        guard_rows.append(idx[:k])
        grow_rows.append(idx[k:])
    return np.sort(np.concatenate(grow_rows)), np.sort(np.concatenate(guard_rows))


def _histogram_rounds(s, b_o: np.ndarray, b_h: np.ndarray, y: np.ndarray, m_o: np.ndarray, m_h: np.ndarray,
                      cols: np.ndarray, std: float, rng) -> list[tuple[Tree, float]]:
    """Private trees whose splits and leaves come from hybrid + clipped, noised difference histograms
    (one Gaussian release per level; docs/method.md §9). `m_o`/`m_h` are updated in place."""
    min_h = max(s.public_min_hessian, s.private_min_hessian_times_noise * std * np.sqrt(s.private_bins))
    gp = GrowParams(l2=s.l2, min_hessian=min_h, max_leaf=s.max_leaf)
    # Private histograms on coarser bins (`private_bins`): fewer cells under one cut, so less noise summed.
    k = max(1, s.bins // s.private_bins)
    nb = -(-s.bins // k)
    c_o, c_h = b_o // k, b_h // k
    priv_trees = []
    for _ in range(s.private_rounds):
        g, h = logistic_grad(m_o, y)     # private: model at the original rows
        gh, hh = logistic_grad(m_h, y)   # public: model at the hybrid rows

        def stats(tree: Tree, level: int) -> tuple[np.ndarray, np.ndarray]:
            Gp, Hp = histograms(c_h[:, cols], tree.route(c_h, level), 2 ** level, nb, gh, hh)
            Gd, Hd = clipped_difference(tree, level, c_o, c_h, cols, nb, g, h, gh, hh, s.clip)
            return (Gp + Gd + gaussian_noise(Gp.shape, std, rng.noise),
                    Hp + Hd + gaussian_noise(Hp.shape, std, rng.noise))

        tree = grow(stats, s.private_depth, nb, cols, gp)
        tree.threshold = np.minimum((tree.threshold + 1) * k - 1, s.bins - 1)  # coarse cut -> the same fine cut
        priv_trees.append((tree, s.private_lr))
        m_o += s.private_lr * tree.predict(b_o)
        m_h += s.private_lr * tree.predict(b_h)
    return priv_trees
