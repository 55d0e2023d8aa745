"""The tree learner for K ≥ 3 classes: softmax boosting, one tree per class per round (docs/method.md §9,
"Multiclass targets").

The stages are the binary learner's (`fusiondp.trees.learner`), with rounds of K trees in place of single
trees:

* public stage (ε = 0): each round grows class k's tree on the hybrid rows' softmax gradient and diagonal
  hessian of class k (`fusiondp.trees.booster.softmax_grad`);
* private stage (labelled public support set only): each round grows the K class trees' structures
  noise-free on the support rows (public row/column subsamples per tree, as the binary default), then
  releases their leaf sums together as ONE Gaussian mechanism: a record's difference vector over all K
  trees' (g, h) leaf cells is clipped jointly to C (`fusiondp.trees.private.clipped_joint_leaf_difference`),
  so the run is `private_rounds` Gaussian releases of sensitivity C at sampling rate 1, the same accounting
  plan as the binary leaf mechanism;
* each class tree's released sums are shrunk (James–Stein, `fusiondp.trees.guard.leaf_values`); the kept
  public and private round prefixes are chosen by the support set's multiclass log-loss, and ``guard_z``
  tests the per-row multiclass log-loss gain. All post-processing of released trees and public rows.

The noised-histogram structures (no support labels) are binary only: a multiclass private run without a
labelled support set is refused with a ConfigError.
"""

from __future__ import annotations

import numpy as np

from fusiondp._seeds import stream
from fusiondp.errors import ConfigError
from fusiondp.train.engine import TrainResult
from fusiondp.trees.booster import (GrowParams, OneHotBins, SubtractingHistograms, Tree, grow,
                                    row_softmax_log_loss, softmax_grad)
from fusiondp.trees.guard import guarded_prefix, leaf_values
from fusiondp.trees.model import TreeEnsembleModel
from fusiondp.trees.private import clipped_joint_leaf_difference, gaussian_noise
from fusiondp.trees.structures import _subsample

Round = list[tuple[Tree, float]]  # K (tree, learning rate) pairs, tree k for class k


def add_rounds(margins: np.ndarray, rounds: list[Round], bins: np.ndarray) -> np.ndarray:
    """A copy of the (rows, K) `margins` with every round's class trees added at the binned rows."""
    m = margins.copy()
    for r in rounds:
        for k, (t, lr) in enumerate(r):
            m[:, k] += lr * t.predict(bins)
    return m


def prefix_losses(margins0: np.ndarray, rounds: list[Round], bins: np.ndarray, y: np.ndarray) -> list[float]:
    """Mean multiclass log-loss after 0, 1, …, len(rounds) rounds (public rows only)."""
    m, out = margins0.copy(), [float(np.mean(row_softmax_log_loss(margins0, y)))]
    for r in rounds:
        m = add_rounds(m, [r], bins)
        out.append(float(np.mean(row_softmax_log_loss(m, y))))
    return out


def public_rounds(s, b_h: np.ndarray, y: np.ndarray, base: np.ndarray, cols: np.ndarray) -> list[Round]:
    """The public stage: `s.public_rounds` rounds of K trees on the hybrid rows (public, noise-free)."""
    pp = GrowParams(l2=s.l2, min_hessian=s.public_min_hessian, max_leaf=s.max_leaf)
    m_h = np.tile(base, (len(y), 1))
    onehot = OneHotBins(b_h[:, cols], s.bins)
    rounds = []
    for _ in range(s.public_rounds):
        g, h = softmax_grad(m_h, y)
        trees = [grow(SubtractingHistograms(b_h, s.bins, g[:, k], h[:, k], cols, onehot), s.public_depth,
                      s.bins, cols, pp) for k in range(len(base))]
        rounds.append([(t, s.public_lr) for t in trees])
        m_h = add_rounds(m_h, rounds[-1:], b_h)
    return rounds


def private_rounds(s, released: list[Round], base: np.ndarray, b_o: np.ndarray, b_h: np.ndarray,
                   b_s: np.ndarray, y: np.ndarray, y_sup: np.ndarray, cols: np.ndarray, std: float, rng,
                   seed: int) -> list[Round]:
    """`s.private_rounds` private rounds: K support-grown structures, one joint Gaussian release of their leaf
    sums (noise std `std` = σC on each of the 2·K·leaves numbers), shrunk leaf values per class tree."""
    depth, n_leaves, k_classes = s.private_depth, 2 ** s.private_depth, len(base)
    sp = GrowParams(l2=s.l2, min_hessian=s.structure_min_hessian, max_leaf=s.max_leaf)
    min_leaf_h = s.private_min_hessian_times_noise * std
    gen = stream(seed, "tree_structures")  # public randomness: subsamples of public rows and columns
    start = np.tile(base, (len(y), 1))
    m_o, m_h = add_rounds(start, released, b_o), add_rounds(start, released, b_h)
    m_s = add_rounds(np.tile(base, (len(y_sup), 1)), released, b_s)
    full_onehot = OneHotBins(b_s[:, cols], s.bins)
    out = []
    for _ in range(s.private_rounds):
        gs, hs = softmax_grad(m_s, y_sup)  # public rows, public labels, released model
        g, h = softmax_grad(m_o, y)        # private: model at the original rows
        gh, hh = softmax_grad(m_h, y)      # public: model at the hybrid rows
        trees = []
        leaf = np.empty((len(y), k_classes), np.int64)
        leaf_h = np.empty_like(leaf)
        for k in range(k_classes):  # structures: public rows only, no release
            rows = _subsample(gen, len(y_sup), s.structure_row_fraction, at_least=2)
            ccols = cols[_subsample(gen, len(cols), s.structure_col_fraction)]
            whole = len(rows) == len(y_sup) and len(ccols) == len(cols)
            stats = SubtractingHistograms(b_s[rows], s.bins, gs[rows, k], hs[rows, k], ccols,
                                          full_onehot if whole else None)
            trees.append(grow(stats, depth, s.bins, ccols, sp))
            leaf[:, k], leaf_h[:, k] = trees[-1].route(b_o, depth), trees[-1].route(b_h, depth)
        # the round's one release: every class tree's leaf sums, clipped jointly, one noise draw per number
        Gd, Hd = clipped_joint_leaf_difference(leaf, leaf_h, n_leaves, g, h, gh, hh, s.clip)
        G_pub = np.stack([np.bincount(leaf_h[:, k], gh[:, k], n_leaves) for k in range(k_classes)])
        H_pub = np.stack([np.bincount(leaf_h[:, k], hh[:, k], n_leaves) for k in range(k_classes)])
        G = G_pub + Gd + gaussian_noise(G_pub.shape, std, rng.noise)
        H = H_pub + Hd + gaussian_noise(H_pub.shape, std, rng.noise)
        for k, tree in enumerate(trees):  # post-processing of the release, per class tree
            tree.leaf = leaf_values(G[k], H[k], G_pub[k], H_pub[k], std, l2=s.l2, max_leaf=s.max_leaf,
                                    min_leaf_h=min_leaf_h, shrinkage=s.private_shrinkage)
            m_o[:, k] += s.private_lr * tree.leaf[leaf[:, k]]
            m_h[:, k] += s.private_lr * tree.leaf[leaf_h[:, k]]
            m_s[:, k] += s.private_lr * tree.predict(b_s)
        out.append([(t, s.private_lr) for t in trees])
    return out


def check_multiclass_settings(s, private: bool) -> None:
    """Refuse the settings the multiclass learner does not implement (ConfigError with a hint)."""
    if not private or s.private_rounds == 0:
        return
    if s.private_structure != "support":
        raise ConfigError("The tree learner's private stage for a multiclass target needs a labelled public "
                          "support set (its trees' structures are grown there); the noised-histogram structures "
                          "(private_structure='histograms') are binary only.",
                          hint="give --support with the target column, or --method sgd_hybrid (public stage)")
    if s.structure_candidates != 1:
        raise ConfigError("structure_candidates > 1 is binary only in the tree learner; a multiclass round "
                          "releases one joint set of K class trees.", hint="leave structure_candidates at 1")


def fit_multiclass(spec, data, sensitive_mask: np.ndarray, config, s, bins, b_o: np.ndarray, b_h: np.ndarray,
                   b_s: np.ndarray | None, y_sup: np.ndarray | None, select: bool, public_stage: dict | None,
                   ) -> tuple[TrainResult, dict, int, list[dict]]:
    """The multiclass stages on binned rows (`fit_trees` prepared the settings and the public bins).

    Returns ``(result, info, private_rounds_trained, selection)``: the caller adds its common report fields.
    """
    k_classes = int(data.n_classes)
    y = data.y.numpy().astype(np.int64)
    n, f = b_o.shape
    check_multiclass_settings(s, spec.is_private)
    y_sup = None if y_sup is None else np.asarray(y_sup, np.int64)
    # labels are public: the base margins are the training labels' log class frequencies
    base = np.log(np.clip(np.bincount(y, minlength=k_classes) / n, 1e-6, 1.0))
    history: list[dict] = []
    curve = lambda losses: [round(float(v), 6) for v in losses]  # noqa: E731

    key = ("multiclass", k_classes, s.public_features, s.bins, s.public_depth, s.public_rounds, s.public_lr,
           s.public_min_hessian, s.l2, s.max_leaf)
    if public_stage is not None and public_stage.get("key") == key:
        pub = public_stage["trees"]
    else:
        pub_cols = np.arange(f) if s.public_features == "all" else np.flatnonzero(~sensitive_mask)
        pub = public_rounds(s, b_h, y, base, pub_cols)
        if public_stage is not None:
            public_stage.update(key=key, trees=pub)
    if select:
        losses = prefix_losses(np.tile(base, (len(y_sup), 1)), pub, b_s, y_sup)
        k_pub = int(np.argmin(losses))
        history.append({"stage": "public", "support_log_loss": losses[k_pub], "trees_kept": k_pub * k_classes,
                        "trees_trained": len(pub) * k_classes, "trees_per_round": k_classes,
                        "support_log_loss_by_trees": curve(losses)})
    else:
        k_pub = len(pub)
    released = list(pub[:k_pub])
    full_public = released

    plan, secure, k_priv, priv = None, True, 0, []
    if spec.is_private and s.private_rounds > 0:
        if not select:
            raise ConfigError("The tree learner's private stage for a multiclass target needs a labelled public "
                              "support set (its trees' structures are grown there).",
                              hint="give --support with the target column, or --method sgd_hybrid (public stage)")
        from fusiondp.trees.learner import _split_support, private_stage_setup

        # the same plan as the binary leaf mechanism: one Gaussian release (sensitivity C) per round
        plan, rng, std, cols = private_stage_setup(spec, s, config, sensitive_mask, f)
        secure = rng.secure
        # private_start_trees counts rounds here (K trees each)
        released = released[:s.private_start_trees] if s.private_start_trees is not None else released

        grow_rows, guard_rows = _split_support(y_sup, s.guard_fraction, config.seed)
        priv = private_rounds(s, released, base, b_o, b_h, b_s[grow_rows], y, y_sup[grow_rows], cols, std, rng,
                              config.seed)
        bg, yg = b_s[guard_rows], y_sup[guard_rows]
        m0 = add_rounds(np.tile(base, (len(yg), 1)), released, bg)
        losses = prefix_losses(m0, priv, bg, yg)
        m_pub = m0 if len(released) == len(full_public) else add_rounds(np.tile(base, (len(yg), 1)), full_public,
                                                                        bg)
        k_priv, whole, update = guarded_prefix(
            losses, row_softmax_log_loss(m_pub, yg), lambda k: row_softmax_log_loss(add_rounds(m0, priv[:k], bg), yg),
            whole_differs=len(released) < len(full_public), z=s.guard_z)
        entry = {"stage": "private", "support_log_loss": losses[k_priv], "trees_kept": k_priv * k_classes,
                 "trees_trained": len(priv) * k_classes, "trees_per_round": k_classes,
                 "support_log_loss_public_model": losses[0], "guard_rows": len(yg),
                 "start_trees": len(released) * k_classes, "support_log_loss_by_trees": curve(losses), **update}
        released = full_public if whole else released
        history.append(entry)
        released = released + priv[:k_priv]

    model = TreeEnsembleModel(bins, [pair for r in released for pair in r], base)
    result = TrainResult(model=model, method=spec, config=config, plan=plan,
                         epsilon=plan.spent() if plan else 0.0, steps=plan.steps if plan else 0, ch=None,
                         seconds=0.0, history=[], secure_randomness=secure)
    info = {"classes": k_classes, "trees_per_round": k_classes,
            "public_trees": (len(released) - k_priv) * k_classes, "public_trees_selected": k_pub * k_classes,
            "private_trees_trained": len(priv) * k_classes, "private_trees_released": k_priv * k_classes}
    return result, info, len(priv), history
