"""Seeded subsamples of a benchmark's training rows (the regime map over training-set size).

Only the *training* rows are cut; validation, test and the public support set are left as they are, so a
smaller N changes how much private data a method sees and nothing else. Every training view (original,
hybrid, noise, reference, labels) and the record-level encoding used by `dpsgd` are cut with the same row
indices, so row i still holds the same record in every view and every method trains on the same records.

Preprocessing and the hybrid table are not refitted: they were fitted on the full hybrid table and the
support set, which are public by construction, so reusing them reads no sensitive value of a dropped row.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from fusiondp.bench.registry import BenchData
from fusiondp.errors import ConfigError, DataError
from fusiondp.train.engine import TrainData

__all__ = ["subsample_rows", "subsample_train", "subsample_bench"]


def subsample_rows(n_available: int, n: int, seed: int) -> np.ndarray:
    """Indices of `n` of `n_available` rows, from a numpy ``default_rng(seed)`` permutation, in row order.

    >>> subsample_rows(10, 3, seed=0).tolist() == subsample_rows(10, 3, seed=0).tolist()
    True
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ConfigError(f"Expected a subsample size n >= 1 rows, got n={n!r}.")
    if n > n_available:
        raise ConfigError(f"Cannot subsample n={n} training rows: only {n_available} are available.",
                          hint="Choose n at most the training-set size (or use the full set).")
    perm = np.random.default_rng(seed).permutation(n_available)
    return np.sort(perm[:n])


def subsample_train(data: TrainData, idx: np.ndarray) -> TrainData:
    """The same rows `idx` of every view of `data` (row alignment kept)."""
    t = torch.as_tensor(idx, dtype=torch.long)
    cut = lambda v: None if v is None else v.index_select(0, t)  # noqa: E731
    return replace(data, x=cut(data.x), x_hybrid=cut(data.x_hybrid), y=cut(data.y), x_noise=cut(data.x_noise),
                   x_reference=cut(data.x_reference))


def subsample_bench(bench: BenchData, n: int, seed: int) -> BenchData:
    """`bench` with its training rows cut to a seeded subsample of `n` (the same rows in `record_level`).

    `n` equal to the training-set size returns the rows unchanged (in their original order).
    Validation, test and the model factory are shared with `bench`.
    """
    n_all = bench.data.n
    if bench.record_level is not None and bench.record_level.data.n != n_all:
        raise DataError(f"The record-level encoding has {bench.record_level.data.n} training rows but the "
                        f"feature-level one has {n_all}: they are not row-aligned.")
    idx = subsample_rows(n_all, n, seed)
    record = None
    if bench.record_level is not None:
        r = bench.record_level
        record = replace(r, data=subsample_train(r.data, idx), info={**r.info, "train": n, "train_full": n_all})
    return replace(bench, data=subsample_train(bench.data, idx), info={**bench.info, "train": n, "train_full": n_all},
                   record_level=record)
