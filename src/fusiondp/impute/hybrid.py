"""`make_hybrid`: the hybrid copy of a training table (METHOD.md §2, Stage 1).

The training table is reduced to `schema.public_view(train)` on the first line
and nothing after that line can reach `train` again, so a training row's
sensitive values cannot reach the imputer (and cannot be copied into the
output either: the output is built from the public view plus predictions).
The imputer is fitted on the support set, whose sensitive values are public.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from fusiondp.data.schema import Schema
from fusiondp.errors import DataError
from fusiondp.impute.base import Imputer
from fusiondp.impute.registry import get_imputer


# Fewer support rows than this cannot train an imputer (the default one fails outright on a single row).
MIN_SUPPORT_ROWS = 2


def make_hybrid(train: pd.DataFrame, support: pd.DataFrame, schema: Schema, *, imputer: str | Imputer = "default",
                use_label: bool = False, random_state: int = 0, progress: bool = True,
                onehot_groups: Sequence[Sequence[str]] | None = None, **kwargs: Any) -> pd.DataFrame:
    """The hybrid table: `train` with every sensitive column predicted from public columns.

    Args:
        train: training rows. Only their public columns are read; the sensitive
            columns may be present (they are dropped unread) or absent.
        support: public support set with every column (disjoint from `train`).
        schema: column roles; `schema.drop` columns are never used as features.
        imputer: a registered name (`"default"`, `"ensemble"`, `"mean"`,
            `"tabpfn"`, `"tabicl"`) or an unfitted `Imputer`.
        use_label: also use the label column (`schema.target`) as a feature.
            Labels are public in this setting (METHOD.md §1), and with
            `use_label` the hybrid of a row depends on its label; leave it off
            when labels must stay out of the hybrid (e.g. labels treated as private).
        random_state: seed of the imputer.
        progress: show a progress bar.
        onehot_groups: one-hot groups among the sensitive columns (None: detect
            from the support set; []: none).
        **kwargs: further options of the named imputer (e.g. model_path).

    Returns:
        Same rows, index and order as `train`; `train`'s columns in their order except the dropped
        ones (never copied: they may be derived from a sensitive column), sensitive columns replaced (sensitive columns absent from `train` are
        appended at the end, in schema order).

    >>> import numpy as np
    >>> sch = Schema(target="y", sensitive=["age"])
    >>> sup = pd.DataFrame({"hr": [60.0, 70.0, 80.0], "age": [30.0, 40.0, 50.0], "y": [0, 1, 0]})
    >>> tr = pd.DataFrame({"hr": [65.0, 75.0], "age": [99.0, 99.0], "y": [1, 0]})
    >>> make_hybrid(tr, sup, sch, imputer="mean", progress=False)["age"].tolist()
    [40.0, 40.0]
    """
    columns = [c for c in train.columns if c not in schema.drop]  # names only, to restore the order
    public = schema.public_view(train)
    del train  # from here on only the public view exists
    return _impute(public, support, schema, columns=columns, imputer=imputer, use_label=use_label, random_state=random_state,
                   progress=progress, onehot_groups=onehot_groups, **kwargs)


def _impute(public: pd.DataFrame, support: pd.DataFrame, schema: Schema, *, columns: list, imputer: str | Imputer,
            use_label: bool, random_state: int, progress: bool, onehot_groups: Sequence[Sequence[str]] | None,
            **kwargs: Any) -> pd.DataFrame:
    missing = [c for c in schema.sensitive if c not in support.columns]
    if missing:
        raise DataError(f"The support set lacks sensitive column(s) {missing}; it must hold every column.")
    if len(support) < MIN_SUPPORT_ROWS:
        raise DataError(f"The support set has {len(support)} row(s); an imputer needs at least "
                        f"{MIN_SUPPORT_ROWS}.", hint="use a larger public support set (the paper uses about 10 % "
                        "of the data)")
    features = schema.public_columns(public)
    if use_label:
        if schema.target not in public.columns or schema.target not in support.columns:
            raise DataError(f"use_label needs the label column {schema.target!r} in both the training and the "
                            "support table.")
        features = features + [schema.target]
    if not features:
        raise DataError("No public column to impute from: every column is the target, sensitive or dropped.")
    absent = [c for c in features if c not in support.columns]
    if absent:
        raise DataError(f"Public column(s) {absent} of the training table are missing from the support set.")
    if isinstance(imputer, str):
        categorical = [c for c in schema.categorical if c in schema.sensitive]
        imp = get_imputer(imputer, random_state=random_state, progress=progress, onehot_groups=onehot_groups,
                          categorical=categorical, **kwargs)
    else:
        imp = imputer
    imp.fit(support[features], support[list(schema.sensitive)], unlabeled=public[features])
    predicted = imp.predict(public[features])
    out = public.copy()
    for c in schema.sensitive:
        out[c] = predicted[c]
    return out[columns + [c for c in schema.sensitive if c not in columns]]
