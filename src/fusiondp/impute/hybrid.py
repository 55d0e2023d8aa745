"""`make_hybrid`: the hybrid copy of a training table (docs/method.md §3, Stage 1).

The training table is reduced to `schema.public_view(train)` on the first line
and nothing after that line can reach `train` again, so a training row's
sensitive values cannot reach the imputer (and cannot be copied into the
output either: the output is built from the public view plus predictions).
The imputer is fitted on the support set, whose sensitive values are public.

Two choices on top of the imputer (issue 16), both decided from public data only:

- joint imputation (`joint="auto"`, on when there are several tasks): the sensitive columns are imputed
  in schema order and each later column's imputer also reads the columns imputed before it (a chain:
  fitted on the support set's true values of those columns, applied to the imputed ones), so imputed
  combinations follow the support set's joint distribution (e.g. relationship given sex) instead of
  being predicted one column at a time;
- the per-column fallback (`fallback="auto"`, `fusiondp.impute.fallback`): the whole procedure is
  cross-fitted on the support set, and a column whose imputations are no better than its marginal is
  replaced with draws from the support marginal.

`impute_hybrid` returns the table with its provenance (`Hybrid.provenance`): the procedure, each task's
cross-fitted skill and the fallback decision (support-set numbers only); the run record
(`fusiondp.report.record`) carries it into reports and model files.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from fusiondp._seeds import seed_sequence
from fusiondp._validate import one_of
from fusiondp.data.schema import Schema
from fusiondp.errors import DataError
from fusiondp.impute.base import Imputer
from fusiondp.impute.fallback import (FALLBACK_MODES, MIN_SKILL_ROWS, SKILL_FOLDS, SKILL_THRESHOLD, TaskSkill,
                                      conditional_draws, cross_fitted_skill, falls_back,
                                      marginal_draws)
from fusiondp.impute.registry import get_imputer
from fusiondp.impute.targets import Task, build_tasks


# Fewer support rows than this cannot train an imputer (the default one fails outright on a single row).
MIN_SUPPORT_ROWS = 2

JOINT_MODES = ("auto", "off")
"""`auto`: chain the sensitive columns when there are two or more tasks; `off`: impute each one on its own."""

SKILL_SCORING_MODES = ("full", "light")
"""How the fallback's skill is measured: with an exact copy of the imputer, or its light scoring copy."""

@dataclass(frozen=True)
class Hybrid:
    """A hybrid table and how it was made.

    `provenance` is the imputation record (imputer, chaining, per-column skill cross-fitted on the support set,
    fallback columns: support-set numbers only). It travels as this typed value, not in ``DataFrame.attrs``
    (which pandas drops or merges silently on many operations); run records take it from here.
    """

    frame: pd.DataFrame
    provenance: dict | None  # None: a hybrid given as a file (how it was made is unknown)


def make_hybrid(train: pd.DataFrame, support: pd.DataFrame, schema: Schema, *, imputer: str | Imputer = "default",
                use_label: bool = False, random_state: int = 0, progress: bool = True,
                onehot_groups: Sequence[Sequence[str]] | None = None, fallback: str = "auto", joint: str = "auto",
                skill_folds: int = SKILL_FOLDS, skill_scoring: str = "full", **kwargs: Any) -> pd.DataFrame:
    """The hybrid table: `train` with every sensitive column predicted from public columns.

    Args:
        train: training rows. Only their public columns are read; the sensitive
            columns may be present (they are dropped unread) or absent.
        support: public support set with every column (disjoint from `train`).
        schema: column roles; `schema.drop` columns are never used as features.
        imputer: a registered name (`"default"`, `"ensemble"`, `"mean"`,
            `"tabpfn"`, `"tabicl"`) or an unfitted `Imputer`.
        use_label: also use the label column (`schema.target`) as a feature.
            Labels are public in this setting (docs/method.md §1), and with
            `use_label` the hybrid of a row depends on its label; leave it off
            when labels must stay out of the hybrid (e.g. labels treated as private).
        random_state: seed of the imputer.
        progress: show a progress bar.
        onehot_groups: one-hot groups among the sensitive columns (None: detect
            from the support set; []: none).
        fallback: "auto" measures each task's skill on the support set (cross-fitted over `skill_folds`
            folds) and replaces the imputations of a task no better than its marginal with draws from
            the support marginal (`fusiondp.impute.fallback`); "off" keeps every imputation. Imputers
            that read no public column (`mean`) are never scored: they are the marginal baseline itself.
        joint: "auto" chains the tasks (each later column's imputer also reads the earlier imputed
            columns) when there are two or more; "off" imputes each task on its own.
        skill_folds: folds of the cross-fitted skill.
        skill_scoring: "full" (default) measures the skill with an exact copy of the imputer; "light" with its
            light scoring copy (`Imputer.scoring_copy`; the default ensemble: 3 blending folds and 100 trees
            instead of 5 and 200), about 1.5x faster builds; a column whose skill is near the threshold may
            then fall back differently (benchmarks/hybrid_speed.py). The imputations always come from the
            full imputer.
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
    return impute_hybrid(train, support, schema, imputer=imputer, use_label=use_label, random_state=random_state,
                         progress=progress, onehot_groups=onehot_groups, fallback=fallback, joint=joint,
                         skill_folds=skill_folds, skill_scoring=skill_scoring, **kwargs).frame


def impute_hybrid(train: pd.DataFrame, support: pd.DataFrame, schema: Schema, *, imputer: str | Imputer = "default",
                  use_label: bool = False, random_state: int = 0, progress: bool = True,
                  onehot_groups: Sequence[Sequence[str]] | None = None, fallback: str = "auto", joint: str = "auto",
                  skill_folds: int = SKILL_FOLDS, skill_scoring: str = "full", **kwargs: Any) -> Hybrid:
    """`make_hybrid` that also returns how the hybrid was made (`Hybrid.provenance`)."""
    columns = [c for c in train.columns if c not in schema.drop]  # names only, to restore the order
    public = schema.public_view(train)
    del train  # from here on only the public view exists
    return _impute(public, support, schema, columns=columns, imputer=imputer, use_label=use_label,
                   random_state=random_state, progress=progress, onehot_groups=onehot_groups, fallback=fallback,
                   joint=joint, skill_folds=skill_folds, skill_scoring=skill_scoring, **kwargs)


def _impute(public: pd.DataFrame, support: pd.DataFrame, schema: Schema, *, columns: list, imputer: str | Imputer,
            use_label: bool, random_state: int, progress: bool, onehot_groups: Sequence[Sequence[str]] | None,
            fallback: str, joint: str, skill_folds: int, skill_scoring: str, **kwargs: Any) -> Hybrid:
    one_of("fallback", fallback, FALLBACK_MODES)
    one_of("skill_scoring", skill_scoring, SKILL_SCORING_MODES)
    one_of("joint", joint, JOINT_MODES)
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
    sX, sY = support[features], support[list(schema.sensitive)]
    tasks = build_tasks(sY, categorical=imp.categorical, onehot_groups=imp.onehot_groups)
    chained = joint == "auto" and len(tasks) > 1

    def procedure_of(template: Imputer):
        def procedure(X: pd.DataFrame, Y: pd.DataFrame, T: pd.DataFrame, model: Imputer | None = None):
            return (_chained(X, Y, T, tasks, template) if chained
                    else _independent(X, Y, T, model or copy.deepcopy(template)))
        return procedure

    skills: list[TaskSkill] | None = None
    scored = fallback == "auto" and imp.reads_features and len(support) >= max(MIN_SKILL_ROWS, 2 * skill_folds)
    if scored:
        scorer = imp.scoring_copy(light=skill_scoring == "light")
        try:
            skills = cross_fitted_skill(sX, sY, tasks, procedure_of(scorer), folds=skill_folds, seed=random_state)
        except DataError:  # a fold without any known value of a column: too little support to score
            skills = None
    predicted, _ = procedure_of(imp)(sX, sY, public[features], model=imp)
    out = public.copy()
    for c in schema.sensitive:
        out[c] = predicted[c]
    draw_seeds = seed_sequence(random_state, "fallback_draws").spawn(len(tasks))  # one public stream per task
    for i, (task, sk) in enumerate(zip(tasks, skills or [])):
        if falls_back(sk):
            sk.fallback = True
            seed_i = draw_seeds[i]
            # Chained: a categorical column is drawn given the earlier categorical columns' hybrid values, so
            # its combinations with them stay ones the support set holds; else from its marginal.
            given = [t for t in tasks[:i] if t.kind == "categorical"] if chained and task.kind == "categorical" else []
            draws = (conditional_draws(sY, task, given, out, seed=seed_i) if given
                     else marginal_draws(sY, task, out.index, seed=seed_i))
            for c in task.columns:
                out[c] = draws[c]
    out = out[columns + [c for c in schema.sensitive if c not in columns]]
    return Hybrid(out, _describe(imp, tasks, chained, fallback, skills, scored, skill_folds, use_label,
                                 skill_scoring))


def _independent(X: pd.DataFrame, Y: pd.DataFrame, T: pd.DataFrame, imp: Imputer):
    """One imputer for every task, each predicted from the public columns alone."""
    imp.fit(X, Y, unlabeled=T)
    return imp.predict(T), imp.predict_proba(T)


def _chained(X: pd.DataFrame, Y: pd.DataFrame, T: pd.DataFrame, tasks: Sequence[Task], template: Imputer):
    """Tasks in order; each imputer also reads the earlier tasks' columns (support: true; T: imputed).

    Every sub-imputer is a fresh copy of `template` restricted to one task, so its `predict` still refuses
    a frame holding the column it predicts; the earlier columns it reads on `T` are imputations (public).
    """
    Xa, Ta = X.copy(), T.copy()
    values, proba = [], {}
    for task in tasks:
        cols = list(task.columns)
        sub = copy.deepcopy(template)
        sub.onehot_groups = [cols] if task.onehot else []
        sub.fit(Xa, Y[cols], unlabeled=Ta)
        pred = sub.predict(Ta)
        proba.update(sub.predict_proba(Ta))
        values.append(pred)
        Xa = pd.concat([Xa, Y[cols]], axis=1)
        Ta = pd.concat([Ta, pred[cols]], axis=1)
    return pd.concat(values, axis=1)[list(Y.columns)], proba


def _describe(imp: Imputer, tasks: Sequence[Task], chained: bool, fallback: str, skills: list[TaskSkill] | None,
              scored: bool, folds: int, use_label: bool, skill_scoring: str) -> dict:
    """The hybrid's metadata: procedure, per-task skill and fallback decision (support-set numbers only)."""
    if fallback == "off":
        status = "off"
    elif not imp.reads_features:
        status = f"not scored: the {imp.name!r} imputer reads no public column (it is the marginal baseline)"
    elif skills is None:
        status = f"not scored: support set too small for {folds}-fold cross-fitting"
    else:
        status = "auto"
    return {
        "imputer": imp.name,
        "use_label": bool(use_label),
        "joint": "chained (schema order)" if chained else "independent",
        "order": [t.name for t in tasks],
        "fallback": status,
        "skill_threshold": SKILL_THRESHOLD,
        "skill_measured_on": (f"public support set only, cross-fitted ({folds} folds: each fold imputed by the "
                              "procedure fitted on the other folds)") if skills is not None else None,
        "skill_scoring": skill_scoring if skills is not None else None,
        "tasks": [s.to_dict() for s in skills] if skills is not None else [],
        "fallback_columns": [c for s in (skills or []) if s.fallback for c in s.columns],
    }



