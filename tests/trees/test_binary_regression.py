"""The binary tree learner's released tensors are pinned: round 6's multiclass work must not move them.

Pinned on main at 7dd491f (before the multiclass path existed; a full byte digest of every released tensor,
ε, the noise std and the selection record matched there and after the multiclass merge) with test-only
replayable noise (``insecure_noise_seed``); the sepsis/adult/fair benchmark pages depend on the binary path
staying as it is. What is pinned: the trees' structure exactly (a digest of the split features and
thresholds, integers, and of the kept tree counts) and the floats to a relative 1e-9 (sum and sum of squares
of the leaf values, ε, the noise std), so a different BLAS or CPU rounding the last bits differently does
not fail it while any real change does. If a deliberate change to the binary learner moves them, recompute
them on the new code and say why in the commit.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

import pytest

from fusiondp.data.schema import Schema
from fusiondp.pipeline import prepare
from fusiondp.train.config import TrainConfig
from fusiondp.trees import fit_trees
from tests.tables import SENSITIVE, make_hybrid, make_table

# the inputs the digests were computed on (copied from tests/trees/test_trees.py at 7dd491f, so the pin does
# not move if that file's fixtures change)
SCHEMA = Schema("y", SENSITIVE, drop=["id"], categorical=["ward", "unit"])
FAST = {"public_rounds": 15, "private_rounds": 3}


def frames(n: int = 400, seed: int = 0):
    table = make_table(n + 150, seed)
    train, support = table.iloc[:n].reset_index(drop=True), table.iloc[n:].reset_index(drop=True)
    return train, make_hybrid(train), support

CASES = {
    # labelled support set, leaf mechanism, every private tree kept (clip 5, no hessian floor, no z bar)
    "leaves_all_kept": ("fusiondp", True, {"clip": 5.0, "private_min_hessian_times_noise": 0.0, "guard_z": 0.0},
                        ("531c1ebab8916d90941e38466fca730718214b0ab3730d633a802e9da9c76c55",
                         -0.6210465476612974, 0.9490747401679888, 3.9997745022919506, 10.025335755857185)),
    # labelled support set, the defaults rule's leaf mechanism (shrinkage, guard_z)
    "leaves_default": ("fusiondp", True, {},
                       ("531c1ebab8916d90941e38466fca730718214b0ab3730d633a802e9da9c76c55",
                        0.36959449436972924, 0.6302899257328491, 3.9997745022919506, 2.005067151171437)),
    # no support labels: the noised-histogram structures
    "histograms": ("fusiondp", False, {},
                   ("847aa2e2a4a5305118bcae5ece64d6addc64e42d0cf62dd0160ed8c1692dca59",
                    0.04512082626692826, 3.7712382623751437, 3.999996671515043, 5.6709095385427055)),
    # the public stage alone (ε = 0)
    "public_stage": ("sgd_hybrid", True, {},
                     ("a61ebc8eef41af7d41ed201283e18675f174f9cf384906a870fbf7b3ed62431d",
                      0.279031890588712, 0.5945242354565624, 0.0, None)),
}


def _fingerprint(method: str, labelled: bool, settings: dict) -> tuple:
    train, hybrid, support = frames()
    if not labelled:
        support = support.drop(columns=["y"])
    p = prepare(train, hybrid, SCHEMA, support_df=support)
    ys = p.labels.transform(support["y"], "support") if labelled else None
    sup = (p.pre.transform(support, what="support"), ys)
    cfg = TrainConfig(epsilon=4.0, accountant="rdp", insecure_noise_seed=123)
    r, info = fit_trees(method, p.data, p.pre.sensitive_mask(), cfg, support=sup, settings={**FAST, **settings})
    sd = r.model.state_dict()
    h = hashlib.sha256()
    for name in ("feature", "threshold"):
        h.update(sd[name].numpy().tobytes())
    h.update(json.dumps([info["public_trees"], info["private_trees_released"],
                         [e.get("trees_kept") for e in info["selection"]]]).encode())
    leaf = sd["leaf"].numpy()
    return h.hexdigest(), float(leaf.sum()), float(np.square(leaf).sum()), float(r.epsilon), info["noise_std"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_binary_release_is_unchanged_since_before_multiclass(case):
    method, labelled, settings, pinned = CASES[case]
    structure, *floats = _fingerprint(method, labelled, settings)
    assert structure == pinned[0]
    assert floats[:3] == pytest.approx(list(pinned[1:4]), rel=1e-9, abs=1e-12)
    assert (floats[3] is None) == (pinned[4] is None)
    if pinned[4] is not None:
        assert floats[3] == pytest.approx(pinned[4], rel=1e-9)
