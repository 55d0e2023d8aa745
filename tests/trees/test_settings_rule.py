"""The tree learner's defaults rule (`fusiondp.trees.settings.auto_tree_settings`): public quantities only.

Fast checks of the rule's shape read from ``defaults.json`` (not hard-coded here), so they hold for whatever
constants the data file carries: the private rounds follow ``rounds_per_epsilon · ε`` clamped to
[``rounds_min``, ``rounds_max``] (never fewer at a larger ε), given values win, and the accountant is told every
release the rounds make (ε spent = the target).
"""

from __future__ import annotations

import numpy as np
import pytest

from fusiondp.trees.settings import auto_tree_settings, tree_defaults

EPSILONS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 64.0)


def _leaves() -> dict:
    return tree_defaults()["private_leaves"]


def test_private_rounds_grow_with_epsilon_and_are_clamped():
    d = _leaves()
    rounds = [auto_tree_settings(10_000, e, 20, support_labels=True).private_rounds for e in EPSILONS]
    assert rounds == sorted(rounds)  # never fewer trees at a larger budget
    assert min(rounds) >= d["rounds_min"] and max(rounds) <= d["rounds_max"]
    assert rounds[0] == d["rounds_min"] and rounds[-1] == d["rounds_max"]
    for e, r in zip(EPSILONS, rounds):
        assert r == min(d["rounds_max"], max(d["rounds_min"], round(d["rounds_per_epsilon"] * e)))


def test_private_learning_rate_comes_from_the_data_file_and_given_values_win():
    d = _leaves()
    for e in EPSILONS:
        assert auto_tree_settings(10_000, e, 20, support_labels=True).private_lr == d["lr"]
    assert auto_tree_settings(10_000, 8.0, 20, support_labels=True).private_start_trees == d["start_public_trees"]
    # an explicit learning rate or round count still wins over the rule
    assert auto_tree_settings(10_000, 8.0, 20, support_labels=True, private_lr=0.05).private_lr == 0.05
    assert auto_tree_settings(10_000, 8.0, 20, support_labels=True, private_rounds=7).private_rounds == 7


def test_rule_reads_no_data_value():
    """Same public quantities, same settings (nothing else is an argument)."""
    a = auto_tree_settings(5_000, 4.0, 12, support_labels=True)
    b = auto_tree_settings(5_000, 4.0, 12, support_labels=True)
    assert a == b


@pytest.mark.parametrize("epsilon", [0.5, 8.0])
def test_every_round_of_the_rule_is_accounted(epsilon):
    """The accountant composes one release per private tree (per candidate): ε spent equals the target."""
    import torch

    from fusiondp.train.config import TrainConfig
    from fusiondp.train.views import TrainData
    from fusiondp.trees import fit_trees

    rng = np.random.default_rng(0)
    n, f = 300, 4
    x = rng.normal(size=(n, f)).astype(np.float32)
    xh = x.copy()
    xh[:, 0] = 0.0  # the sensitive column, imputed as a constant
    y = (x[:, 0] + x[:, 1] + rng.normal(size=n) > 0).astype(np.float32)
    xs = rng.normal(size=(120, f))
    ys = (xs[:, 0] + xs[:, 1] > 0).astype(np.float64)
    data = TrainData(x=torch.as_tensor(x), x_hybrid=torch.as_tensor(xh), y=torch.as_tensor(y), n_classes=2)
    mask = np.array([True, False, False, False])
    settings = {"public_rounds": 3}
    res, info = fit_trees("fusiondp", data, mask, TrainConfig(epsilon=epsilon, seed=0), support=(xs, ys),
                          settings=settings)
    s = auto_tree_settings(n, epsilon, f, support_labels=True, **settings)
    assert info["private_trees_trained"] == s.private_rounds
    assert res.plan.steps == s.private_rounds * s.releases_per_round
    assert res.epsilon == pytest.approx(epsilon, rel=1e-3) and res.epsilon <= epsilon * (1 + 1e-9)
