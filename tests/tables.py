"""Tiny synthetic tables with a known sensitive/public split, shared by the tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def make_table(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """Public vitals hr, bp, lab (with NaN), a text column, sensitive age/sex/unit, binary label y."""
    rng = np.random.default_rng(seed)
    age = rng.normal(60, 15, n)
    sex = rng.integers(0, 2, n)
    hr = 70 + 0.3 * (age - 60) + rng.normal(0, 8, n)
    bp = 120 + 5 * sex + rng.normal(0, 10, n)
    lab = rng.normal(1.0, 0.3, n)
    lab[rng.random(n) < 0.2] = np.nan
    ward = rng.choice(["a", "b", "c"], n)
    unit = rng.choice(["micu", "sicu"], n)
    logit = 0.05 * (age - 60) + 0.04 * (hr - 70) + 0.8 * sex - 1.0
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({"id": np.arange(n), "hr": hr, "bp": bp, "lab": lab, "ward": ward, "age": age,
                         "sex": sex, "unit": unit, "y": y})


def make_hybrid(frame: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    """A hybrid copy: sensitive columns replaced by crude public guesses (from public columns only)."""
    rng = np.random.default_rng(seed)
    h = frame.copy()
    h["age"] = 60 + (frame["hr"] - 70) / 0.3 * 0.3 + rng.normal(0, 5, len(frame))
    h["sex"] = (frame["bp"] > 122).astype(int)
    h["unit"] = np.where(frame["hr"] > 70, "micu", "sicu")
    return h


SENSITIVE = ["age", "sex", "unit"]


def poison(frame: pd.DataFrame, seed: int = 99) -> pd.DataFrame:
    """The same rows with every sensitive value replaced by something else (still valid values)."""
    rng = np.random.default_rng(seed)
    p = frame.copy()
    p["age"] = rng.uniform(0, 120, len(frame))
    p["sex"] = 1 - frame["sex"]
    p["unit"] = np.where(frame["unit"] == "micu", "sicu", "micu")
    return p


def encoded_views(n: int = 256, seed: int = 0):
    """Encoded training views for the engine: 6 features whose last two are the sensitive block (the hybrid
    view redraws them), a label from features 0 and 5, noise view = hybrid reversed, reference = hybrid rolled."""
    import torch

    from fusiondp.train.engine import TrainData

    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=g)
    xh = x.clone()
    xh[:, -2:] = torch.randn(n, 2, generator=g)
    y = ((x[:, 0] + x[:, -1]) > 0).float()
    return TrainData(x=x, x_hybrid=xh, y=y, x_noise=xh.flip(0), x_reference=xh.roll(1, 0))


def flat_weights(model):
    """Every parameter of `model` in one flat tensor (to compare two trained models)."""
    import torch

    return torch.cat([p.detach().flatten() for p in model.parameters()])
