"""Encoding public columns into numbers for the imputer's models.

Fitted on public rows only (the support set's public columns and, when given,
the training rows' public columns, which are free to use). Numeric columns stay
as they are, NaN included (tree models handle NaN natively); text, category
and bool columns become ordinal codes over the categories seen while fitting,
with NaN for missing or unseen values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fusiondp.errors import DataError


class FeatureEncoder:
    """Public columns -> float matrix with NaN, plus which columns are categorical.

    >>> enc = FeatureEncoder().fit(pd.DataFrame({"hr": [80.0, None], "ward": ["a", "b"]}))
    >>> enc.transform(pd.DataFrame({"hr": [70.0], "ward": ["b"]})).tolist()
    [[70.0, 1.0]]
    >>> enc.categorical_mask.tolist()
    [False, True]
    """

    def fit(self, frame: pd.DataFrame) -> "FeatureEncoder":
        """Learn the column list and the categories of non-numeric columns."""
        self.columns_ = [str(c) for c in frame.columns]
        self.categories_: dict[str, list] = {}
        for c in self.columns_:
            s = frame[c]
            if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
                self.categories_[c] = sorted(pd.unique(s.dropna().astype(str)).tolist())
        self.categorical_mask = np.array([c in self.categories_ for c in self.columns_])
        return self

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Encode `frame` (it must hold every fitted column)."""
        missing = [c for c in self.columns_ if c not in frame.columns]
        if missing:
            raise DataError(f"Public column(s) {missing} seen when fitting the imputer are missing here.")
        out = np.empty((len(frame), len(self.columns_)), dtype=float)
        for j, c in enumerate(self.columns_):
            s = frame[c]
            if c in self.categories_:
                codes = {v: i for i, v in enumerate(self.categories_[c])}
                out[:, j] = s.astype(object).map(lambda v: codes.get(str(v), np.nan) if pd.notna(v) else np.nan)
            else:
                out[:, j] = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
        return out
