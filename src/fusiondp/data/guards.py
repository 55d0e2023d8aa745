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

import math
from collections import Counter
from dataclasses import dataclass

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


@dataclass(frozen=True)
class SupportIdentity:
    """How the public support set is known to hold no training record (issue 26 item 2).

    By default identity is judged by value: a support row equal to a training row in every shared column is
    taken for a copy. On coded tables (a few coarse columns) many different people share every value, so the
    user may instead

    * name an identity column (`id_column`, e.g. a person key): rows are the same record exactly when their ids
      are equal; the column is dropped from the features (it is no attribute of the person);
    * state that the support rows are other people than the training rows (`distinct_people`); the statement
      is recorded in the report and the run record. Values are still compared, and a support set that matches
      the training table far more often than the training table matches itself (leave-one-out: a share p of
      training rows repeat another training row) is refused as a copy even then.

    >>> SupportIdentity().describe()
    'values: no support row equals a training row in every shared column'
    """

    id_column: str | None = None
    distinct_people: bool = False

    def describe(self) -> str:
        """One line for reports and run records."""
        if self.id_column is not None:
            return f"id column {self.id_column!r}: no support row's id occurs among the training rows' ids"
        if self.distinct_people:
            return ("user statement (--support-rows-are-distinct-people): the support rows are other people than "
                    "the training rows; identical values are coincidences of a coded table (checked: the share of "
                    "support rows matching a training row is within what the training table's own repeats explain)")
        return "values: no support row equals a training row in every shared column"

    @property
    def default(self) -> bool:
        return self.id_column is None and not self.distinct_people


def _row_hashes(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    # Values are compared as text so that 1 and 1.0 (CSV vs. Parquet dtypes) hash alike.
    text = frame[columns].astype("string").fillna("<NA>")
    return pd.util.hash_pandas_object(text, index=False)


def _coincidence_bound(n_support: int, repeat_share: float) -> float:
    """The most support rows that may match a training row by coincidence: a one-sided binomial bound
    (mean + 4 sd, + 2) for `n_support` draws at the training table's own leave-one-out repeat share."""
    p = min(max(repeat_share, 0.0), 1.0)
    return n_support * p + 4.0 * math.sqrt(n_support * p * (1.0 - p)) + 2.0


def check_support_disjoint(train: pd.DataFrame, support: pd.DataFrame, schema: Schema,
                           identity: SupportIdentity | None = None) -> None:
    """Refuse a support set that holds training records.

    The support set's sensitive values feed the imputer and preprocessing in the clear; a training
    record inside it would be used outside the accountant. `identity` says how a record is recognised
    (:class:`SupportIdentity`; default: by its values in every shared column).
    """
    identity = identity or SupportIdentity()
    if identity.id_column is not None:
        _check_ids_disjoint(train, support, identity.id_column)
        return
    columns = [c for c in support.columns if c in train.columns and c not in schema.drop]
    if not columns:
        return
    train_hashes = _row_hashes(train, columns)
    inside = _row_hashes(support, columns).isin(set(train_hashes))
    k = int(inside.sum())
    if not k:
        return
    if identity.distinct_people:
        repeat_share = float(train_hashes.duplicated(keep=False).mean())
        bound = _coincidence_bound(len(support), repeat_share)
        if k <= bound:
            return
        raise DataError(f"{k} of {len(support)} row(s) of the public support set also appear in the training table, "
                        f"more than coincidence explains (at most {bound:.0f}: {repeat_share:.0%} of training rows "
                        "repeat another training row): this looks like a copy of training records, which the "
                        "statement that they are distinct people cannot cover.",
                        hint="give an identity column with --id-column (a person key in both tables), or remove "
                        "the copied rows from the support set")
    first = int(inside.to_numpy().nonzero()[0][0])
    raise DataError(f"{k} row(s) of the public support set (first: support row {first}) also appear in the "
                    "training table: the support set must be disjoint from the training rows, whose "
                    "sensitive values it would otherwise expose.",
                    hint="if these are different people who share every value (a coded table), say so with "
                    "--support-rows-are-distinct-people (recorded in the report), or give a key column with "
                    "--id-column; values alone cannot tell them from a copied training record")


def _check_ids_disjoint(train: pd.DataFrame, support: pd.DataFrame, column: str) -> None:
    """Refuse support rows whose identity key occurs among the training rows' keys (or a missing key)."""
    for frame, what in ((train, "training table"), (support, "support table")):
        if column not in frame.columns:
            raise DataError(f"The identity column {column!r} (--id-column) is not in the {what}.")
        if frame[column].isna().any():
            raise DataError(f"The identity column {column!r} has missing values in the {what} "
                            f"({int(frame[column].isna().sum())} row(s)): every row needs its key.")
    ids = set(train[column].astype("string"))
    shared = support[column].astype("string").isin(ids)
    k = int(shared.sum())
    if k:
        raise DataError(f"{k} row(s) of the public support set have an identity key ({column!r}) that also occurs "
                        "in the training table: the support set must hold other records than the training rows.")


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
                          support: pd.DataFrame | None = None, identity: SupportIdentity | None = None) -> None:
    """Every guard that applies to one run's inputs."""
    check_unique_columns(train, "training table")
    check_unique_columns(hybrid, "hybrid table")
    check_hybrid_not_true(train, hybrid, schema)
    check_hybrid_missingness(train, hybrid, schema)
    if support is not None:
        check_unique_columns(support, "support table")
        check_support_disjoint(train, support, schema, identity)
