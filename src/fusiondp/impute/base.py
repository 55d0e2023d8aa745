"""The imputer interface (docs/method.md §3: x̂_priv = F(x_pub)).

An imputer is fitted on a public *support set* (public columns X and the
sensitive columns Y, both free to use) and then predicts every sensitive column
from public columns alone. `predict` refuses any frame that holds a column the
imputer was fitted to predict, so a training row's sensitive values cannot be
handed to it by mistake; `fusiondp.impute.make_hybrid` additionally passes only
`schema.public_view(train)`.

Subclasses implement two hooks on plain arrays:

- `_fit_task(task, X, y, X_unlabeled)` returns a fitted predictor for one task,
  where `y` holds float values (numeric) or integer class codes (categorical);
- `_predict_task(model, task, X)` returns values (numeric) or an (n, K) matrix
  of class probabilities (categorical).

The base class does the rest: targets and one-hot groups, NaN in the support
set's sensitive columns (those rows are skipped for that task), encoding of
public columns, classes seen only once, progress display, thread limits.
"""

from __future__ import annotations

import copy

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from fusiondp.errors import DataError
from fusiondp.impute.features import FeatureEncoder
from fusiondp.impute.targets import Task, build_tasks, decode, task_target


class Imputer(ABC):
    """Predicts sensitive columns from public columns; fitted on a public support set.

    Args:
        categorical: sensitive columns to treat as categorical whatever their dtype.
        onehot_groups: one-hot groups among the sensitive columns (e.g.
            `[["Unit1", "Unit2"]]`); None detects them from the support set, [] disables.
        random_state: seed of every random choice the backend makes.
        progress: show a rich progress bar over the tasks.
        n_jobs: worker threads a backend may use for its own parallel loops (e.g.
            forest trees). OpenMP/BLAS pools are always limited to one thread while
            fitting and predicting: on small shared machines their spin-waiting
            threads made gradient boosting 10-50x slower with two threads than with one.

    >>> from fusiondp.impute import get_imputer
    >>> X = pd.DataFrame({"hr": [70.0, 80.0, 90.0, 100.0]})
    >>> Y = pd.DataFrame({"age": [40.0, 50.0, 60.0, 70.0], "sex": ["f", "m", "m", "m"]})
    >>> imp = get_imputer("mean").fit(X, Y)
    >>> imp.predict(pd.DataFrame({"hr": [75.0]})).to_dict("records")
    [{'age': 55.0, 'sex': 'm'}]
    """

    name: ClassVar[str] = "base"
    reads_features: ClassVar[bool] = True
    """False for an imputer that ignores the public columns (`mean`): the fallback does not score it."""

    def __init__(self, *, categorical: Sequence[str] = (), onehot_groups: Sequence[Sequence[str]] | None = None,
                 random_state: int = 0, progress: bool = False, n_jobs: int = 2) -> None:
        self.categorical = tuple(categorical)
        self.onehot_groups = None if onehot_groups is None else [list(g) for g in onehot_groups]
        self.random_state = int(random_state)
        self.progress = bool(progress)
        self.n_jobs = max(1, int(n_jobs))

    # -- hooks ---------------------------------------------------------------
    @abstractmethod
    def _fit_task(self, task: Task, X: np.ndarray, y: np.ndarray, X_unlabeled: np.ndarray | None) -> Any:
        """Fit one task; `y` is float (numeric) or int codes 0..K-1 (categorical)."""

    @abstractmethod
    def _predict_task(self, model: Any, task: Task, X: np.ndarray) -> np.ndarray:
        """Values (numeric) or (n, K) class probabilities (categorical)."""

    def scoring_copy(self, *, light: bool = True) -> "Imputer":
        """An unfitted copy that measures this imputer's skill on support folds (`fusiondp.impute.fallback`).

        `light` lets a backend trade a little accuracy of the estimate for speed (the skill only decides
        whether a column falls back to support draws); this base version returns a plain copy.
        """
        return copy.deepcopy(self)

    # -- public API ----------------------------------------------------------
    def fit(self, X: pd.DataFrame, Y: pd.DataFrame, *, unlabeled: pd.DataFrame | None = None) -> "Imputer":
        """Fit on the support set.

        Args:
            X: public columns of the support set.
            Y: sensitive columns of the support set (NaN allowed; such rows are
                skipped for that column).
            unlabeled: optional public columns of further rows (e.g. the
                training rows); backends may use them (semi-supervised), they
                never carry sensitive values.
        """
        if len(X) != len(Y):
            raise DataError(f"Support public columns ({len(X)} rows) and sensitive columns ({len(Y)} rows) differ.")
        if len(X) == 0:
            raise DataError("The support set is empty.")
        overlap = sorted(set(map(str, X.columns)) & set(map(str, Y.columns)))
        if overlap:
            raise DataError(f"Column(s) {overlap} are both features and targets of the imputer.")
        if unlabeled is not None:
            self._refuse_sensitive(unlabeled, list(map(str, Y.columns)), "unlabeled rows")
            unlabeled = unlabeled[list(X.columns)]
        self.features_ = [str(c) for c in X.columns]
        self.targets_ = [str(c) for c in Y.columns]
        self.tasks_ = build_tasks(Y, categorical=self.categorical, onehot_groups=self.onehot_groups)
        self._like = Y.iloc[:1].copy()
        frames = [X] if unlabeled is None else [X, unlabeled]
        self.encoder_ = FeatureEncoder().fit(pd.concat(frames, ignore_index=True))
        Xs = self.encoder_.transform(X)
        Xu = None if unlabeled is None else self.encoder_.transform(unlabeled)
        self.models_: dict[str, Any] = {}
        self.classes_: dict[str, np.ndarray] = {}
        with self._threads():
            for task in self._track(self.tasks_, "fitting"):
                y = task_target(Y, task)
                known = y.notna().to_numpy()
                if not known.any():
                    raise DataError(f"Sensitive column {task.name!r} is missing on every support row.")
                if task.kind == "numeric":
                    yk = pd.to_numeric(y[known], errors="coerce").to_numpy(dtype=float)
                    self.models_[task.name] = self._fit_task(task, Xs[known], yk, Xu)
                    continue
                classes, codes = np.unique(y[known].astype(object).to_numpy(), return_inverse=True)
                self.classes_[task.name] = classes
                self.models_[task.name] = (None if len(classes) == 1
                                           else self._fit_task(task, Xs[known], codes.astype(int), Xu))
        return self

    def predict(self, X: pd.DataFrame) -> pd.DataFrame:
        """Predict every sensitive column from public columns `X` (same index as X).

        Categorical columns get the most probable class; one-hot groups get
        one consistent one-hot row.
        """
        Xe = self._encode(X)
        parts = []
        with self._threads():
            for task in self._track(self.tasks_, "imputing"):
                if task.kind == "numeric":
                    vals = np.asarray(self._predict_task(self.models_[task.name], task, Xe), dtype=float)
                else:
                    proba = self._proba(task, Xe)
                    vals = self.classes_[task.name][np.argmax(proba, axis=1)]
                parts.append(decode(task, vals, self._like, X.index))
        return pd.concat(parts, axis=1)[self.targets_]

    def predict_proba(self, X: pd.DataFrame) -> dict[str, pd.DataFrame]:
        """Class probabilities of each categorical task, keyed by task name (one column per class)."""
        Xe = self._encode(X)
        out = {}
        with self._threads():
            for task in self.tasks_:
                if task.kind == "categorical":
                    out[task.name] = pd.DataFrame(self._proba(task, Xe), index=X.index,
                                                  columns=list(self.classes_[task.name]))
        return out

    # -- helpers -------------------------------------------------------------
    def _proba(self, task: Task, Xe: np.ndarray) -> np.ndarray:
        model = self.models_[task.name]
        if model is None:
            return np.ones((len(Xe), 1))
        return np.asarray(self._predict_task(model, task, Xe), dtype=float)

    def _encode(self, X: pd.DataFrame) -> np.ndarray:
        if not hasattr(self, "tasks_"):
            raise DataError(f"The {self.name!r} imputer is not fitted; call fit(support_X, support_Y) first.")
        self._refuse_sensitive(X, self.targets_, "the frame to impute")
        return self.encoder_.transform(X)

    @staticmethod
    def _refuse_sensitive(frame: pd.DataFrame, targets: Iterable[str], what: str) -> None:
        leaked = sorted(set(map(str, frame.columns)) & set(targets))
        if leaked:
            raise DataError(f"{what} holds sensitive column(s) {leaked}; an imputer may only read public "
                            "columns (use schema.public_view(frame)).")

    def _threads(self):
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # pragma: no cover - sklearn depends on threadpoolctl
            return nullcontext()
        return threadpool_limits(1)

    def _track(self, tasks: list[Task], verb: str):
        if not self.progress:
            return tasks
        from rich.progress import track

        return track(tasks, description=f"{self.name}: {verb} {len(tasks)} sensitive target(s)", transient=True)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(random_state={self.random_state})"
