"""The regime map's training-row subsample: seeded, row-aligned across views and encodings, refuses N > rows."""

import numpy as np
import pytest
import torch

from fusiondp.bench.registry import BenchData
from fusiondp.bench.subsample import subsample_bench, subsample_rows
from fusiondp.errors import ConfigError, DataError
from fusiondp.train.engine import TrainData


def _bench(n: int = 50, d: int = 3) -> BenchData:
    """Views whose every entry encodes its row index, so alignment can be read back."""
    rows = torch.arange(n, dtype=torch.float32).unsqueeze(1)
    data = TrainData(x=rows.repeat(1, d), x_hybrid=rows.repeat(1, d) + 0.5, y=(torch.arange(n) % 2).float(),
                     x_noise=-rows.repeat(1, d), x_reference=rows.repeat(1, d) + 0.25)
    record = BenchData(TrainData(x=rows.repeat(1, d + 2) * 10, x_hybrid=rows.repeat(1, d + 2) * 10 + 1,
                                 y=(torch.arange(n) % 2).float()), (rows[:5], torch.zeros(5)), (rows[:7], torch.zeros(7)))
    return BenchData(data, (rows[:5], torch.zeros(5)), (rows[:7], torch.zeros(7)), record_level=record)


def test_rows_kept_aligned_across_views_and_record_level() -> None:
    full = _bench()
    sub = subsample_bench(full, 20, seed=3)
    ids = sub.data.x[:, 0]
    assert sub.data.n == 20 and sub.record_level.data.n == 20
    assert len(set(ids.tolist())) == 20
    assert torch.equal(sub.data.x_hybrid[:, 0], ids + 0.5)
    assert torch.equal(sub.data.x_noise[:, 0], -ids)
    assert torch.equal(sub.data.x_reference[:, 0], ids + 0.25)
    assert torch.equal(sub.data.y, ids % 2)
    assert torch.equal(sub.record_level.data.x[:, 0], ids * 10)  # dpsgd gets the same records
    assert torch.equal(sub.record_level.data.x_hybrid[:, 0], ids * 10 + 1)
    assert sub.val is full.val and sub.test is full.test  # evaluation splits untouched
    assert sub.info["train"] == 20 and full.data.n == 50  # the input is not modified


def test_seeded() -> None:
    a, b, c = (subsample_rows(1000, 100, seed=s) for s in (7, 7, 8))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.all(np.diff(a) > 0)  # original row order, no duplicates


def test_full_size_keeps_every_row() -> None:
    sub = subsample_bench(_bench(), 50, seed=1)
    assert torch.equal(sub.data.x[:, 0], torch.arange(50, dtype=torch.float32))


@pytest.mark.parametrize("n", [51, 0, -1, 2.5])
def test_bad_sizes_refused(n) -> None:
    with pytest.raises(ConfigError, match="n="):
        subsample_bench(_bench(), n, seed=0)


def test_n_above_available_names_both_counts() -> None:
    with pytest.raises(ConfigError, match="only 50 are available"):
        subsample_rows(50, 51, seed=0)


def test_misaligned_record_level_refused() -> None:
    full = _bench()
    full.record_level.data = TrainData(x=torch.zeros(49, 2), x_hybrid=torch.zeros(49, 2), y=torch.zeros(49))
    with pytest.raises(DataError, match="row-aligned"):
        subsample_bench(full, 10, seed=0)
