"""Know when the hybrid helps: cross-fitted imputer skill on the support set, and the per-column fallback.

A poor imputer does not only fail to help; it can mislead the noise-free gradient. A column the imputer
cannot predict comes out (nearly) constant or as a function of the public columns; the model fitted on the
hybrid then gives it a weight that means nothing for the true values it meets at test time (a collapsed
column is also standardised with a shrunken scale, so those true values look huge). On one unseen public
table `sgd_hybrid` scored 0.88 AUROC against 0.94 for `sgd_pub`, which sees noise in the same place.

What this module does, on the public **support set only** (rows with true sensitive values that are free to
use; no training row is read):

1. `cross_fitted_skill`: the support rows are split into K folds; the whole imputation procedure
   (independent or chained, see `fusiondp.impute.hybrid`) is fitted on K-1 folds and predicts the held-out
   fold from its public columns. Each task (column or one-hot group) is scored against the *marginal*
   of the fold's training part:

   - numeric: skill = 1 - SSE(imputer) / SSE(fold-train mean), an out-of-sample R²;
   - categorical: skill = (acc - acc0) / (1 - acc0), with acc0 the accuracy of always guessing the
     fold-train majority class. Accuracy decides because the hybrid stores the most probable class;
     the log-loss skill against the fold-train class frequencies is recorded as well (information only).

   Sums are pooled over the folds, so every support row whose value is known is scored exactly once.

2. The fallback (`make_hybrid(fallback="auto")`): a task whose skill is at or below `SKILL_THRESHOLD`
   is no better than the marginal, and its hybrid values are replaced with draws from the support set:
   from its marginal (`marginal_draws`), or, for a categorical task when the tasks are chained, from the
   support rows sharing the row's values of the earlier categorical tasks (`conditional_draws`), so that
   combinations stay possible. Why draws and not a shrinkage toward the mean/mode: a shrunken
   column is the collapse described above (constant or near-constant, a bias-like feature whose weight
   the true values then scramble), while draws from the marginal are independent of the label and of
   the public columns, so the public gradient learns to give the column no weight, exactly as the
   noise view of `fdp`/`sgd_pub` does (docs/method.md §6) -- but on the column's real scale and levels,
   so preprocessing statistics (support ∪ hybrid) and the collapse check stay meaningful, and the
   private term ℓ(x) − ℓ(x̃) of FusionDP still learns the column's true effect under noise.

The hybrid stays public: skills depend only on the support set, the draws only on the support set and
the seed, and the kept columns only on public columns (tested: changing the training rows' sensitive
values leaves hybrid and skills bit-identical).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from fusiondp.impute.targets import Task, decode, task_target

SKILL_THRESHOLD = 0.01
"""A task whose cross-fitted skill is at or below this is no better than its marginal and falls back.

0 is the break-even point of both skill scores (an R² of 0 predicts as well as the fold-train mean; an
accuracy skill of 0 matches always guessing the fold-train majority). The margin of 0.01 (1 % of the
variance, or of the accuracy left above the majority) absorbs fold-to-fold noise around 0: an ensemble on
a pure-noise column scored R² between -0.002 and +0.0001 on a 300-row support set and imputed a constant.
It stays below weak but real imputations (sepsis HospAdmTime, R² 0.04, is still the best public guess).
"""

SKILL_FOLDS = 3
"""Folds of the cross-fitted skill (each imputer sees 2/3 of the support set, as `fusiondp impute --quality`)."""

MIN_SKILL_ROWS = 20
"""Support sets smaller than this are not scored (too few rows per fold); every imputed column is then kept."""

FALLBACK_MODES = ("auto", "off")
"""`auto`: measure skill and fall back per column when skill <= SKILL_THRESHOLD; `off`: keep every imputation."""


@dataclass
class TaskSkill:
    """The cross-fitted skill of one imputation task and what the fallback did with it (public numbers only).

    Attributes:
        task: task name (a column, or a one-hot group's columns joined by "+").
        columns: the sensitive columns the task writes.
        kind: "numeric" or "categorical".
        metric: "r2" (numeric) or "accuracy" (categorical): what `skill` is normalised from.
        skill: the decision score (> 0: better than the marginal); None when not measured.
        score, baseline: the metric of the imputer and of the marginal (fold-train mean / majority).
        logloss_skill: 1 - log-loss(imputer) / log-loss(fold-train class frequencies), categorical only.
        rows: support rows scored (those with a known value).
        fallback: True when the hybrid holds marginal draws for this task instead of imputations.
    """

    task: str
    columns: tuple[str, ...]
    kind: str
    metric: str
    skill: float | None
    score: float | None
    baseline: float | None
    logloss_skill: float | None
    rows: int
    fallback: bool = False

    def to_dict(self) -> dict:
        d = asdict(self)
        d["columns"] = list(self.columns)
        return d


def fold_ids(n: int, folds: int, seed: int) -> np.ndarray:
    """A seeded, balanced fold number (0..folds-1) for each of `n` support rows."""
    return np.random.default_rng(seed).permutation(n) % folds


# A procedure: (support public X, support sensitive Y, public X to impute) -> (values, class probabilities).
Procedure = Callable[[pd.DataFrame, pd.DataFrame, pd.DataFrame], tuple[pd.DataFrame, dict[str, pd.DataFrame]]]


def cross_fitted_skill(support_X: pd.DataFrame, support_Y: pd.DataFrame, tasks: Sequence[Task], procedure: Procedure,
                       *, folds: int = SKILL_FOLDS, seed: int = 0) -> list[TaskSkill]:
    """Per-task skill of `procedure`, cross-fitted over `folds` folds of the support set (public rows only).

    Args:
        support_X: the support set's public feature columns.
        support_Y: the support set's sensitive columns (true, public values; NaN allowed).
        tasks: the imputation tasks (`fusiondp.impute.targets.build_tasks` of the support set).
        procedure: fits on (X, Y) and imputes the public rows it is given; returns the imputed
            sensitive columns and the class probabilities of each categorical task.
        folds: number of folds.
        seed: seed of the fold assignment.

    Nothing but the two support frames is read. A task whose held-out part has no known value gets
    skill None (kept).

    >>> from fusiondp.impute.targets import build_tasks
    >>> from fusiondp.impute.simple import MeanImputer
    >>> def mean_proc(X, Y, T):
    ...     imp = MeanImputer().fit(X, Y)
    ...     return imp.predict(T), imp.predict_proba(T)
    >>> X = pd.DataFrame({"hr": np.arange(30.0)})
    >>> Y = pd.DataFrame({"age": 2 * np.arange(30.0)})
    >>> s = cross_fitted_skill(X, Y, build_tasks(Y), mean_proc)[0]
    >>> s.metric, s.rows, s.skill <= 0   # the mean imputer is no better than the mean
    ('r2', 30, True)
    """
    support_X = support_X.reset_index(drop=True)
    support_Y = support_Y.reset_index(drop=True)
    fold = fold_ids(len(support_X), folds, seed)
    acc = {t.name: _Acc() for t in tasks}
    for k in range(folds):
        tr, te = fold != k, fold == k
        if not te.any():
            continue
        values, proba = procedure(support_X[tr], support_Y[tr], support_X[te])
        values = values.reset_index(drop=True)
        for t in tasks:
            truth = task_target(support_Y[te].reset_index(drop=True), t)
            known = truth.notna().to_numpy()
            if not known.any():
                continue
            fit_truth = task_target(support_Y[tr], t).dropna()
            pred = task_target(values, t)
            p = proba.get(t.name)
            acc[t.name].add(t, truth[known], pred[known], fit_truth,
                            None if p is None else p.reset_index(drop=True)[known])
    return [acc[t.name].result(t) for t in tasks]


class _Acc:
    """Pooled sums over folds for one task."""

    def __init__(self) -> None:
        self.n = 0
        self.sse = self.sse0 = 0.0
        self.hits = self.hits0 = 0
        self.ll = self.ll0 = 0.0
        self.has_ll = True

    def add(self, task: Task, truth: pd.Series, pred: pd.Series, fit_truth: pd.Series, proba: pd.DataFrame | None):
        self.n += len(truth)
        if task.kind == "numeric":
            t = truth.to_numpy(dtype=float)
            self.sse += float(np.sum((t - pred.to_numpy(dtype=float)) ** 2))
            self.sse0 += float(np.sum((t - float(fit_truth.astype(float).mean())) ** 2))
            return
        t, p = _labels(truth), _labels(pred)
        freq = _labels(fit_truth).value_counts(normalize=True)
        self.hits += int((t.to_numpy() == p.to_numpy()).sum())
        self.hits0 += int((t == freq.index[0]).sum())
        self.ll0 += float(-np.sum(np.log(np.clip(t.map(freq).fillna(0.0).to_numpy(dtype=float), 1e-6, 1.0))))
        if proba is None:
            self.has_ll = False
            return
        cols = {_label(c): j for j, c in enumerate(proba.columns)}
        P = proba.to_numpy(dtype=float)
        idx = np.array([cols.get(v, -1) for v in t])
        pt = np.where(idx >= 0, P[np.arange(len(t)), np.maximum(idx, 0)], 0.0)
        self.ll += float(-np.sum(np.log(np.clip(pt, 1e-6, 1.0))))

    def result(self, task: Task) -> TaskSkill:
        base = dict(task=task.name, columns=task.columns, kind=task.kind, rows=self.n)
        metric = "r2" if task.kind == "numeric" else "accuracy"
        if self.n == 0:
            return TaskSkill(**base, metric=metric, skill=None, score=None, baseline=None, logloss_skill=None)
        if task.kind == "numeric":
            r2 = 1.0 - self.sse / self.sse0 if self.sse0 > 0 else 0.0
            return TaskSkill(**base, metric=metric, skill=r2, score=r2, baseline=0.0, logloss_skill=None)
        a, a0 = self.hits / self.n, self.hits0 / self.n
        skill = (a - a0) / (1.0 - a0) if a0 < 1 else 0.0
        ll = (1.0 - self.ll / self.ll0 if self.ll0 > 0 else 0.0) if self.has_ll else None
        return TaskSkill(**base, metric=metric, skill=skill, score=a, baseline=a0, logloss_skill=ll)


def _label(v) -> str:
    """Class values compared as text ("1" and 1.0 are the same class)."""
    s = str(v)
    return s[:-2] if s.endswith(".0") else s


def _labels(s: pd.Series) -> pd.Series:
    return s.astype(object).map(_label)


def falls_back(skill: TaskSkill, threshold: float = SKILL_THRESHOLD) -> bool:
    """True when a measured skill is at or below `threshold` (unmeasured skills never fall back)."""
    return skill.skill is not None and skill.skill <= threshold


def marginal_draws(support_Y: pd.DataFrame, task: Task, index: pd.Index,
                   seed: int | np.random.SeedSequence) -> pd.DataFrame:
    """Independent draws (with replacement) from the support set's known values of `task`, one per row.

    The result depends on the support set, `len(index)` and `seed` only; one-hot groups come back as
    one consistent one-hot row per draw. Columns are cast like the support set's.

    >>> Y = pd.DataFrame({"sex": ["f", "m", "m", "m"]})
    >>> from fusiondp.impute.targets import Task
    >>> d = marginal_draws(Y, Task("sex", ("sex",), "categorical"), pd.RangeIndex(1000), seed=0)
    >>> sorted(d["sex"].unique()), bool(0.65 < (d["sex"] == "m").mean() < 0.85)
    (['f', 'm'], True)
    """
    known = task_target(support_Y, task).dropna().to_numpy()
    rng = np.random.default_rng(seed)
    values = known[rng.integers(0, len(known), len(index))]
    return decode(task, values, support_Y.iloc[:1], index)


def conditional_draws(support_Y: pd.DataFrame, task: Task, given: Sequence[Task], current: pd.DataFrame,
                      seed: int | np.random.SeedSequence) -> pd.DataFrame:
    """Draws of a categorical `task` from the support set *given* the rows' values of earlier categorical tasks.

    For each row of `current` (the hybrid so far), a value is drawn from the support rows that share its
    values of every task in `given`; rows whose combination never occurs in the support set get a marginal
    draw. The result depends on the support set, the hybrid's own (public) values of `given` and `seed`
    only, and keeps imputed combinations possible (e.g. relationship given sex and marital status), which
    independent marginal draws do not (measured on Adult, docs/results/imputer_fallback.md).

    >>> Y = pd.DataFrame({"sex": ["f", "f", "m", "m"], "rel": ["wife", "wife", "husband", "husband"]})
    >>> from fusiondp.impute.targets import Task
    >>> cur = pd.DataFrame({"sex": ["f", "m", "m"]})
    >>> conditional_draws(Y, Task("rel", ("rel",), "categorical"), [Task("sex", ("sex",), "categorical")],
    ...                   cur, seed=0)["rel"].tolist()
    ['wife', 'husband', 'husband']
    """
    if not given:
        return marginal_draws(support_Y, task, current.index, seed)
    target = task_target(support_Y, task)
    keys_s = _keys(support_Y, given)
    keys_c = _keys(current, given)
    known = target.notna().to_numpy()
    rng = np.random.default_rng(seed)
    out = np.empty(len(current), dtype=object)
    pools: dict[str, np.ndarray] = {}
    for k, v in zip(keys_s[known], target.to_numpy()[known]):
        pools.setdefault(k, []).append(v)  # type: ignore[attr-defined]
    everything = target.dropna().to_numpy()
    for k in pd.unique(keys_c):
        rows = np.flatnonzero(keys_c == k)
        pool = np.asarray(pools.get(k, everything), dtype=object)
        out[rows] = pool[rng.integers(0, len(pool), len(rows))]
    return decode(task, out, support_Y.iloc[:1], current.index)


def _keys(frame: pd.DataFrame, tasks: Sequence[Task]) -> np.ndarray:
    """One text key per row from the values of `tasks` (a one-hot group by the name of its set column)."""
    parts = [task_target(frame, t).map(_label).astype(str).to_numpy() for t in tasks]
    return np.array(["\x1f".join(p) for p in zip(*parts)], dtype=object) if parts else np.array([])
