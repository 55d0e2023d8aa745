"""Imputation quality: EVALUATION ONLY, it reads true sensitive values.

`imputation_quality` compares imputed sensitive columns with their true values.
It exists for benchmarks and for data owners checking an imputer on rows whose
true values they may look at (e.g. a held-out part of the support set). It is
never called by training, and nothing it returns may feed back into training
or hyperparameter choice on the private training rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, r2_score

from fusiondp.data.schema import Schema
from fusiondp.errors import DataError
from fusiondp.impute.targets import column_kind

COLUMNS = ["column", "kind", "n", "r2", "mae", "accuracy", "macro_f1", "majority_accuracy"]


def imputation_quality(true: pd.DataFrame, imputed: pd.DataFrame, schema: Schema, *,
                       columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Per sensitive column: R² and MAE (numeric) or accuracy, macro-F1 and majority baseline (categorical).

    Reads true values: an evaluation, never part of training. Rows are aligned
    by position (the two frames must have the same length); rows whose true
    value is missing are skipped. The column kind follows the imputer's rule
    (`fusiondp.impute.targets.column_kind`, with `schema.categorical`).
    `majority_accuracy` is the accuracy of always predicting the most frequent
    true class of the evaluated rows (the baseline any imputer must beat).

    >>> sch = Schema(target="y", sensitive=["age", "sex"])
    >>> true = pd.DataFrame({"age": [20.0, 40.0, 60.0], "sex": ["f", "m", "m"]})
    >>> imp = pd.DataFrame({"age": [30.0, 40.0, 50.0], "sex": ["m", "m", "m"]})
    >>> q = imputation_quality(true, imp, sch).set_index("column")
    >>> float(q.loc["age", "r2"]), float(q.loc["age", "mae"]), float(q.loc["sex", "accuracy"])
    (0.75, 6.666666666666667, 0.6666666666666666)
    """
    if len(true) != len(imputed):
        raise DataError(f"true ({len(true)} rows) and imputed ({len(imputed)} rows) must have the same rows.")
    cols = list(columns) if columns is not None else list(schema.sensitive)
    rows = []
    for c in cols:
        if c not in true.columns or c not in imputed.columns:
            raise DataError(f"Column {c!r} is missing from the true or the imputed table.")
        t = true[c].reset_index(drop=True)
        p = imputed[c].reset_index(drop=True)
        known = (t.notna() & p.notna()).to_numpy()
        t, p = t[known], p[known]
        kind = column_kind(true[c], categorical=schema.categorical)
        row = dict.fromkeys(COLUMNS, np.nan) | {"column": c, "kind": kind, "n": int(known.sum())}
        if known.sum() == 0:
            rows.append(row)
            continue
        if kind == "numeric":
            row["r2"] = float(r2_score(t.astype(float), p.astype(float)))
            row["mae"] = float(mean_absolute_error(t.astype(float), p.astype(float)))
        else:
            ts, ps = t.astype(str).str.replace(r"\.0$", "", regex=True), p.astype(str).str.replace(r"\.0$", "",
                                                                                                    regex=True)
            row["accuracy"] = float(accuracy_score(ts, ps))
            row["macro_f1"] = float(f1_score(ts, ps, average="macro", labels=sorted(ts.unique())))
            row["majority_accuracy"] = float(ts.value_counts(normalize=True).iloc[0])
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)
