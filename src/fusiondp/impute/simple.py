"""The mean/mode imputer: a baseline and the test double of every other backend."""

from __future__ import annotations

from typing import Any

import numpy as np

from fusiondp.impute.base import Imputer
from fusiondp.impute.targets import Task


class MeanImputer(Imputer):
    """Predicts the support mean (numeric) or the class frequencies (categorical) for every row.

    It reads no feature at all, so it is also the `sgd_pub`-style reference
    that any useful imputer must beat.

    >>> import pandas as pd
    >>> X = pd.DataFrame({"hr": [70.0, 80.0, 90.0]})
    >>> Y = pd.DataFrame({"age": [40.0, 50.0, None]})
    >>> MeanImputer().fit(X, Y).predict(X)["age"].tolist()
    [45.0, 45.0, 45.0]
    """

    name = "mean"
    reads_features = False  # the marginal baseline itself: `make_hybrid(fallback="auto")` leaves it as it is

    def _fit_task(self, task: Task, X: np.ndarray, y: np.ndarray, X_unlabeled: np.ndarray | None) -> Any:
        if task.kind == "numeric":
            return float(np.mean(y))
        return np.bincount(y) / len(y)

    def _predict_task(self, model: Any, task: Task, X: np.ndarray) -> np.ndarray:
        if task.kind == "numeric":
            return np.full(len(X), model)
        return np.tile(model, (len(X), 1))
