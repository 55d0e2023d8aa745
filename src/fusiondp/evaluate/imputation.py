"""Imputation quality measured on public rows only: cross-fitting on the support set.

`fusiondp impute` cannot score its hybrid against the training rows' true
sensitive values: reading them would be a leak outside the accountant (and they
must never reach a log or a report). The support set is public, so quality is
measured there instead, without scoring an imputer on rows it was fitted on:
the support rows are split into K folds, and each fold is imputed (from its
public columns) by an imputer fitted on the other K-1 folds. Every support row
is then compared with its own true values (`fusiondp.impute.imputation_quality`).

With K folds each imputer sees (K-1)/K of the support rows, so the figures are
slightly pessimistic for the imputer fitted on the whole support set.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from fusiondp.data.schema import Schema
from fusiondp.errors import ConfigError
from fusiondp.impute import Imputer, imputation_quality, make_hybrid

__all__ = ["cross_fitted_quality", "quality_section"]


def cross_fitted_quality(support: pd.DataFrame, schema: Schema, *, imputer: str | Imputer = "default",
                         folds: int = 3, use_label: bool = False, random_state: int = 0,
                         onehot_groups: Sequence[Sequence[str]] | None = None, joint: str = "auto",
                         **kwargs: Any) -> pd.DataFrame:
    """Per-column quality (`imputation_quality` columns) of `imputer`, cross-fitted over `folds` support folds.

    Reads only the support set (public). Raises ConfigError when the support set
    has fewer than 2 rows per fold. Measures the imputation procedure itself (`joint` as in
    `make_hybrid`), with the per-column fallback off: the fallback's own skill table is in the
    hybrid's ``attrs`` (`fusiondp.impute.fallback`).

    >>> sup = pd.DataFrame({"hr": np.arange(30.0), "age": 2 * np.arange(30.0), "y": [0, 1] * 15})
    >>> q = cross_fitted_quality(sup, Schema("y", ["age"]), imputer="mean", folds=3)
    >>> int(q.loc[0, "n"]), bool(q.loc[0, "r2"] < 0)   # the mean imputer is no better than the mean
    (30, True)
    """
    if folds < 2:
        raise ConfigError(f"Cross-fitting needs at least 2 folds, got {folds}.")
    if len(support) < 2 * folds:
        raise ConfigError(f"The support set has {len(support)} rows: too few for {folds}-fold cross-fitted "
                          "imputation quality (need at least 2 rows per fold).")
    support = support.reset_index(drop=True)
    fold = np.random.default_rng(random_state).permutation(len(support)) % folds
    parts = []
    for k in range(folds):
        held = support[fold == k]
        parts.append(make_hybrid(held, support[fold != k], schema, imputer=imputer, use_label=use_label,
                                 random_state=random_state, progress=False, onehot_groups=onehot_groups, fallback="off",
                                 joint=joint, **kwargs))
    imputed = pd.concat(parts).sort_index()
    return imputation_quality(support, imputed, schema)


def quality_section(frame: pd.DataFrame, measured_on: str) -> dict:
    """The ``imputation_quality`` entry of a run report (what the HTML page's section reads).

    One row per column: R² against the 0 of predicting the mean (numeric), or
    accuracy against always predicting the majority class (categorical).
    """
    cols = {}
    for r in frame.to_dict("records"):
        numeric = r["kind"] == "numeric"
        cols[r["column"]] = {"metric": "r2" if numeric else "accuracy", "value": r["r2" if numeric else "accuracy"],
                             "baseline": 0.0 if numeric else r["majority_accuracy"], "rows": int(r["n"])}
    return {"measured_on": measured_on, "columns": cols}
