"""A seeded synthetic ICU-like table for the demo, the docs and the tests.

No real patient is behind any row. The generating process is written out so a
reader can check what FusionDP can and cannot gain on it:

* latent factors per stay: overall **severity** ``s ~ N(0, 1)`` and renal and
  liver dysfunction;
* **sensitive demographics**: ``age`` (years, 18-95), ``sex`` (0 = female,
  1 = male) and ``unit`` (care unit: ``MICU``, ``SICU``, ``CCU``), mildly
  dependent on each other and on ``s``;
* **public vitals and labs** that depend on the latent factors *and* on the
  demographics, so the demographics are partly (not fully) predictable from
  them (held-out R² of age about 0.5, sex accuracy about 0.68 vs. 0.57 majority):
  ``hr``, ``sbp``, ``resp``, ``temp``, ``spo2``, ``gcs``, ``lactate``,
  ``creatinine``, ``bun``, ``potassium``, ``sodium``, ``glucose``,
  ``bilirubin``, ``platelets``, ``hemoglobin``, ``wbc``, ``bicarbonate``, plus a
  public categorical ``admit`` (``ED``, ``OR``, ``transfer``). Some labs are
  missing (3-20 % per column);
* a binary **label** ``mortality`` (about 27 % positive) whose log-odds add a
  clinical-score-like risk of the public measurements (U-shapes in
  temperature, sodium, potassium and glucose; thresholds for low blood
  pressure, low GCS, high bilirubin and creatinine, low platelets and
  bicarbonate; lactate) to direct effects of the demographics (older age,
  male sex and the CCU raise the risk, with an age x lactate interaction).
  Because each demographic keeps a large part of its variation that no public
  column explains, the true sensitive values are predictive of the label
  *beyond* the public columns and beyond any imputation from them. That is
  the situation in which paying privacy budget for them (FusionDP) should
  beat both ignoring them (``sgd_hybrid``) and protecting whole records
  (``dpsgd``), which must learn the many nonlinear public effects under noise.

Splits come from one draw and are disjoint: ``train`` (private: its sensitive
columns are what the guarantee protects), ``support`` (a public support set with
all columns, e.g. consenting patients; the imputer may learn from it), ``val``
and ``test``.

>>> d = make_icu(n_train=200, n_support=50, n_val=50, n_test=50, seed=0)
>>> sorted(d.frames)
['support', 'test', 'train', 'val']
>>> d.frames["train"].shape, d.target, d.sensitive
((200, 23), 'mortality', ('age', 'sex', 'unit'))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fusiondp._validate import positive
from fusiondp.data.schema import Schema

TARGET = "mortality"
SENSITIVE = ("age", "sex", "unit")
UNITS = ("MICU", "SICU", "CCU")
ADMIT = ("ED", "OR", "transfer")


@dataclass(frozen=True)
class SyntheticICU:
    """The splits of one synthetic draw and their schema.

    Attributes:
        frames: ``train``, ``support``, ``val`` and ``test`` data frames, disjoint rows.
        schema: target ``mortality``; sensitive ``age``, ``sex``, ``unit``; ``stay_id`` dropped.
        seed: the seed that produced them.
    """

    frames: dict[str, pd.DataFrame]
    schema: Schema
    seed: int

    @property
    def target(self) -> str:
        return self.schema.target

    @property
    def sensitive(self) -> tuple[str, ...]:
        return self.schema.sensitive


def _pick(rng: np.random.Generator, p: np.ndarray) -> np.ndarray:
    """One category index per row from row-wise probabilities `p` (n x k)."""
    return (rng.random(len(p))[:, None] > np.cumsum(p, 1)).sum(1).clip(0, p.shape[1] - 1)


def _draw(n: int, rng: np.random.Generator, start_id: int) -> pd.DataFrame:
    s = rng.standard_normal(n)  # overall severity
    renal, liver = rng.standard_normal(n), rng.standard_normal(n)  # organ-specific dysfunction
    age = np.clip(rng.normal(63, 16, n) + 4 * s, 18, 95)
    a = (age - 63) / 16
    sex = (rng.random(n) < 0.55).astype(int)
    # Care unit: surgical stays younger, cardiac stays older and more often male.
    logits = np.stack([np.zeros(n), -0.4 * a + 0.2, 0.6 * a + 0.5 * sex - 0.6], axis=1)
    p = np.exp(logits - logits.max(1, keepdims=True))
    unit_idx = _pick(rng, p / p.sum(1, keepdims=True))
    surg, card = (unit_idx == 1).astype(float), (unit_idx == 2).astype(float)
    admit = np.array(ADMIT)[_pick(rng, np.stack([0.6 - 0.3 * surg, 0.1 + 0.6 * surg, 0.3 - 0.3 * surg], 1))]
    e = rng.standard_normal((18, n))
    frame = pd.DataFrame({
        "stay_id": np.arange(start_id, start_id + n),
        "hr": 88 + 9 * s - 4 * a - 3 * sex + 6 * card + 10 * e[0],
        "sbp": 122 - 9 * s + 6 * a + 4 * sex - 5 * card + 14 * e[1],
        "resp": 19 + 2.5 * s + 0.8 * a + 3.5 * e[2],
        "temp": 37.1 + 0.35 * s - 0.15 * a + 0.5 * e[3],
        "spo2": np.minimum(96 - 1.2 * s - 0.8 * a - 0.8 * card + 1.8 * e[4], 100.0),
        "gcs": np.clip(np.round(13.5 - 1.5 * s - 0.4 * a + 1.5 * e[5]), 3, 15),
        "lactate": np.exp(0.4 + 0.35 * s + 0.1 * surg + 0.35 * e[6]),
        "creatinine": np.exp(0.05 + 0.15 * s + 0.35 * renal + 0.16 * a + 0.18 * sex + 0.2 * e[7]),
        "bun": np.exp(2.9 + 0.15 * s + 0.35 * renal + 0.2 * a + 0.25 * e[8]),
        "potassium": 4.1 + 0.3 * renal + 0.1 * s + 0.45 * e[9],
        "sodium": 139 - 1.0 * s + 0.8 * a + 3.5 * e[10],
        "glucose": np.exp(4.9 + 0.12 * s + 0.06 * a + 0.3 * e[11]),
        "bilirubin": np.exp(-0.2 + 0.55 * liver + 0.1 * s + 0.4 * e[12]),
        "platelets": np.exp(5.3 - 0.2 * s - 0.25 * liver - 0.05 * a + 0.35 * e[13]),
        "hemoglobin": 11.5 - 0.5 * s - 0.4 * a + 1.1 * sex - 0.6 * surg + 1.3 * e[14],
        "wbc": np.exp(2.3 + 0.25 * s + 0.1 * surg + 0.3 * e[15]),
        "bicarbonate": 24 - 1.8 * s - 1.2 * renal + 2.5 * e[16],
        "admit": admit,
        "age": np.round(age, 0),
        "sex": sex,
        "unit": np.array(UNITS)[unit_idx],
    })
    z = {c: (frame[c] - frame[c].mean()) / frame[c].std() for c in frame.columns if frame[c].dtype.kind == "f"}
    lac = np.log(frame["lactate"]) - 0.4
    # Clinical-score-like risk: thresholds and U-shapes in the public measurements, plus the demographics.
    risk = (0.35 * z["temp"] ** 2 + 0.8 * np.maximum(0, -z["sbp"] - 0.8) + 0.3 * np.maximum(0, 12 - frame["gcs"])
            + 0.45 * z["sodium"] ** 2 + 0.45 * z["potassium"] ** 2 + 0.3 * z["glucose"] ** 2
            + 0.7 * np.maximum(0, z["bilirubin"] - 0.5) + 0.7 * np.maximum(0, -z["platelets"] - 0.5)
            + 0.7 * np.maximum(0, z["creatinine"]) + 0.6 * np.maximum(0, -z["bicarbonate"]) + 1.2 * lac)
    logit = (-4.4 + 0.4 * s + risk + 1.1 * a + 0.5 * a * lac + 0.7 * (sex - 0.55) + 0.8 * card - 0.5 * surg)
    frame[TARGET] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    for c, rate in (("lactate", 0.15), ("bilirubin", 0.2), ("creatinine", 0.05), ("bun", 0.05),
                    ("glucose", 0.05), ("platelets", 0.08), ("hemoglobin", 0.06), ("wbc", 0.06), ("temp", 0.03)):
        frame.loc[rng.random(n) < rate, c] = np.nan
    return frame


def make_icu(*, n_train: int = 6000, n_support: int = 800, n_val: int = 1500, n_test: int = 3000,
             seed: int = 0) -> SyntheticICU:
    """Draw a synthetic ICU table and split it into disjoint train/support/val/test frames.

    Args:
        n_train: training rows (their sensitive columns are the protected values).
        n_support: public support-set rows (all columns; the imputer's only source of sensitive values).
        n_val: validation rows (settings may be chosen on them).
        n_test: test rows (scored once at the end).
        seed: the random seed; the same seed always gives the same frames.

    Returns:
        A `SyntheticICU` with the four frames and the schema.
    """
    positive(n_train=n_train, n_support=n_support, n_val=n_val, n_test=n_test)
    rng = np.random.default_rng(seed)
    sizes = {"train": n_train, "support": n_support, "val": n_val, "test": n_test}
    whole = _draw(sum(sizes.values()), rng, start_id=1)
    frames, start = {}, 0
    for name, n in sizes.items():
        frames[name] = whole.iloc[start:start + n].reset_index(drop=True)
        start += n
    schema = Schema(TARGET, list(SENSITIVE), drop=["stay_id"])
    return SyntheticICU(frames=frames, schema=schema, seed=seed)
