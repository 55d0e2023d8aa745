"""The binary tree learner's released tensors are pinned: round 6's multiclass work must not move them.

The digests were computed on main at 7dd491f (before the multiclass path existed) with test-only replayable
noise (``insecure_noise_seed``); the sepsis/adult/fair benchmark pages depend on the binary path staying
bit-identical. A digest covers every tensor of the released ensemble (bytes), ε, the noise std, the
support-set selection record and the tree counts. If a deliberate change to the binary learner moves them,
recompute them on the new code and say why in the commit.
"""

from __future__ import annotations

import hashlib
import json

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
                        "6a36e8b621ac5422fb0eb30dc5e1964ded5204626ee6c40ed2eec5f097ca48e9"),
    # labelled support set, the defaults rule's leaf mechanism (shrinkage, guard_z)
    "leaves_default": ("fusiondp", True, {}, "f48e37a37ca8af0825f27c34c7745b3a8b51932b58450f7e68676edafe950151"),
    # no support labels: the noised-histogram structures
    "histograms": ("fusiondp", False, {}, "4d2695b4135964f94d389352b86d054dce6f91286e42e1e4ce799e7b82059961"),
    # the public stage alone (ε = 0)
    "public_stage": ("sgd_hybrid", True, {}, "37207d3387fe182ba2fd7dee096bee98faac25fdf89ed1d4875dca503246e0a5"),
}


def _digest(method: str, labelled: bool, settings: dict) -> str:
    train, hybrid, support = frames()
    if not labelled:
        support = support.drop(columns=["y"])
    p = prepare(train, hybrid, SCHEMA, support_df=support)
    ys = p.labels.transform(support["y"], "support") if labelled else None
    sup = (p.pre.transform(support, what="support"), ys)
    cfg = TrainConfig(epsilon=4.0, accountant="rdp", insecure_noise_seed=123)
    r, info = fit_trees(method, p.data, p.pre.sensitive_mask(), cfg, support=sup, settings={**FAST, **settings})
    h = hashlib.sha256()
    for k, v in sorted(r.model.state_dict().items()):
        h.update(k.encode())
        h.update(v.numpy().tobytes())
    h.update(json.dumps([r.epsilon, info["selection"], info["noise_std"], info["public_trees"],
                         info["private_trees_released"]], sort_keys=True).encode())
    return h.hexdigest()


@pytest.mark.parametrize("case", sorted(CASES))
def test_binary_release_is_bit_identical_to_main_before_multiclass(case):
    method, labelled, settings, pinned = CASES[case]
    assert _digest(method, labelled, settings) == pinned
