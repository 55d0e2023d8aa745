"""The tree learner's "never below the free baseline" part (fusiondp.trees.guard): shrunk private leaves and the
release guard with the network's `sgd_hybrid` as a candidate; both read public data and released values only."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from fusiondp.pipeline import encode_support, prepare
from fusiondp.train.config import TrainConfig
from fusiondp.trees import fit_trees
from fusiondp.trees.guard import james_stein, leaf_values, tree_release_guard
from tests.trees.test_trees import FAST, SCHEMA, fit, frames


def test_james_stein_beats_the_raw_release_on_noise_and_keeps_a_strong_signal():
    """Pure noise (the private correction is 0: exact imputation): the shrunk estimate's squared error is well
    below the raw draw's; a correction far above the noise is almost unchanged."""
    rng = np.random.default_rng(0)
    draws = rng.normal(0.0, 3.0, size=(400, 8))
    raw = np.mean(np.sum(draws ** 2, axis=1))
    shrunk = np.mean([np.sum(james_stein(d, 9.0) ** 2) for d in draws])
    assert shrunk < 0.5 * raw
    signal = np.full(8, 100.0)
    noisy = signal + rng.normal(0.0, 3.0, 8)
    assert np.allclose(james_stein(noisy, 9.0), noisy, rtol=0.01)
    assert np.array_equal(james_stein(noisy, 0.0), noisy)


def test_leaf_values_shrink_only_the_private_part():
    """The hybrid sums are exact and kept; only release − hybrid sums is shrunk. Under overwhelming noise the
    leaves fall back to the hybrid rows' Newton step; without shrinkage they follow the noise."""
    g_pub, h_pub = np.array([-5.0, 3.0, 1.0, -2.0]), np.array([20.0, 15.0, 30.0, 25.0])
    rng = np.random.default_rng(1)
    noise = rng.normal(0.0, 50.0, (2, 4))
    kw = dict(l2=1.0, max_leaf=2.0, min_leaf_h=0.0)
    hybrid_step = -g_pub / (h_pub + 1.0)
    js = leaf_values(g_pub + noise[0], h_pub + noise[1], g_pub, h_pub, 50.0, shrinkage="james_stein", **kw)
    raw = leaf_values(g_pub + noise[0], h_pub + noise[1], g_pub, h_pub, 50.0, shrinkage="none", **kw)
    assert np.abs(js - hybrid_step).max() < np.abs(raw - hybrid_step).max()
    exact = leaf_values(g_pub, h_pub, g_pub, h_pub, 50.0, shrinkage="james_stein", **kw)
    np.testing.assert_allclose(exact, hybrid_step)


def test_unknown_shrinkage_is_refused():
    from fusiondp.errors import ConfigError
    from fusiondp.trees.settings import auto_tree_settings

    assert auto_tree_settings(1000, 1.0, 5, support_labels=True).private_shrinkage == "james_stein"
    with pytest.raises(ConfigError, match="private_shrinkage"):
        auto_tree_settings(1000, 1.0, 5, support_labels=True, private_shrinkage="bayes")
    with pytest.raises(ConfigError, match="private_shrinkage"):
        leaf_values(np.zeros(2), np.ones(2), np.zeros(2), np.ones(2), 1.0, l2=1.0, max_leaf=2.0, min_leaf_h=0.0,
                    shrinkage="bayes")


def _prepared(train, hybrid, support):
    p = prepare(train, hybrid, SCHEMA, support_df=support, eval_frames={"check": support})
    return p, encode_support(p, support)


class _Constant(nn.Module):
    def forward(self, x):
        return torch.zeros(x.shape[0])


@pytest.fixture(scope="module")
def guarded():
    """One tree run on a small generated table, its support set and the guard's trained `sgd_hybrid`."""
    train, hybrid, support = frames()
    p, sup = _prepared(train, hybrid, support)
    cfg = TrainConfig(epsilon=2.0, accountant="rdp")
    result, _ = fit_trees("fusiondp", p.data, p.pre.sensitive_mask(), cfg, support=sup, settings=FAST)
    released, section, base = tree_release_guard(result, p.data, sup)
    return p, sup, result, released, section, base


def test_guard_releases_the_mlp_when_the_trees_are_worse_on_the_support_set(guarded):
    """A constructed case: a tree release that ranks nothing (constant score) loses to `sgd_hybrid`, which is
    then released with the run's ε, method and accounting unchanged; the better of the two is released."""
    p, sup, result, _, section2, base = guarded
    bad = dataclasses.replace(result, model=_Constant())
    released, section, _ = tree_release_guard(bad, p.data, sup, baseline=base)
    assert section["released"] == "sgd_hybrid" and section["private_score"] == pytest.approx(0.5)
    assert released.model is base.model and released.epsilon == result.epsilon and released.plan is result.plan
    assert section2["released"] == ("private" if section2["private_score"] >= section2["baseline_score"]
                                    or section2["bar"]["kept_trees"] else "sgd_hybrid")
    assert section["bar"]["kept_trees"] is False and section["bar"]["auroc_lead"] > 2 * section["bar"]["bootstrap_se"]


class _Blurred(nn.Module):
    """The baseline's own logit plus fixed row noise: an AUROC a little below the baseline's (a narrow loss)."""

    def __init__(self, base: nn.Module, scale: float) -> None:
        super().__init__()
        self.base, self.scale = base, scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = torch.Generator().manual_seed(0)
        out = self.base(x)
        return out + self.scale * torch.randn(out.shape, generator=g, dtype=out.dtype)


def test_a_narrow_support_lead_does_not_replace_the_trees(guarded):
    """`sgd_hybrid` replaces the trees only if its support AUROC lead exceeds guard_z bootstrap standard errors:
    a tree release a little worse on the support set is kept at z = 2 and replaced at z = 0 (the bare maximum);
    the bar's standard error reads public rows only and is reproducible from the public seed."""
    p, sup, result, _, _, base = guarded
    narrow = None
    for scale in (0.05, 0.1, 0.2, 0.4):
        cand = dataclasses.replace(result, model=_Blurred(base.model, scale))
        r0, s0, _ = tree_release_guard(cand, p.data, sup, baseline=base, z=0.0)
        if s0["released"] == "sgd_hybrid" and s0["baseline_score"] - s0["private_score"] < 0.02:
            narrow = cand
            break
    assert narrow is not None, "no narrow loss constructed"
    assert r0.model is base.model and "bar" not in s0
    r2, s2, _ = tree_release_guard(narrow, p.data, sup, baseline=base, z=2.0)
    assert s2["released"] == "private" and r2.model is narrow.model and s2["bar"]["kept_trees"]
    assert s2["bar"]["auroc_lead"] <= 2.0 * s2["bar"]["bootstrap_se"]
    _, again, _ = tree_release_guard(narrow, p.data, sup, baseline=base, z=2.0)
    assert again["bar"] == s2["bar"]


def test_guard_choice_reads_no_private_value(guarded):
    """Attack: with the private release fixed, change every training row's sensitive values (to far-off random
    ones): the guard's choice, its scores and the released model (the baseline retrained too) are
    unchanged, so the choice is a function of the release and public data only (post-processing, no ε)."""
    p, sup, result, a, sa, _ = guarded
    x = p.data.x.clone()
    cols = torch.from_numpy(np.asarray(p.pre.sensitive_mask(), bool))
    x[:, cols] = 1000.0 * torch.randn(x.shape[0], int(cols.sum()), dtype=x.dtype)
    poisoned = dataclasses.replace(p.data, x=x)
    b, sb, _ = tree_release_guard(result, poisoned, sup, baseline=None)
    assert {k: v for k, v in sa.items() if k != "baseline_seconds"} == \
        {k: v for k, v in sb.items() if k != "baseline_seconds"}
    assert torch.equal(torch.cat([q.flatten() for q in a.model.state_dict().values()]),
                       torch.cat([q.flatten() for q in b.model.state_dict().values()]))


def test_pipeline_tree_run_reports_the_guard_and_can_skip_it():
    train, hybrid, support = frames()
    cfg = TrainConfig(epsilon=2.0, accountant="rdp")
    r, _, rep = fit(train, hybrid, support, cfg=cfg)
    g = rep["release_guard"]
    assert g["baseline"] == "sgd_hybrid" and g["released"] in ("private", "sgd_hybrid")
    assert (g["released"] == "private") == (g["private_score"] >= g["baseline_score"] or g["bar"]["kept_trees"])
    assert r.public_baseline is not None and rep["epsilon"] == r.epsilon
    from fusiondp.pipeline import run

    _, _, rep2 = run(train, hybrid, SCHEMA, method="fusiondp", config=cfg, support_df=support, progress=False,
                     learner="trees", tree_settings=FAST, guard=False)
    assert "release_guard" not in rep2
    _, _, rep3 = fit(train, hybrid, support.drop(columns=["y"]), cfg=cfg)  # no labels: nothing to judge on
    assert "release_guard" not in rep3


def test_guarded_private_stage_stays_at_the_public_stage_when_imputation_is_exact():
    """Held-out public check in a constructed case: the hybrid equals the training rows (every private
    difference is 0) and ε is tiny, so the private leaf sums are noise around the hybrid sums. The default
    release (shrinkage, support-set prefix choice, significance bar) scores on held-out rows within 0.01 AUROC
    of the public stage on every draw tried. Shrinkage alone does not promise this: with every private tree
    kept, some draws land 0.05-0.23 below the public stage on this construct (measured in round 5 at lr 0.15
    and 0.3), which is why the guard exists; shrinkage's own claim (it beats the raw noised sums on average)
    is tested by `test_james_stein_beats_the_raw_release_on_noise_and_keeps_a_strong_signal`."""
    from sklearn.metrics import roc_auc_score

    from fusiondp.evaluate.metrics import predict_scores

    train, hybrid, support = frames(n=600, seed=3)
    held = support.iloc[75:].reset_index(drop=True)
    support = support.iloc[:75].reset_index(drop=True)
    p = prepare(train, hybrid, SCHEMA, support_df=support, eval_frames={"held": held})
    p = dataclasses.replace(p, data=dataclasses.replace(p.data, x=p.data.x_hybrid.clone()))  # exact imputation
    sup = encode_support(p, support)
    x_held, y_held = p.eval_sets["held"]
    settings = {**FAST, "private_rounds": 20, "private_min_hessian_times_noise": 0.0}
    pub, _ = fit_trees("sgd_hybrid", p.data, p.pre.sensitive_mask(), TrainConfig(), support=sup, settings=settings)
    public_auc = roc_auc_score(y_held.numpy(), predict_scores(pub.model, x_held))
    for noise_seed in (1, 2, 3, 4, 5, 6):
        cfg = TrainConfig(epsilon=0.05, accountant="rdp", insecure_noise_seed=noise_seed)
        r, info = fit_trees("fusiondp", p.data, p.pre.sensitive_mask(), cfg, support=sup, settings=settings)
        assert info["settings"]["private_shrinkage"] == "james_stein"
        assert roc_auc_score(y_held.numpy(), predict_scores(r.model, x_held)) >= public_auc - 0.01


def test_private_trees_need_a_significant_support_gain():
    """`guard_z`: private trees are released only if their support log-loss gain over the whole public stage
    exceeds z standard errors. An unreachable bar releases the public stage itself (bit-identical trees); no
    bar keeps the private prefix. Public rows and released values only, so the same noise draw is used."""
    from fusiondp.trees.guard import significant_gain

    train, hybrid, support = frames()
    p = prepare(train, hybrid, SCHEMA, support_df=support)
    sup = encode_support(p, support)
    cfg = TrainConfig(epsilon=8.0, accountant="rdp", insecure_noise_seed=5)
    base = {**FAST, "private_min_hessian_times_noise": 0.0}
    mask = p.pre.sensitive_mask()
    kept, ik = fit_trees("fusiondp", p.data, mask, cfg, support=sup, settings={**base, "guard_z": 0.0})
    vetoed, iv = fit_trees("fusiondp", p.data, mask, cfg, support=sup, settings={**base, "guard_z": 1e6})
    public, _ = fit_trees("sgd_hybrid", p.data, mask, TrainConfig(epsilon=None), support=sup, settings=base)
    assert ik["private_trees_released"] > 0
    assert iv["private_trees_released"] == 0 and iv["selection"][-1]["guard_test"] == "gain not significant"
    sv, sp = vetoed.model.state_dict(), public.model.state_dict()
    assert all(torch.equal(sv[k], sp[k]) for k in sp)
    assert vetoed.epsilon == kept.epsilon  # the veto is post-processing: the run spent the same budget
    assert significant_gain(np.ones(50), np.zeros(50), 2.0)
    assert not significant_gain(np.ones(50), np.ones(50), 2.0)
