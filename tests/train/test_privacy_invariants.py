"""Privacy invariants that can fail: private values move nothing but the clipped, noised term."""

import numpy as np
import pytest
import torch

from tables import SENSITIVE, make_hybrid, make_table, poison
from fusiondp.data.schema import Schema
from fusiondp.pipeline import prepare, run
from fusiondp.train.config import TrainConfig
from fusiondp.train.methods import METHODS

SCHEMA = Schema("y", SENSITIVE, drop="id")
SMALL = dict(epochs=2, batch_size=32, public_batch_size=64, lr=0.1)


def _weights(result):
    return torch.cat([p.detach().flatten() for p in result.model.parameters()])


def test_preprocessing_statistics_ignore_private_values():
    table = make_table()
    hybrid = make_hybrid(table)
    a = prepare(table, hybrid, SCHEMA).pre.to_dict()
    b = prepare(poison(table), hybrid, SCHEMA).pre.to_dict()
    assert a == b


def test_public_views_ignore_private_values():
    table = make_table()
    hybrid = make_hybrid(table)
    a, b = prepare(table, hybrid, SCHEMA).data, prepare(poison(table), hybrid, SCHEMA).data
    for view in ("x_hybrid", "x_noise", "x_reference"):
        assert torch.equal(getattr(a, view), getattr(b, view)), view
    assert not torch.equal(a.x, b.x)  # the original view does see the poisoned values


@pytest.mark.parametrize("method", ["fusiondp", "fdp_fm", "fdp"])
def test_no_noise_alpha_zero_weights_bit_identical(method):
    table = make_table()
    hybrid = make_hybrid(table)
    cfg = dict(SMALL, alpha=0.0, noise_multiplier=0.0, epsilon=None)
    r1, _, _ = run(table, hybrid, SCHEMA, method=method, config=TrainConfig(**cfg), progress=False)
    r2, _, _ = run(poison(table), hybrid, SCHEMA, method=method, config=TrainConfig(**cfg), progress=False)
    assert torch.equal(_weights(r1), _weights(r2))


def test_the_invariant_test_can_fail_private_term_does_move_weights():
    table = make_table()
    hybrid = make_hybrid(table)
    cfg = dict(SMALL, alpha=1.0, noise_multiplier=0.0, epsilon=None)
    r1, _, _ = run(table, hybrid, SCHEMA, method="fusiondp", config=TrainConfig(**cfg), progress=False)
    r2, _, _ = run(poison(table), hybrid, SCHEMA, method="fusiondp", config=TrainConfig(**cfg), progress=False)
    assert not torch.equal(_weights(r1), _weights(r2))


@pytest.mark.parametrize("method", ["sgd_hybrid", "sgd_pub"])
def test_public_only_methods_never_read_private_values(method):
    table = make_table()
    hybrid = make_hybrid(table)
    r1, _, _ = run(table, hybrid, SCHEMA, method=method, config=TrainConfig(**SMALL), progress=False)
    r2, _, _ = run(poison(table), hybrid, SCHEMA, method=method, config=TrainConfig(**SMALL), progress=False)
    assert torch.equal(_weights(r1), _weights(r2))


def test_ch_is_measured_on_public_data_only():
    table = make_table()
    hybrid = make_hybrid(table)
    cfg = TrainConfig(**SMALL, epsilon=4.0, delta=1e-4)
    r1, _, _ = run(table, hybrid, SCHEMA, method="fusiondp", config=cfg, progress=False)
    r2, _, _ = run(poison(table), hybrid, SCHEMA, method="fusiondp", config=cfg, progress=False)
    assert r1.ch == r2.ch and r1.ch > 0


def test_sampling_mask_and_public_batches_do_not_depend_on_private_values():
    """With noise on, the only difference between runs on poisoned data comes through the private term:
    turning alpha to 0 makes them identical even with sigma > 0."""
    table = make_table()
    hybrid = make_hybrid(table)
    cfg = TrainConfig(**SMALL, alpha=0.0, epsilon=4.0, delta=1e-4)
    r1, _, _ = run(table, hybrid, SCHEMA, method="fusiondp", config=cfg, progress=False)
    r2, _, _ = run(poison(table), hybrid, SCHEMA, method="fusiondp", config=cfg, progress=False)
    assert torch.equal(_weights(r1), _weights(r2))


def test_every_method_spec_is_safe():
    for spec in METHODS.values():
        if spec.is_private:
            assert spec.public_rows != "original", spec.name


def test_warm_start_reads_no_private_value():
    """The warm-start phase trains on hybrid rows only: with the private term off, poisoned sensitive values
    leave the weights bit-identical, and the warm phase does move them (it is not a no-op)."""
    table = make_table()
    hybrid = make_hybrid(table)
    cfg = dict(SMALL, alpha=0.0, noise_multiplier=0.0, epsilon=None)
    warm = dict(cfg, warm_start_epochs=1.0)
    r1, _, _ = run(table, hybrid, SCHEMA, method="fusiondp", config=TrainConfig(**warm), progress=False)
    r2, _, _ = run(poison(table), hybrid, SCHEMA, method="fusiondp", config=TrainConfig(**warm), progress=False)
    r0, _, _ = run(table, hybrid, SCHEMA, method="fusiondp", config=TrainConfig(**cfg), progress=False)
    assert torch.equal(_weights(r1), _weights(r2))
    assert not torch.equal(_weights(r1), _weights(r0))


def test_warm_start_is_ignored_by_dpsgd():
    """dpsgd may not read hybrid rows (they hold every training row's public columns and labels)."""
    table = make_table()
    support = make_table(80, seed=5)
    cfg = dict(SMALL, insecure_noise_seed=0, epsilon=4.0, delta=1e-4)
    a, _, _ = run(table, make_hybrid(table), SCHEMA, method="dpsgd", config=TrainConfig(**cfg), progress=False,
                  support_df=support)
    b, _, _ = run(table, make_hybrid(table), SCHEMA, method="dpsgd", progress=False, support_df=support,
                  config=TrainConfig(**cfg, warm_start_epochs=2.0))
    assert torch.equal(_weights(a), _weights(b))
