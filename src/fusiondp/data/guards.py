"""Input guards for the privacy relation: inputs that would void the guarantee are refused.

A feature-level guarantee rests on three facts about the inputs: the hybrid
table holds imputed values, not the true ones; the public support set shares
no record with the training set; every column has one name, so a sensitive
column cannot re-enter as a public one under a renamed duplicate. Each check
raises :class:`~fusiondp.errors.DataError` with one line that names columns
and counts, never a training value.

>>> import pandas as pd
>>> from fusiondp.data.schema import Schema
>>> t = pd.DataFrame({"hr": [60, 70, 80], "age": [30, 40, 50], "y": [0, 1, 0]})
>>> check_relation_inputs(t, t.assign(age=40), Schema("y", ["age"]))  # imputed: fine
>>> check_relation_inputs(t, t, Schema("y", ["age"]))
Traceback (most recent call last):
...
fusiondp.errors.DataError: The hybrid table's sensitive column 'age' equals the training table's on every row: a hybrid must hold values imputed from public data, not the true ones (was the training file passed as the hybrid?).
"""

from __future__ import annotations

from collections import Counter

import pandas as pd

from fusiondp.data.schema import Schema
from fusiondp.errors import DataError


def check_unique_columns(frame: pd.DataFrame, what: str = "table") -> None:
    """Refuse duplicated column names (pandas would rename the second 'Age' to 'Age.1', a public column)."""
    names = [str(c) for c in frame.columns]
    dup = [c for c, k in Counter(names).items() if k > 1]
    if dup:
        raise DataError(f"Column name(s) {', '.join(map(repr, dup))} appear more than once in the {what}; "
                        "rename them so that each column has one role.")


def check_hybrid_not_true(train: pd.DataFrame, hybrid: pd.DataFrame, schema: Schema) -> None:
    """Refuse a hybrid whose sensitive column equals the training column on every row.

    A constant column is exempt: an imputer may rightly predict the only value there is.
    """
    for c in schema.sensitive:
        if c not in train.columns or c not in hybrid.columns:
            continue
        a, b = train[c].reset_index(drop=True), hybrid[c].reset_index(drop=True)
        if a.nunique(dropna=True) < 2:
            continue
        same = (a == b) | (a.isna() & b.isna())
        if bool(same.all()):
            raise DataError(f"The hybrid table's sensitive column {c!r} equals the training table's on every row: "
                            "a hybrid must hold values imputed from public data, not the true ones (was the "
                            "training file passed as the hybrid?).")


def _row_hashes(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    # Values are compared as text so that 1 and 1.0 (CSV vs. Parquet dtypes) hash alike.
    text = frame[columns].astype("string").fillna("<NA>")
    return pd.util.hash_pandas_object(text, index=False)


def check_support_disjoint(train: pd.DataFrame, support: pd.DataFrame, schema: Schema) -> None:
    """Refuse a support set that holds training records (same values in every shared column).

    The support set's sensitive values feed the imputer and preprocessing in the clear; a training
    record inside it would be used outside the accountant.
    """
    columns = [c for c in support.columns if c in train.columns and c not in schema.drop]
    if not columns:
        return
    inside = _row_hashes(support, columns).isin(set(_row_hashes(train, columns)))
    k = int(inside.sum())
    if k:
        first = int(inside.to_numpy().nonzero()[0][0])
        raise DataError(f"{k} row(s) of the public support set (first: support row {first}) also appear in the "
                        "training table: the support set must be disjoint from the training rows, whose "
                        "sensitive values it would otherwise expose.",
                        hint="if these are different people who share every value (coded survey answers, "
                        "say), remove from the support set the rows whose values occur in the training table; "
                        "values alone cannot tell them from a copied training record")


def check_hybrid_missingness(train: pd.DataFrame, hybrid: pd.DataFrame, schema: Schema) -> None:
    """Refuse a hybrid whose missing cells in a sensitive column copy the training rows' missingness.

    A hybrid is public, and so is each feature computed from it, the missingness indicator included
    (`fusiondp.data.preprocess`). Whether a sensitive value is missing is itself private (a test not
    ordered, a field left blank), so the hybrid's missing cells must come from public information. A
    hybrid whose missing cells in a sensitive column all fall on rows where the true value is missing
    (the same pattern, or part of it: the authors' sepsis hybrid keeps the one missing HospAdmTime)
    publishes that pattern and is refused. The message names the column only: neither the count nor
    the rows, which are the private pattern.
    """
    for c in schema.sensitive:
        if c not in train.columns or c not in hybrid.columns:
            continue
        h = hybrid[c].reset_index(drop=True).isna().to_numpy()
        if not h.any():
            continue
        t = train[c].reset_index(drop=True).isna().to_numpy()
        if bool(t[h].all()):
            raise DataError(f"The hybrid table's missing cells in sensitive column {c!r} all fall on training rows "
                            "whose true value is missing: the hybrid would publish which records lack a value, "
                            "which is private.",
                            hint="fill every sensitive cell of the hybrid with an imputed value (`fusiondp impute` "
                            "does; for a published hybrid, `fusiondp train --fill-hybrid-missing` or "
                            "fusiondp.data.guards.fill_hybrid_missing fills them from a public table), so "
                            "that its missingness comes from public information only")


def fill_hybrid_missing(hybrid: pd.DataFrame, sensitive, public: pd.DataFrame) -> pd.DataFrame:
    """A copy of `hybrid` whose missing cells in the sensitive columns hold a value taken from a public table.

    For a published hybrid that left some sensitive cells missing (possibly where the true value is missing:
    `check_hybrid_missingness`): each is filled with the public table's median (numeric column) or most
    frequent value (otherwise), the same for every row, so the hybrid's missingness no longer carries the
    training rows' pattern.
    """
    out = hybrid.copy()
    for c in sensitive:
        if c not in out.columns or not out[c].isna().any():
            continue
        col = public[c].dropna() if c in public.columns else pd.Series(dtype=float)
        if col.empty:
            raise DataError(f"Column {c!r}: the public table holds no value to fill the hybrid's missing cells with.")
        value = col.median() if pd.api.types.is_numeric_dtype(col) else col.mode().iloc[0]
        out[c] = out[c].fillna(value)
    return out


def check_eval_not_training(train: pd.DataFrame, frame: pd.DataFrame, what: str) -> None:
    """Refuse a validation or test table that is the training table (the same file or a copy of its rows).

    Scores on training rows are read without noise: selecting or reporting them would release noise-free
    statistics of the protected records (a membership and value oracle).
    """
    if len(frame) == 0 or len(train) == 0:
        return
    columns = [c for c in frame.columns if c in train.columns]
    if not columns or len(columns) < len(frame.columns):
        return
    inside = _row_hashes(frame, columns).isin(set(_row_hashes(train, columns)))
    if bool(inside.all()):
        raise DataError(f"Every row of the {what} table is a row of the training table (was the training file "
                        f"given as the {what} file?): scores on training rows would be released without noise.",
                        hint=f"give a {what} table of rows that are not training rows")


def check_relation_inputs(train: pd.DataFrame, hybrid: pd.DataFrame, schema: Schema, *,
                          support: pd.DataFrame | None = None) -> None:
    """Every guard that applies to one run's inputs."""
    check_unique_columns(train, "training table")
    check_unique_columns(hybrid, "hybrid table")
    check_hybrid_not_true(train, hybrid, schema)
    check_hybrid_missingness(train, hybrid, schema)
    if support is not None:
        check_unique_columns(support, "support table")
        check_support_disjoint(train, support, schema)
