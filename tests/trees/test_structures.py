"""Subsampled and candidate structures of the leaf mechanism (fusiondp.trees.structures, docs/method.md §9):
public subsamples, attacks, accounting of the candidates' releases, the post-processing choice."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fusiondp.errors import ConfigError
from fusiondp.pipeline import prepare
from fusiondp.privacy.accounting import epsilon
from fusiondp.train.config import TrainConfig
from fusiondp.trees import fit_trees
from fusiondp.trees.structures import _subsample, candidate_leaf_rounds, released_gain
from tests.trees.test_trees import SCHEMA, fit, frames

SUB = {"public_rounds": 15, "private_rounds": 3, "structure_row_fraction": 0.5, "structure_col_fraction": 0.5}


def _fit_encoded(train, hybrid, support, cfg, settings):
    p = prepare(train, hybrid, SCHEMA, support_df=support)
    sup = (p.pre.transform(support, what="support"), p.labels.transform(support["y"], "support"))
    return fit_trees("fusiondp", p.data, p.pre.sensitive_mask(), cfg, support=sup, settings=settings)


def _private(result, info, k=0):
    j = info["public_trees"] + k
    m = result.model
    return m.feature.numpy()[j], m.threshold.numpy()[j], m.leaf.numpy()[j]


def test_subsample_is_a_public_function_of_the_generator():
    a = _subsample(np.random.default_rng([3, 25]), 100, 0.5)
    b = _subsample(np.random.default_rng([3, 25]), 100, 0.5)
    assert np.array_equal(a, b) and len(a) == 50 and len(np.unique(a)) == 50
    assert np.array_equal(_subsample(np.random.default_rng(0), 7, 1.0), np.arange(7))


def test_released_gain_reads_only_leaves_above_the_noise_floor():
    G, H = np.array([4.0, -2.0, 10.0]), np.array([3.0, 1.0, 0.5])
    assert np.isclose(released_gain(G, H, 1.0, 0.0), 16 / 4 + 4 / 2 + 100 / 1.5)
    assert np.isclose(released_gain(G, H, 1.0, 0.9), 16 / 4 + 4 / 2)  # the H = 0.5 leaf is below the floor


def test_subsampled_structures_attack_splits_public_leaves_private():
    """K = 1 candidate on public subsamples: one record's true sensitive values leave every split of the first
    private tree unchanged (support rows, the public seed's subsamples and the released model only), but move
    its leaves (replayable test-only noise)."""
    train, hybrid, support = frames()
    cfg = TrainConfig(epsilon=8.0, accountant="rdp", insecure_noise_seed=11)
    settings = {**SUB, "clip": 5.0, "private_min_hessian_times_noise": 0.0}
    a, ia = _fit_encoded(train, hybrid, support, cfg, settings)
    changed = train.copy()
    changed.loc[:20, "age"] = changed.loc[:20, "age"] + 60
    b, ib = _fit_encoded(changed, hybrid, support, cfg, settings)
    assert ia["private_trees_released"] > 0 and ib["private_trees_released"] > 0
    fa, ta, la = _private(a, ia)
    fb, tb, lb = _private(b, ib)
    assert np.array_equal(fa, fb) and np.array_equal(ta, tb)
    assert not np.allclose(la, lb)
    # a different public seed draws different subsamples, so (on this table) a different first structure
    c, ic = _fit_encoded(train, hybrid, support, TrainConfig(epsilon=8.0, accountant="rdp", insecure_noise_seed=11,
                                                             seed=5), settings)
    fc, tc, _ = _private(c, ic)
    assert not (np.array_equal(fa, fc) and np.array_equal(ta, tc))


def _direct_rounds(b_o, k, seed=0):
    """candidate_leaf_rounds on a generated binned table (noise off: no generator), public stage empty."""
    from types import SimpleNamespace

    from fusiondp.trees.settings import auto_tree_settings

    gen = np.random.default_rng(1)
    n, f, nb = 3000, 6, 8
    b_s = gen.integers(0, nb, (300, f))
    y_sup = (gen.random(300) < 1 / (1 + np.exp(-(b_s[:, 0] - 3.5)))).astype(float)
    y = (gen.random(n) < 1 / (1 + np.exp(-(TRUE[:, 0] - 3.5)))).astype(float)
    b_h = TRUE.copy()
    b_h[:, 0] = 3  # the imputed sensitive column
    s = auto_tree_settings(n, 2.0, f, support_labels=True, private_rounds=2, structure_candidates=k,
                           structure_col_fraction=0.5, structure_min_hessian=1.0, bins=nb)
    rng = SimpleNamespace(noise=None)
    trees = candidate_leaf_rounds(s, [], 0.0, b_o, b_h, b_s, y, y_sup, np.zeros(n), np.zeros(n), np.arange(f),
                                  0.0, rng, seed)
    return [(t.feature.copy(), t.threshold.copy(), t.leaf.copy()) for t, _ in trees]


TRUE = np.random.default_rng(2).integers(0, 8, (3000, 6))


def test_candidates_are_chosen_by_the_release_so_private_rows_can_change_the_choice():
    """K > 1: the kept candidate is post-processing of the candidates' releases, so the private rows may change
    which structure is kept (that is what the K releases pay for); with K = 1 they never change the first tree's
    splits (later ones are grown under the released model), only its leaves. Generated binned rows, noise off."""
    scrambled = TRUE.copy()
    scrambled[:, 0] = np.random.default_rng(3).permutation(scrambled[:, 0])
    for k, structure_may_change in ((1, False), (4, True)):
        a, b = _direct_rounds(TRUE, k), _direct_rounds(scrambled, k)
        # the first tree: later structures are grown under the model the earlier releases built
        same_splits = np.array_equal(a[0][0], b[0][0]) and np.array_equal(a[0][1], b[0][1])
        assert same_splits != structure_may_change, k
        assert not all(np.allclose(x[2], z[2]) for x, z in zip(a, b))
        assert all(all(np.array_equal(u, v) for u, v in zip(x, z)) for x, z in zip(a, _direct_rounds(TRUE, k)))


def test_candidates_are_accounted_one_release_each():
    train, hybrid, support = frames()
    r, _, rep = fit(train, hybrid, support, cfg=TrainConfig(epsilon=2.0, accountant="rdp"),
                    settings={"structure_candidates": 3, "structure_row_fraction": 0.5})
    s = rep["trees"]["settings"]
    assert r.plan.steps == s["private_rounds"] * 3 == rep["trees"]["releases"]
    assert r.epsilon <= 2.0 + 1e-9
    assert np.isclose(r.epsilon, epsilon(noise_multiplier=r.plan.noise_multiplier, sample_rate=1.0,
                                         steps=r.plan.steps, delta=1e-5, relation="remove", accountant="rdp"))
    one, _, _ = fit(train, hybrid, support, cfg=TrainConfig(epsilon=2.0, accountant="rdp"),
                    settings={"structure_row_fraction": 0.5})
    assert one.plan.steps == s["private_rounds"] and r.plan.noise_multiplier > one.plan.noise_multiplier
    assert rep["epsilon_by_relation"]["replace"]["epsilon"] > rep["epsilon"]


@pytest.mark.parametrize("bad", [{"structure_candidates": 0}, {"structure_row_fraction": 0.0},
                                 {"structure_col_fraction": 1.5}])
def test_bad_structure_settings_are_refused(bad):
    train, hybrid, support = frames()
    with pytest.raises(ConfigError):
        fit(train, hybrid, support, settings=bad)


@pytest.mark.parametrize("eps", [0.05, 4.0])
def test_short_public_start_is_never_worse_than_the_whole_public_stage_on_the_support_set(eps):
    """`private_start_trees`: the private stage starts from fewer public trees, but the guard still compares
    with the whole selected public stage, so the release's support log-loss is at most the public stage's
    (at tiny ε the noised private trees lose and the whole public stage is released)."""
    from fusiondp.evaluate.metrics import predict_scores

    train, hybrid, support = frames()
    settings = {**SUB, "public_rounds": 30, "private_start_trees": 2}
    p = prepare(train, hybrid, SCHEMA, support_df=support)
    sup = (p.pre.transform(support, what="support"), p.labels.transform(support["y"], "support"))
    r, info = fit_trees("fusiondp", p.data, p.pre.sensitive_mask(), TrainConfig(epsilon=eps, accountant="rdp"),
                        support=sup, settings=settings)
    pub, priv = info["selection"]
    assert pub["trees_kept"] > 2
    assert priv["support_log_loss"] <= pub["support_log_loss"] + 1e-12
    assert priv["support_log_loss"] <= priv["support_log_loss_whole_public_stage"]
    n_trees = r.model.feature.shape[0]
    assert n_trees == info["public_trees"] + info["private_trees_released"]
    assert info["public_trees"] in (2, pub["trees_kept"])
    prob = np.clip(predict_scores(r.model, torch.as_tensor(sup[0], dtype=torch.float32)), 1e-12, 1 - 1e-12)
    y = sup[1].numpy() if hasattr(sup[1], "numpy") else np.asarray(sup[1])
    loss = float(np.mean(-(y * np.log(prob) + (1 - y) * np.log(1 - prob))))
    assert loss == pytest.approx(priv["support_log_loss"], rel=1e-4)
