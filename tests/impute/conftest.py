"""Tiny synthetic support/training tables for the imputer tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fusiondp.data.schema import Schema


def synth(n: int, seed: int) -> pd.DataFrame:
    """Public hr, lab (with NaN), ward (text); sensitive age (numeric), sex (text), u1/u2 (one-hot), label y."""
    rng = np.random.default_rng(seed)
    hr = rng.normal(80, 10, n)
    lab = rng.normal(0, 1, n)
    ward = rng.choice(["a", "b"], n)
    age = 40 + 1.5 * (hr - 80) + rng.normal(0, 3, n)
    sex = np.where(lab + rng.normal(0, 0.3, n) > 0, "m", "f")
    u1 = (ward == "a").astype(int)
    lab = np.where(rng.random(n) < 0.2, np.nan, lab)
    y = (hr > 85).astype(int)
    return pd.DataFrame({"hr": hr, "lab": lab, "ward": ward, "age": age, "sex": sex, "u1": u1, "u2": 1 - u1,
                         "y": y, "rowid": np.arange(n)})


@pytest.fixture
def schema() -> Schema:
    return Schema(target="y", sensitive=["age", "sex", "u1", "u2"], drop=["rowid"])


@pytest.fixture
def support() -> pd.DataFrame:
    return synth(160, 1)


@pytest.fixture
def train() -> pd.DataFrame:
    return synth(120, 2)
