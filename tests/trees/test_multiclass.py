"""The tree learner on K ≥ 3 classes (docs/method.md §9, "Multiclass targets"): the joint release's measured
sensitivity, attacks (structure public / leaves private, seed and noise, public stage), the accounting,
the support-set selection, the model file and `fusiondp predict`, and the refusals."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

import fusiondp.io as fio
from fusiondp.errors import ConfigError, UnsupportedError
from fusiondp.pipeline import prepare, run
from fusiondp.privacy.accounting import epsilon
from fusiondp.train.config import TrainConfig
from fusiondp.trees import fit_trees
from fusiondp.trees.booster import row_softmax_log_loss, softmax_grad
from fusiondp.trees.private import clipped_joint_leaf_difference, leaf_norms
from tests.tables import SENSITIVE, make_hybrid, make_table
from tests.trees.test_trees import FAST, SCHEMA

K = 3


def three_class(n: int, seed: int = 0) -> pd.DataFrame:
    """make_table with y replaced by a 3-class label driven by sensitive age/sex and public hr."""
    t = make_table(n, seed)
    score = 0.05 * (t["age"] - 60) + 0.04 * (t["hr"] - 70) + 0.8 * t["sex"]
    t["y"] = np.digitize(score + np.random.default_rng(seed + 7).normal(0, 0.7, n), [-0.3, 0.6])
    return t


def frames(n: int = 400, seed: int = 0):
    t = three_class(n + 150, seed)
    train, support = t.iloc[:n].reset_index(drop=True), t.iloc[n:].reset_index(drop=True)
    return train, make_hybrid(train), support


def fit_direct(train, hybrid, support, *, method="fusiondp", cfg=None, settings=None):
    """`fit_trees` on the prepared views (no release guard against the network: the trees' own release)."""
    p = prepare(train, hybrid, SCHEMA, support_df=support)
    labelled = "y" in support.columns
    sup = (p.pre.transform(support, what="support"),
           p.labels.transform(support["y"], "support") if labelled else None)
    cfg = cfg or TrainConfig(epsilon=4.0, accountant="rdp")
    return fit_trees(method, p.data, p.pre.sensitive_mask(), cfg, support=sup, settings={**FAST, **(settings or {})})


def tensors(result) -> dict[str, np.ndarray]:
    return {k: v.numpy().copy() for k, v in result.model.state_dict().items()}


def same_model(a, b) -> bool:
    sa, sb = tensors(a), tensors(b)
    return all(np.array_equal(sa[k], sb[k]) for k in sa)


KEEP = {"clip": 5.0, "private_min_hessian_times_noise": 0.0, "guard_z": 0.0}  # private rounds are kept


# ---------------------------------------------------------------- softmax pieces
def test_softmax_gradient_and_loss_match_autograd():
    rng = np.random.default_rng(0)
    m, y = rng.normal(size=(20, K)), rng.integers(0, K, 20)
    t = torch.tensor(m, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(t, torch.tensor(y), reduction="sum")
    loss.backward()
    g, h = softmax_grad(m, y)
    np.testing.assert_allclose(g, t.grad.numpy(), atol=1e-12)
    p = torch.softmax(t.detach(), 1).numpy()
    np.testing.assert_allclose(h, p * (1 - p), atol=1e-12)
    np.testing.assert_allclose(row_softmax_log_loss(m, y).sum(), loss.item(), rtol=1e-12)


# ---------------------------------------------------------------- the joint release's sensitivity, measured
def _joint_release(leaf, leaf_h, g, h, gh, hh, clip, n_leaves=8):
    G, H = clipped_joint_leaf_difference(leaf, leaf_h, n_leaves, g, h, gh, hh, clip)
    return np.concatenate([G.ravel(), H.ravel()])


def test_joint_leaf_release_one_record_moves_it_by_at_most_c():
    """One round's K class trees: a record's original and hybrid rows each reach one leaf per tree; under
    `remove` (x_i -> x̃_i, so every class's gradient at x_i becomes the one at x̃_i) the whole round's released
    leaf sums (2·K·leaves numbers) move by <= C, under `replace` by <= 2C; the bound is nearly reached."""
    rng = np.random.default_rng(5)
    n, clip = 300, 0.6
    leaf_h = rng.integers(0, 8, (n, K))
    leaf = np.where(rng.random((n, K)) < 0.5, leaf_h, rng.integers(0, 8, (n, K)))
    g, h = rng.uniform(-1, 1, (n, K)), rng.uniform(0, 0.25, (n, K))
    gh, hh = rng.uniform(-1, 1, (n, K)), rng.uniform(0, 0.25, (n, K))
    base = _joint_release(leaf, leaf_h, g, h, gh, hh, clip)
    worst_remove = worst_replace = 0.0
    for i in range(n):
        l2, g2, h2 = leaf.copy(), g.copy(), h.copy()
        l2[i], g2[i], h2[i] = leaf_h[i], gh[i], hh[i]
        worst_remove = max(worst_remove, np.linalg.norm(_joint_release(l2, leaf_h, g2, h2, gh, hh, clip) - base))
        l3, g3, h3 = leaf.copy(), g.copy(), h.copy()
        l3[i], g3[i], h3[i] = (leaf[i] + 3) % 8, -g[i], 0.25 - h[i]
        worst_replace = max(worst_replace, np.linalg.norm(_joint_release(l3, leaf_h, g3, h3, gh, hh, clip) - base))
    assert 0.5 * clip < worst_remove <= clip * (1 + 1e-9)
    assert worst_replace <= 2 * clip * (1 + 1e-9)


def test_joint_clip_is_over_all_class_trees_not_per_tree():
    """The record's vector spans the K trees: its norm is the root of the per-tree squared norms (built
    vector), and a record whose per-tree norms are each below C but whose joint norm is above is scaled."""
    rng = np.random.default_rng(4)
    n = 40
    leaf, leaf_h = rng.integers(0, 4, (n, K)), rng.integers(0, 4, (n, K))
    g, h, gh, hh = rng.normal(size=(4, n, K))
    for i in range(n):
        v = np.zeros((K, 2, 4))
        for k in range(K):
            v[k, :, leaf[i, k]] += (g[i, k], h[i, k])
            v[k, :, leaf_h[i, k]] -= (gh[i, k], hh[i, k])
        joint = np.sqrt(sum(leaf_norms(leaf[i:i + 1, k], leaf_h[i:i + 1, k], g[i:i + 1, k], h[i:i + 1, k],
                                       gh[i:i + 1, k], hh[i:i + 1, k])[0] ** 2 for k in range(K)))
        assert np.isclose(np.linalg.norm(v), joint)
    one = lambda a: a[:1]  # noqa: E731
    per_tree = max(leaf_norms(leaf[0:1, k], leaf_h[0:1, k], g[0:1, k], h[0:1, k], gh[0:1, k], hh[0:1, k])[0]
                   for k in range(K))
    joint = np.linalg.norm(_joint_release(one(leaf), one(leaf_h), one(g), one(h), one(gh), one(hh), 1e9, 4))
    clip = (per_tree + joint) / 2  # above every tree's own norm, below the joint one
    assert per_tree < clip < joint
    moved = np.linalg.norm(_joint_release(one(leaf), one(leaf_h), one(g), one(h), one(gh), one(hh), clip, 4))
    assert np.isclose(moved, clip)


# ---------------------------------------------------------------- attacks and randomness
def _private_round(result, info, r: int = 0) -> dict[str, np.ndarray]:
    k = info["public_trees"] + K * r
    sl = slice(k, k + K)
    return {"feature": result.model.feature.numpy()[sl], "threshold": result.model.threshold.numpy()[sl],
            "leaf": result.model.leaf.numpy()[sl]}


def test_attack_structure_public_leaves_private():
    """Replayable test-only noise: changing training records' true sensitive values leaves the first private
    round's K structures unchanged (grown on public rows under the public model) but moves their leaf values
    (the private rows reach the model only through the jointly clipped, noised sums); same data and noise
    seed: the same release."""
    train, hybrid, support = frames()
    cfg = TrainConfig(epsilon=8.0, accountant="rdp", insecure_noise_seed=11)
    a, ia = fit_direct(train, hybrid, support, cfg=cfg, settings=KEEP)
    changed = train.copy()
    changed.loc[:20, "age"] = changed.loc[:20, "age"] + 60
    b, ib = fit_direct(changed, hybrid, support, cfg=cfg, settings=KEEP)
    assert ia["settings"]["private_structure"] == "support" and ia["classes"] == K
    assert ia["private_trees_released"] > 0 and ib["private_trees_released"] > 0
    assert ia["public_trees"] == ib["public_trees"]
    ta, tb = _private_round(a, ia), _private_round(b, ib)
    assert np.array_equal(ta["feature"], tb["feature"]) and np.array_equal(ta["threshold"], tb["threshold"])
    assert not np.allclose(ta["leaf"], tb["leaf"])
    a2, _ = fit_direct(train, hybrid, support, cfg=cfg, settings=KEEP)
    assert same_model(a, a2)


def test_seed_does_not_determine_the_noise():
    train, hybrid, support = frames()
    cfg = TrainConfig(epsilon=8.0, accountant="rdp", seed=3)
    a, ia = fit_direct(train, hybrid, support, cfg=cfg, settings=KEEP)
    b, ib = fit_direct(train, hybrid, support, cfg=cfg, settings=KEEP)
    assert a.secure_randomness and ia["private_trees_released"] > 0 and ib["private_trees_released"] > 0
    # same seed, same public structures; the secret noise moves the released leaves
    ta, tb = _private_round(a, ia), _private_round(b, ib)
    assert np.array_equal(ta["feature"], tb["feature"])
    assert not np.allclose(ta["leaf"], tb["leaf"])


def test_public_stage_ignores_true_sensitive_values():
    train, hybrid, support = frames()
    a, ia = fit_direct(train, hybrid, support, method="sgd_hybrid")
    poisoned = train.copy()
    poisoned["age"] = 200.0 - poisoned["age"]
    poisoned["sex"] = 1 - poisoned["sex"]
    poisoned["unit"] = np.where(train["unit"] == "micu", "sicu", "micu")
    b, _ = fit_direct(poisoned, hybrid, support, method="sgd_hybrid")
    assert same_model(a, b)
    assert a.epsilon == 0.0 and a.plan is None and ia["public_trees"] % K == 0 and ia["public_trees"] > 0


# ---------------------------------------------------------------- accounting and selection
def test_accounting_is_the_binary_plan_one_release_per_round():
    train, hybrid, support = frames()
    r, _, rep = run(train, hybrid, SCHEMA, method="fusiondp", config=TrainConfig(epsilon=2.0, accountant="rdp"),
                    support_df=support, progress=False, learner="trees", tree_settings=FAST, guard=False)
    s = rep["trees"]["settings"]
    assert r.plan.steps == s["private_rounds"] == rep["trees"]["releases"] and r.plan.sample_rate == 1.0
    assert r.epsilon <= 2.0 + 1e-9
    assert np.isclose(r.epsilon, epsilon(noise_multiplier=r.plan.noise_multiplier, sample_rate=1.0,
                                         steps=r.plan.steps, delta=1e-5, relation="remove", accountant="rdp"))
    assert rep["epsilon_by_relation"]["replace"]["epsilon"] > rep["epsilon"]
    assert np.isclose(rep["trees"]["noise_std"], r.plan.noise_multiplier * s["clip"])
    # the same plan as a binary run with the same settings: K trees per round add no release
    binary = train.assign(y=(train["y"] == 2).astype(int))
    rb, _, _ = run(binary, hybrid.assign(y=binary["y"]), SCHEMA, method="fusiondp",
                   config=TrainConfig(epsilon=2.0, accountant="rdp"), support_df=support.assign(
                       y=(support["y"] == 2).astype(int)), progress=False, learner="trees", tree_settings=FAST,
                   guard=False)
    assert rb.plan.steps == r.plan.steps and rb.plan.noise_multiplier == r.plan.noise_multiplier


def test_selection_counts_whole_rounds_and_never_loses_to_the_public_stage():
    train, hybrid, support = frames()
    r, info = fit_direct(train, hybrid, support, settings=KEEP)
    pub, priv = info["selection"]
    assert pub["trees_per_round"] == priv["trees_per_round"] == K
    assert len(pub["support_log_loss_by_trees"]) == FAST["public_rounds"] + 1
    assert len(priv["support_log_loss_by_trees"]) == FAST["private_rounds"] + 1
    assert pub["trees_kept"] % K == 0 and priv["trees_kept"] % K == 0
    assert priv["support_log_loss"] <= priv["support_log_loss_public_model"]
    assert r.model.feature.shape[0] == info["public_trees"] + info["private_trees_released"]
    # the reported loss is the released model's multiclass log-loss on the support rows
    p = prepare(train, hybrid, SCHEMA, support_df=support)
    xs = torch.from_numpy(p.pre.transform(support, what="support"))
    logits = r.model(xs).double().numpy()
    ys = p.labels.transform(support["y"], "support")
    assert logits.shape == (len(support), K)
    assert np.mean(row_softmax_log_loss(logits, ys)) == pytest.approx(priv["support_log_loss"], abs=1e-5)
    # the release guard against sgd_hybrid judges a multiclass release by the network learner's criterion
    # (its headline metric: macro-F1 when there is no binary AUROC); a stand-in baseline keeps the test fast
    from fusiondp.trees.guard import tree_release_guard

    released, section, _ = tree_release_guard(r, p.data, (xs.numpy(), ys), baseline=r)
    assert section["metric"] == "macro_f1" and section["released"] == "private" and released.model is r.model


def test_guard_z_releases_the_public_stage_when_the_gain_is_noise():
    """ε tiny: the private rounds are mostly noise, so their per-row gain does not pass a high bar."""
    train, hybrid, support = frames()
    _, info = fit_direct(train, hybrid, support, cfg=TrainConfig(epsilon=0.05, accountant="rdp"),
                         settings={"guard_z": 50.0})
    assert info["private_trees_released"] == 0 and info["selection"][1]["trees_kept"] == 0


# ---------------------------------------------------------------- model file, predict, estimator
def test_model_file_and_cli_predict(tmp_path):
    from fusiondp.cli.app import _load_commands, app

    _load_commands()
    t = three_class(380)
    t.iloc[:230].to_csv(tmp_path / "train.csv", index=False)
    t.iloc[230:].to_csv(tmp_path / "support.csv", index=False)
    make_hybrid(t.iloc[:230]).to_csv(tmp_path / "hybrid.csv", index=False)
    score = three_class(60, seed=5)
    score.drop(columns=["y"]).to_csv(tmp_path / "score.csv", index=False)
    model = tmp_path / "m.safetensors"
    args = ["train", "--train", str(tmp_path / "train.csv"), "--hybrid", str(tmp_path / "hybrid.csv"),
            "--public-reference", str(tmp_path / "support.csv"), "--target", "y", "--sensitive", ",".join(SENSITIVE),
            "--drop", "id", "--categorical", "ward,unit", "--learner", "trees", "--accountant", "rdp",
            "--epsilon", "4", "--no-progress", "--no-public-baseline", "--report", str(tmp_path / "run.json"),
            "--save-model", str(model)]
    runner = CliRunner()
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    rep = json.loads((tmp_path / "run.json").read_text())
    assert rep["trees"]["classes"] == K and rep["epsilon"] <= 4.0
    saved = fio.load(model)
    assert saved.metadata["architecture"]["n_outputs"] == K and saved.classes == [0, 1, 2]
    assert saved.model.base.shape == (K,) and saved.model.feature.shape[0] % K == 0
    proba = saved.predict_proba(score)
    assert proba.shape == (len(score), K) and np.allclose(proba.sum(1), 1)
    res = runner.invoke(app, ["predict", "--model", str(model), "--data", str(tmp_path / "score.csv"), "--out",
                              str(tmp_path / "p.csv")])
    assert res.exit_code == 0, res.output
    pred = pd.read_csv(tmp_path / "p.csv")
    assert list(pred.columns) == ["id", "prediction", "proba_0", "proba_1", "proba_2"]
    np.testing.assert_allclose(pred[["proba_0", "proba_1", "proba_2"]].to_numpy(), proba, rtol=1e-6, atol=1e-7)
    assert (pred["prediction"].to_numpy() == proba.argmax(1)).all()
    assert saved.privacy["epsilon"] == rep["epsilon"]


def test_model_file_refuses_a_tree_count_that_is_not_whole_rounds():
    meta = {"type": "TreeEnsemble", "n_features": 4, "n_outputs": 3, "n_trees": 7, "depth": 3, "n_edges": 31}
    with pytest.raises(ValueError, match="whole number of rounds"):
        fio._check_architecture(meta, "architecture")
    with pytest.raises(ValueError, match="one logit or K >= 3"):
        fio._check_architecture({**meta, "n_outputs": 2, "n_trees": 8}, "architecture")
    fio._check_architecture({**meta, "n_trees": 9}, "architecture")


def test_estimator_multiclass_trees(monkeypatch):
    """The estimator: K class probabilities; its carved-out support set carries labels, so the private stage
    runs; without support labels a multiclass private run is refused with the hint. (The defaults rule's
    rounds are shortened to FAST here: the estimator has no tree-settings argument.)"""
    import fusiondp.trees.learner as learner
    from fusiondp.estimator import FusionDPClassifier

    rule = learner.auto_tree_settings
    monkeypatch.setattr(learner, "auto_tree_settings", lambda *a, **k: rule(*a, **{**FAST, **k}))

    train, hybrid, _ = frames(500)
    X, y = train.drop(columns=["y", "id"]), train["y"]
    clf = FusionDPClassifier(sensitive=SENSITIVE, categorical=["ward", "unit"], learner="trees", epsilon=2.0,
                             accountant="rdp", support_fraction=0.3, imputer="mean", release_guard=False)
    clf.fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), K) and np.allclose(proba.sum(1), 1)
    assert clf.report_["trees"]["classes"] == K and clf.epsilon_spent_ <= 2.0 + 1e-9
    with pytest.raises(ConfigError, match="labelled public support set"):
        FusionDPClassifier(sensitive=SENSITIVE, categorical=["ward", "unit"], learner="trees", epsilon=2.0,
                           accountant="rdp").fit(X, y, hybrid=hybrid.drop(columns=["y", "id"]))


# ---------------------------------------------------------------- refusals
def test_refusals():
    train, hybrid, support = frames()
    with pytest.raises(ConfigError, match="labelled public support set"):  # no labels: histograms are binary
        fit_direct(train, hybrid, support.drop(columns=["y"]))
    with pytest.raises(ConfigError, match="binary only"):
        fit_direct(train, hybrid, support, settings={"private_structure": "histograms"})
    with pytest.raises(ConfigError, match="structure_candidates"):
        fit_direct(train, hybrid, support, settings={"structure_candidates": 2})
    with pytest.raises(UnsupportedError, match="blend learner supports binary targets only"):
        run(train, hybrid, SCHEMA, method="fusiondp", config=TrainConfig(epsilon=2.0, accountant="rdp"),
            support_df=support, progress=False, learner="blend", tree_settings=FAST)


def test_report_plot_spaces_rounds_of_k_trees():
    """The HTML page's selection plot puts a multiclass curve's points K trees apart (one point per round)."""
    from fusiondp.report.html import tree_selection_curve

    train, hybrid, support = frames()
    _, info = fit_direct(train, hybrid, support, settings=KEEP)
    fig, caption = tree_selection_curve({"trees": info})
    public_line, *_ = fig.axes[0].get_lines()
    xs = public_line.get_xdata()
    assert list(xs) == list(range(0, K * (FAST["public_rounds"] + 1), K))
    assert f"the {info['selection'][0]['trees_kept']} public trees kept" in caption
