"""The tree learner (fusiondp.trees): public bins, measured sensitivity, attacks, accounting, the baseline guard."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fusiondp.data.schema import Schema
from fusiondp.errors import ConfigError
from fusiondp.pipeline import run
from fusiondp.privacy.accounting import epsilon
from fusiondp.train.config import TrainConfig
from fusiondp.trees.binning import Bins
from fusiondp.trees.booster import GrowParams, OneHotBins, SubtractingHistograms, Tree, best_splits, histograms
from fusiondp.trees.private import clipped_difference, clipped_leaf_difference, leaf_norms, record_norms
from tests.tables import SENSITIVE, make_hybrid, make_table

SCHEMA = Schema("y", SENSITIVE, drop=["id"], categorical=["ward", "unit"])
FAST = {"public_rounds": 15, "private_rounds": 3}


def frames(n: int = 400, seed: int = 0):
    table = make_table(n + 150, seed)
    train, support = table.iloc[:n].reset_index(drop=True), table.iloc[n:].reset_index(drop=True)
    return train, make_hybrid(train), support


def fit(train, hybrid, support, *, method="fusiondp", cfg=None, settings=None):
    cfg = cfg or TrainConfig(epsilon=2.0, accountant="rdp")
    return run(train, hybrid, SCHEMA, method=method, config=cfg, support_df=support, progress=False,
               learner="trees", tree_settings={**FAST, **(settings or {})})


def released(result) -> dict[str, np.ndarray]:
    return {k: v.numpy().copy() for k, v in result.model.state_dict().items()}


def same_model(a, b) -> bool:
    sa, sb = released(a), released(b)
    return all(np.array_equal(sa[k], sb[k]) for k in sa)


# ---------------------------------------------------------------- core pieces
def test_subtracting_histograms_equal_direct_sums():
    rng = np.random.default_rng(0)
    bins = rng.integers(0, 8, (300, 5)).astype(np.uint8)
    g, h = rng.normal(size=300), rng.random(300)
    tree = Tree.empty(3, 8)
    tree.feature[:] = [0, 1, 2, 3, 4, 0, 1]
    tree.threshold[:] = [3, 4, 2, 7, 1, 5, 0]  # node 3 does not split (threshold = last bin)
    for sub in (SubtractingHistograms(bins, 8, g, h), SubtractingHistograms(bins, 8, g, h, onehot=OneHotBins(bins, 8))):
        for level in range(3):
            G, H = sub(tree, level)
            Gd, Hd = histograms(bins, tree.route(bins, level), 2 ** level, 8, g, h)
            np.testing.assert_allclose(G, Gd, atol=1e-9)
            np.testing.assert_allclose(H, Hd, atol=1e-9)


def test_best_split_finds_the_informative_feature():
    rng = np.random.default_rng(1)
    bins = rng.integers(0, 16, (2000, 4)).astype(np.uint8)
    y = (bins[:, 2] > 9).astype(float)
    g, h = 0.5 - y, np.full(2000, 0.25)
    G, H = histograms(bins, np.zeros(2000, np.int64), 1, 16, g, h)
    j, t, split, *_ = best_splits(G, H, GrowParams())
    assert split[0] and j[0] == 2 and t[0] == 9


def test_bins_come_from_the_public_matrix_only():
    pub = np.random.default_rng(0).normal(size=(500, 3))
    a = Bins.fit(pub, 16)
    assert a.edges.shape == (3, 15)
    assert (a.transform(pub) < 16).all()
    # the training rows never enter Bins.fit: the learner's edges do not move when true sensitive values do
    train, hybrid, support = frames()
    r1, _, _ = fit(train, hybrid, support)
    poisoned = train.copy()
    poisoned["age"] = 200.0 - poisoned["age"]
    r2, _, _ = fit(poisoned, hybrid, support)
    assert torch.equal(r1.model.edges, r2.model.edges)


# ---------------------------------------------------------------- sensitivity, measured
def _level_stats(bins, bins_h, g, h, gh, hh, clip, tree, level):
    G, H = clipped_difference(tree, level, bins, bins_h, np.arange(bins.shape[1]), 8, g, h, gh, hh, clip)
    return np.concatenate([G.ravel(), H.ravel()])


@pytest.mark.parametrize("level", [0, 1, 2])
def test_one_record_moves_the_released_statistic_by_at_most_c(level):
    rng = np.random.default_rng(level)
    n, f, clip = 200, 6, 0.7
    bins = rng.integers(0, 8, (n, f)).astype(np.uint8)
    bins_h = bins.copy()
    bins_h[:, 4:] = rng.integers(0, 8, (n, 2))           # columns 4, 5 are sensitive: hybrid redraws them
    g, h = rng.uniform(-1, 1, n), rng.uniform(0, 0.25, n)  # model at x_i ...
    gh, hh = rng.uniform(-1, 1, n), rng.uniform(0, 0.25, n)  # ... and at x̃_i differ, as they do in training
    tree = Tree.empty(3, 8)
    tree.feature[:] = [4, 5, 0, 1, 4, 2, 5]                # sensitive splits route x_i and x̃_i apart
    tree.threshold[:] = [3, 4, 2, 5, 1, 6, 2]
    base = _level_stats(bins, bins_h, g, h, gh, hh, clip, tree, level)
    worst_remove = worst_replace = 0.0
    for i in range(n):
        # remove: record i's sensitive values become its imputed ones -> x_i = x̃_i, same model output
        b2, g2, h2 = bins.copy(), g.copy(), h.copy()
        b2[i], g2[i], h2[i] = bins_h[i], gh[i], hh[i]
        worst_remove = max(worst_remove, np.linalg.norm(_level_stats(b2, bins_h, g2, h2, gh, hh, clip, tree,
                                                                     level) - base))
        # replace: arbitrary other sensitive values (and so another model output) for record i
        b3, g3, h3 = bins.copy(), g.copy(), h.copy()
        b3[i, 4:] = (bins[i, 4:] + 3) % 8
        g3[i], h3[i] = -g[i], 0.25 - h[i]
        worst_replace = max(worst_replace, np.linalg.norm(_level_stats(b3, bins_h, g3, h3, gh, hh, clip, tree,
                                                                       level) - base))
    assert 0.5 * clip < worst_remove <= clip * (1 + 1e-9)   # the bound is met and (nearly) reached
    assert worst_replace <= 2 * clip * (1 + 1e-9)


def test_closed_form_norm_matches_the_built_vector():
    rng = np.random.default_rng(3)
    n, f = 50, 4
    bins, bins_h = rng.integers(0, 5, (n, f)), rng.integers(0, 5, (n, f))
    bins_h[:, :2] = bins[:, :2]
    node, node_h = rng.integers(0, 2, n), rng.integers(0, 2, n)
    g, h, gh, hh = rng.normal(size=(4, n))
    norms = record_norms(node, node_h, bins, bins_h, g, h, gh, hh)
    for i in range(n):
        v = np.zeros((2, 2, f, 5))
        for j in range(f):
            v[0, node[i], j, bins[i, j]] += g[i]
            v[1, node[i], j, bins[i, j]] += h[i]
            v[0, node_h[i], j, bins_h[i, j]] -= gh[i]
            v[1, node_h[i], j, bins_h[i, j]] -= hh[i]
        assert np.isclose(np.linalg.norm(v), norms[i])


def _leaf_release(leaf, leaf_h, g, h, gh, hh, clip, n_leaves=8):
    G, H = clipped_leaf_difference(leaf, leaf_h, n_leaves, g, h, gh, hh, clip)
    return np.concatenate([G, H])


def test_leaf_release_one_record_moves_it_by_at_most_c():
    """The `support`-structure mechanism: one record's original row and hybrid row each reach one leaf of a
    public structure; under `remove` (x_i -> x̃_i) the released leaf sums move by <= C, under `replace` <= 2C."""
    rng = np.random.default_rng(5)
    n, clip = 300, 0.6
    leaf_h = rng.integers(0, 8, n)
    leaf = np.where(rng.random(n) < 0.5, leaf_h, rng.integers(0, 8, n))  # sensitive splits move half the rows
    g, h = rng.uniform(-1, 1, n), rng.uniform(0, 0.25, n)
    gh, hh = rng.uniform(-1, 1, n), rng.uniform(0, 0.25, n)
    base = _leaf_release(leaf, leaf_h, g, h, gh, hh, clip)
    worst_remove = worst_replace = 0.0
    for i in range(n):
        l2, g2, h2 = leaf.copy(), g.copy(), h.copy()
        l2[i], g2[i], h2[i] = leaf_h[i], gh[i], hh[i]
        worst_remove = max(worst_remove, np.linalg.norm(_leaf_release(l2, leaf_h, g2, h2, gh, hh, clip) - base))
        l3, g3, h3 = leaf.copy(), g.copy(), h.copy()
        l3[i], g3[i], h3[i] = (leaf[i] + 3) % 8, -g[i], 0.25 - h[i]
        worst_replace = max(worst_replace, np.linalg.norm(_leaf_release(l3, leaf_h, g3, h3, gh, hh, clip) - base))
    assert 0.5 * clip < worst_remove <= clip * (1 + 1e-9)
    assert worst_replace <= 2 * clip * (1 + 1e-9)


def test_leaf_closed_form_norm_matches_the_built_vector():
    rng = np.random.default_rng(4)
    n = 40
    leaf, leaf_h = rng.integers(0, 4, n), rng.integers(0, 4, n)
    leaf[:10] = leaf_h[:10]
    g, h, gh, hh = rng.normal(size=(4, n))
    norms = leaf_norms(leaf, leaf_h, g, h, gh, hh)
    for i in range(n):
        v = np.zeros((2, 4))
        v[:, leaf[i]] += (g[i], h[i])
        v[:, leaf_h[i]] -= (gh[i], hh[i])
        assert np.isclose(np.linalg.norm(v), norms[i])


# ---------------------------------------------------------------- attacks and randomness
def _private_trees(result, info) -> dict[str, np.ndarray]:
    k = info["public_trees"]
    return {"feature": result.model.feature.numpy()[k:], "threshold": result.model.threshold.numpy()[k:],
            "leaf": result.model.leaf.numpy()[k:]}


def test_leaf_mechanism_attack_structure_public_leaves_private():
    """`support` structure, replayable test-only noise: changing one record's true sensitive value leaves the
    first private tree's splits unchanged (they are grown on public rows under the public model) but moves
    its leaf values (the private rows reach the model only there, through the clipped, noised sums)."""
    from fusiondp.trees import fit_trees
    from fusiondp.pipeline import prepare

    train, hybrid, support = frames()
    cfg = TrainConfig(epsilon=8.0, accountant="rdp", insecure_noise_seed=11)
    settings = {**FAST, "clip": 5.0, "private_min_hessian_times_noise": 0.0}

    def first_private_tree(frame):
        p = prepare(frame, hybrid, SCHEMA, support_df=support)
        sup = (p.pre.transform(support, what="support"), p.labels.transform(support["y"], "support"))
        r, info = fit_trees("fusiondp", p.data, p.pre.sensitive_mask(), cfg, support=sup, settings=settings)
        return r, info

    a, ia = first_private_tree(train)
    changed = train.copy()
    changed.loc[:20, "age"] = changed.loc[:20, "age"] + 60
    b, ib = first_private_tree(changed)
    assert ia["settings"]["private_structure"] == "support"
    assert ia["private_trees_released"] > 0 and ib["private_trees_released"] > 0
    ta, tb = _private_trees(a, ia), _private_trees(b, ib)
    assert np.array_equal(ta["feature"][0], tb["feature"][0])
    assert np.array_equal(ta["threshold"][0], tb["threshold"][0])
    assert not np.allclose(ta["leaf"][0], tb["leaf"][0])
    a2, ia2 = first_private_tree(train)  # same data, same insecure seed: the same release
    assert same_model(a, a2)

def test_noise_off_attack_one_sensitive_value_changes_the_model():
    """With replayable noise (test-only insecure mode), the private rows do reach the model (through the
    clipped difference term): change one record's sensitive value and the released trees change; same data,
    same insecure seed: identical models. With secret noise, two fits on the same data differ."""
    train, hybrid, support = frames()
    support = support.drop(columns=["y"])  # no guard: every private tree is released, so nothing hides the change
    cfg = TrainConfig(epsilon=8.0, accountant="rdp", insecure_noise_seed=7)
    big = {"clip": 5.0, "private_min_hessian_times_noise": 0.0}
    a, _, ra = fit(train, hybrid, support, cfg=cfg, settings=big)
    b, _, _ = fit(train, hybrid, support, cfg=cfg, settings=big)
    assert same_model(a, b)
    assert ra["secure_randomness"] is False and "INSECURE" in ra["randomness"]
    changed = train.copy()
    changed.loc[0, "age"] = changed.loc[0, "age"] + 60
    c, _, _ = fit(changed, hybrid, support, cfg=cfg, settings=big)
    assert not same_model(a, c)


def test_seed_does_not_determine_the_noise():
    train, hybrid, support = frames()
    support = support.drop(columns=["y"])  # every private tree released: the noise shows in the leaves
    cfg = TrainConfig(epsilon=2.0, accountant="rdp", seed=3)
    a, _, ra = fit(train, hybrid, support, cfg=cfg, settings={"private_min_hessian_times_noise": 0.0})
    b, _, _ = fit(train, hybrid, support, cfg=cfg, settings={"private_min_hessian_times_noise": 0.0})
    assert ra["secure_randomness"] is True and ra["trees"]["private_trees_released"] > 0
    assert not same_model(a, b)


def test_public_stage_ignores_true_sensitive_values():
    train, hybrid, support = frames()
    a, _, ra = fit(train, hybrid, support, method="sgd_hybrid")
    poisoned = train.copy()
    poisoned["age"] = 200.0 - poisoned["age"]
    poisoned["sex"] = 1 - poisoned["sex"]
    b, _, _ = fit(poisoned, hybrid, support, method="sgd_hybrid")
    assert same_model(a, b)
    assert ra["epsilon"] == 0.0 and ra["method"] == "hybrid_trees" and a.plan is None


# ---------------------------------------------------------------- accounting and the baseline guard
def test_accounting_is_what_is_claimed():
    train, hybrid, support = frames()
    r, _, rep = fit(train, hybrid, support, cfg=TrainConfig(epsilon=2.0, accountant="rdp"))
    s = rep["trees"]["settings"]
    assert s["private_structure"] == "support"  # labelled support set: one release (leaf sums) per tree
    assert r.plan.steps == s["private_rounds"] and r.plan.sample_rate == 1.0
    assert r.epsilon <= 2.0 + 1e-9
    assert np.isclose(r.epsilon, epsilon(noise_multiplier=r.plan.noise_multiplier, sample_rate=1.0,
                                         steps=r.plan.steps, delta=1e-5, relation="remove", accountant="rdp"))
    assert set(rep["epsilon_by_relation"]) == {"remove", "replace"}
    assert rep["epsilon_by_relation"]["replace"]["epsilon"] > rep["epsilon"]
    assert rep["clip"] == s["clip"] and rep["learner"] == "trees"
    assert np.isclose(rep["trees"]["noise_std"], r.plan.noise_multiplier * s["clip"])


def test_histogram_structure_is_accounted_one_release_per_level():
    train, hybrid, support = frames()
    r, _, rep = fit(train, hybrid, support.drop(columns=["y"]), cfg=TrainConfig(epsilon=2.0, accountant="rdp"))
    s = rep["trees"]["settings"]
    assert s["private_structure"] == "histograms"  # no support labels: no public structure to grow
    assert r.plan.steps == s["private_rounds"] * s["private_depth"]
    with pytest.raises(ConfigError, match="labelled public support"):
        fit(train, hybrid, support.drop(columns=["y"]), settings={"private_structure": "support"})


def test_release_is_never_worse_than_the_public_stage_on_the_support_set():
    train, hybrid, support = frames()
    r, _, rep = fit(train, hybrid, support, cfg=TrainConfig(epsilon=4.0, accountant="rdp"),
                    settings={"private_min_hessian_times_noise": 0.0})
    pub, priv = rep["trees"]["selection"]
    assert priv["support_log_loss"] <= priv["support_log_loss_public_model"]
    assert priv["support_log_loss_public_model"] == pytest.approx(pub["support_log_loss"])
    assert rep["trees"]["baseline_guard"].startswith("public support set")


def test_selection_curves_are_the_support_losses_the_choice_was_made_on():
    """The report keeps each stage's support log-loss per prefix; the kept prefix is its minimum, and the page
    plots it (public rows and released trees only)."""
    from fusiondp.report.html import render_html, tree_selection_curve

    train, hybrid, support = frames()
    _, _, rep = fit(train, hybrid, support, cfg=TrainConfig(epsilon=4.0, accountant="rdp"),
                    settings={"private_min_hessian_times_noise": 0.0, "guard_z": 0.0})
    pub, priv = rep["trees"]["selection"]
    assert len(pub["support_log_loss_by_trees"]) == FAST["public_rounds"] + 1
    assert len(priv["support_log_loss_by_trees"]) == FAST["private_rounds"] + 1
    assert pub["support_log_loss_by_trees"][pub["trees_kept"]] == pytest.approx(pub["support_log_loss"], abs=1e-6)
    if priv["trees_kept"]:
        assert min(priv["support_log_loss_by_trees"]) == pytest.approx(priv["support_log_loss"], abs=1e-6)
    assert priv["support_log_loss_by_trees"][0] == pytest.approx(priv["support_log_loss_public_model"], abs=1e-6)
    assert priv["start_trees"] == rep["trees"]["public_trees"] or not priv["trees_kept"]
    report = rep.to_report()
    assert tree_selection_curve(report) is not None
    page, without = render_html(report), render_html({**report, "trees": None})
    assert "support log-loss as public trees are added" in page and "as public trees are added" not in without
    assert page.count("data:image/png") == without.count("data:image/png") + 1


def test_without_support_labels_the_guard_says_it_was_not_applied():
    train, hybrid, support = frames()
    _, _, rep = fit(train, hybrid, support.drop(columns=["y"]))
    assert rep["trees"]["baseline_guard"].startswith("not applied")
    assert rep["trees"]["private_trees_released"] == rep["trees"]["private_trees_trained"]


def test_refusals():
    train, hybrid, support = frames()
    with pytest.raises(ConfigError, match="tree learner runs methods"):
        fit(train, hybrid, support, method="dpsgd")
    # K >= 3 classes are trained (tests/trees/test_multiclass.py), no longer refused


def test_estimator_trees():
    from fusiondp.estimator import FusionDPClassifier

    train, hybrid, support = frames()
    X, y = train.drop(columns=["y", "id"]), train["y"]
    clf = FusionDPClassifier(sensitive=SENSITIVE, categorical=["ward", "unit"], learner="trees", epsilon=2.0,
                             accountant="rdp")
    clf.fit(X, y, hybrid=hybrid.drop(columns=["y", "id"]))
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2) and np.allclose(proba.sum(1), 1)
    assert clf.epsilon_spent_ <= 2.0 + 1e-9 and clf.report_["learner"] == "trees"


def test_sensitive_bin_edges_come_from_the_support_rows():
    """Sensitive columns' edges are fitted on the support set's true values only (imputed hybrid values would
    crowd the grid); public columns' edges on hybrid ∪ support. Training rows never enter."""
    from fusiondp.train.views import TrainData
    from fusiondp.trees import fit_trees

    rng = np.random.default_rng(0)
    n, f = 300, 4
    mask = np.array([False, False, True, True])
    x = torch.tensor(rng.normal(size=(n, f)))
    y = torch.tensor((rng.random(n) < 0.4).astype(float))
    xs = rng.normal(size=(120, f))
    ys = (rng.random(120) < 0.4).astype(float)

    def edges(x_orig, x_hyb):
        data = TrainData(x=x_orig, x_hybrid=x_hyb, y=y)
        r, _ = fit_trees("sgd_hybrid", data, mask, TrainConfig(epsilon=None), support=(xs, ys),
                         settings={"public_rounds": 2})
        return r.model.edges.numpy()

    xh = x.clone()
    xh[:, 2:] = 0.1 * xh[:, 2:]                  # imputed sensitive values: crowded near the mean
    a = edges(x, xh)
    np.testing.assert_array_equal(a[2:], Bins.fit(xs, 32).edges[2:])
    np.testing.assert_array_equal(a[:2], Bins.fit(np.vstack([xh.numpy(), xs]), 32).edges[:2])
    b = edges(x * 3.0, xh)                         # training rows never enter
    np.testing.assert_array_equal(a, b)


def test_guard_fraction_holds_support_rows_out_of_the_structures():
    from fusiondp.trees.learner import _split_support

    y = np.array([0] * 30 + [1] * 12)
    grow_rows, guard_rows = _split_support(y, 0.25, seed=0)
    assert len(np.intersect1d(grow_rows, guard_rows)) == 0 and len(grow_rows) + len(guard_rows) == len(y)
    assert set(y[guard_rows]) == {0, 1} and len(guard_rows) == round(0.25 * 30) + round(0.25 * 12)
    every, same = _split_support(y, 0.0, seed=0)
    assert np.array_equal(every, same) and len(every) == len(y)
    train, hybrid, support = frames()
    _, _, rep = fit(train, hybrid, support, cfg=TrainConfig(epsilon=2.0, accountant="rdp"),
                    settings={"guard_fraction": 0.4})
    assert rep["trees"]["selection"][1]["guard_rows"] < len(support)
    with pytest.raises(ConfigError, match="guard_fraction"):
        fit(train, hybrid, support, settings={"guard_fraction": 1.0})
