"""Fixtures of the product tests: one tiny trained run shared by a test module."""

import pytest
import torch

from fusiondp.pipeline import run
from fusiondp.report.record import Provenance
from fusiondp.train.config import TrainConfig
from tables import SENSITIVE, make_hybrid, make_table
from fusiondp.data.schema import Schema

FAST = dict(epochs=1, batch_size=32, public_batch_size=64, delta=1e-4, epsilon=None, noise_multiplier=1.0,
            accountant="rdp", hidden=(16, 16))


@pytest.fixture(scope="module")
def tiny_run():
    torch.set_num_threads(1)
    t = make_table(200)
    schema = Schema("y", SENSITIVE, drop=["id"])
    result, prepared, record = run(t, make_hybrid(t), schema, method="fusiondp", config=TrainConfig(**FAST),
                                   test_df=make_table(80, seed=5), progress=False,
                                   provenance=Provenance(imputer="default", support_fingerprint="sha256:test"))
    return result, prepared, record
