"""Preprocessing fitted on public data only.

Scaling statistics, missing-value fills and category vocabularies are learned
from the hybrid table (and optionally a public support set), never from the
original training rows, whose sensitive columns are private (METHOD.md §3,
the first pitfall of §6). The fitted transform is then applied to original,
hybrid, validation and test rows alike.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from fusiondp.data.schema import Schema
from fusiondp.data.tabular import categorical_columns, check_numeric
from fusiondp.errors import DataError, DataWarning


@dataclass
class Preprocessor:
    """Standardise numeric columns (NaN → public mean) and one-hot encode categorical ones.

    >>> pub = pd.DataFrame({"hr": [60.0, 80.0, None], "age": [30.0, 50.0, 40.0], "y": [0, 1, 0]})
    >>> pre = Preprocessor.fit(pub, Schema("y", ["age"]))
    >>> pre.transform(pub).shape
    (3, 2)
    """

    schema: Schema
    numeric: list[str] = field(default_factory=list)
    categories: dict[str, list[str]] = field(default_factory=dict)
    mean: dict[str, float] = field(default_factory=dict)
    scale: dict[str, float] = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)  # input columns, in model order
    notes: list[str] = field(default_factory=list, compare=False)  # what was done with empty columns, ...

    def _note(self, text: str, warn: bool = True) -> None:
        """Record what preprocessing did (kept in the report) and, by default, say it as a warning."""
        if text not in self.notes:
            self.notes.append(text)
            if warn:
                warnings.warn(text, DataWarning, stacklevel=3)

    @classmethod
    def fit(cls, public_frame: pd.DataFrame, schema: Schema) -> "Preprocessor":
        """Fit on a public frame: the hybrid table, optionally concatenated with a support set."""
        schema = schema if schema.public else schema.bind(public_frame)
        columns = schema.feature_columns()
        cats = categorical_columns(public_frame, schema, columns)
        numeric = [c for c in columns if c not in cats]
        check_numeric(public_frame, numeric, "the public (hybrid) data")
        pre = cls(schema=schema, numeric=numeric, columns=columns)
        for c in columns:
            if public_frame[c].isna().all():
                if c in schema.sensitive:
                    raise DataError(f"Sensitive column {c!r} holds no value at all in the hybrid (public) data, so "
                                    "it cannot be scaled or encoded.",
                                    hint="impute it (e.g. `fusiondp impute`) or remove it from --sensitive")
                pre._note(f"Column {c!r} is empty in the public data: it is encoded as a constant "
                          "(it carries no information); drop it with --drop to silence this.")
        for c in numeric:
            values = pd.to_numeric(public_frame[c], errors="coerce").to_numpy(float)
            if np.isnan(values).all():
                mean, std = 0.0, 1.0
            else:
                mean, std = float(np.nanmean(values)), float(np.nanstd(values))
            pre.mean[c] = mean
            pre.scale[c] = std if std > 1e-12 else 1.0
        for c in cats:
            pre.categories[c] = sorted(map(str, public_frame[c].dropna().unique()))
            if c in schema.sensitive:  # stated, not counted: counting would read the private values
                pre._note(f"Sensitive column {c!r}: a training value outside the public categories "
                          f"({len(pre.categories[c])} seen in the hybrid data) is encoded as all zeros; such values "
                          "are not counted, since counting them would read the private values.", warn=False)
        return pre

    @property
    def n_features(self) -> int:
        return sum(len(self.categories[c]) if c in self.categories else 1 for c in self.columns)

    def feature_names(self) -> list[str]:
        names = []
        for c in self.columns:
            names += [f"{c}={v}" for v in self.categories[c]] if c in self.categories else [c]
        return names

    def sensitive_mask(self) -> np.ndarray:
        """Boolean mask over encoded features: True where the feature comes from a sensitive column."""
        mask = []
        for c in self.columns:
            width = len(self.categories[c]) if c in self.categories else 1
            mask += [c in self.schema.sensitive] * width
        return np.array(mask, dtype=bool)

    def sensitive_blocks(self) -> list[tuple[int, int, bool]]:
        """(start, stop, is_categorical) of each sensitive column's encoded block."""
        blocks, start = [], 0
        for c in self.columns:
            width = len(self.categories[c]) if c in self.categories else 1
            if c in self.schema.sensitive:
                blocks.append((start, start + width, c in self.categories))
            start += width
        return blocks

    def transform(self, frame: pd.DataFrame, *, what: str = "data") -> np.ndarray:
        """Encode `frame` into a float32 matrix (rows × n_features)."""
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise DataError(f"Column(s) {', '.join(map(repr, missing))} not found in {what}.")
        check_numeric(frame, self.numeric, what, withhold=self.schema.sensitive)
        parts = []
        for c in self.columns:
            if c in self.categories:
                vocab = self.categories[c]
                text = frame[c].map(lambda v: None if pd.isna(v) else str(v))
                index = {v: i for i, v in enumerate(vocab)}
                codes = text.map(index).fillna(-1).to_numpy(dtype=np.int64)  # -1: missing or unseen → zeros
                unseen = int(((codes < 0) & text.notna().to_numpy()).sum())
                if unseen and not (c in self.schema.sensitive and "training" in what):
                    self._note(f"{unseen} of {len(frame)} rows of {what} hold a value of column {c!r} that the "
                               "public data never show; they are encoded as all zeros (as a missing value).")
                onehot = np.zeros((len(frame), len(vocab)), dtype=np.float32)
                rows = np.flatnonzero(codes >= 0)
                onehot[rows, codes[rows]] = 1.0
                parts.append(onehot)
            else:
                x = pd.to_numeric(frame[c], errors="coerce").to_numpy(float)
                x = np.where(np.isnan(x), self.mean[c], x)
                parts.append(((x - self.mean[c]) / self.scale[c]).astype(np.float32)[:, None])
        return np.concatenate(parts, axis=1)

    def to_dict(self) -> dict:
        return {"schema": self.schema.to_dict(), "numeric": self.numeric, "categories": self.categories,
                "mean": self.mean, "scale": self.scale, "columns": self.columns}

    @classmethod
    def from_dict(cls, d: dict) -> "Preprocessor":
        return cls(schema=Schema.from_dict(d["schema"]), numeric=list(d["numeric"]),
                   categories={k: list(v) for k, v in d["categories"].items()}, mean=dict(d["mean"]),
                   scale=dict(d["scale"]), columns=list(d["columns"]))
