"""The `kernel_ridge` learner of the ensemble imputer: an RBF kernel model with its penalty chosen in closed form.

Round 5 of issue 25. The round-2 kernel learner (`kernel`: an RBF support-vector regression with a fixed penalty
C = 1) underfits sepsis Age on the support folds; a kernel *ridge* regression chooses its penalty by efficient
leave-one-out (`sklearn.linear_model.RidgeCV`) and serves categorical targets too (kernel logistic regression).
The kernel map is `sklearn.kernel_approximation.Nystroem` with up to ``max_components`` support rows as centres:
exact kernel ridge when the support set is smaller than that (on sepsis's support folds exact kernel ridge was no
better than 800 centres, in a scratch check), linear in the rows beyond it. It reads the linear view of the public
columns (normal scores, missing-value indicators, contrasts, one-hot categories; `ensemble._LinearView`), whose
columns are on a common scale. Each column is then multiplied by its *relevance*, ``|r| ** relevance_power`` with r
the column's correlation with the target on the rows being fitted (`RelevanceScaler`; weights normalised to a
mean square of one), a cheap stand-in for one length scale per column: irrelevant columns no longer dilute the
distances (sepsis Age, support folds: 0.269 -> 0.276 R² single, `benchmarks/imputer_round5.py --relevance-power 0`
against the default). One length scale ``gamma = gamma_per_feature /
n_features`` serves the scaled columns.

Constants (``ensemble.json``, "kernel_ridge") were chosen on sepsis support folds only (docs/results/
imputer_candidates.md, round 5); no training row's sensitive value is read.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.kernel_approximation import Nystroem
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.pipeline import make_pipeline


class RelevanceScaler(TransformerMixin, BaseEstimator):
    """Multiplies each column by ``|corr(column, target)| ** power``, normalised to a mean square of one.

    For a categorical target (integer codes) a column's correlation is the largest absolute correlation with a
    class indicator. A linear correlation misses effects that are not monotone (a U shape gets weight near zero);
    a binned correlation ratio that sees them was worse on sepsis Age's support folds (single learner R² 0.262
    against 0.276, round 5), so the plain correlation stays. Constant columns, and every column when the target is constant, get weight zero / one.
    Fitted inside the learner, so out-of-fold predictions stay honest (weights from the fitting rows only).

    >>> X = np.array([[0.0, 1.0], [1.0, -1.0], [2.0, -1.0], [3.0, 1.0]])
    >>> RelevanceScaler(power=1.0).fit(X, np.array([0.0, 1.0, 2.0, 3.0])).weights_.round(3).tolist()
    [1.414, 0.0]
    """

    def __init__(self, power: float = 0.5, categorical: bool = False) -> None:
        self.power = power
        self.categorical = categorical

    def fit(self, X: np.ndarray, y: np.ndarray) -> "RelevanceScaler":
        X = np.asarray(X, dtype=float)
        Y = (np.asarray(y)[:, None] == np.unique(y)[None, :]).astype(float) if self.categorical else \
            np.asarray(y, dtype=float)[:, None]
        Xc, Yc = X - X.mean(axis=0), Y - Y.mean(axis=0)
        sx, sy = np.sqrt((Xc ** 2).sum(axis=0)), np.sqrt((Yc ** 2).sum(axis=0))
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.nan_to_num(np.abs(Xc.T @ Yc) / np.outer(sx, sy)).max(axis=1)
        w = r ** float(self.power)
        norm = np.sqrt(np.mean(w ** 2))
        self.weights_ = w / norm if norm > 0 else np.ones(X.shape[1])
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X, dtype=float) * self.weights_


def kernel_ridge_model(*, categorical: bool, n_rows: int, n_features: int, settings: dict[str, Any],
                       random_state: int) -> BaseEstimator:
    """An unfitted RBF kernel ridge (numeric) or kernel logistic (categorical) pipeline.

    Args:
        categorical: classification (kernel logistic regression) instead of regression.
        n_rows: rows it will be fitted on (the number of Nystroem centres is ``min(n_rows, max_components)``).
        n_features: columns of the matrix it will read (sets the RBF length scale).
        settings: ``ensemble.json``'s "kernel_ridge" entry (gamma_per_feature, relevance_power,
            max_components, ridge_alphas_log10, logistic_C).
        random_state: seed of the choice of centres.

    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3)); y = np.sin(2 * X[:, 0])
    >>> s = {"gamma_per_feature": 1.0, "relevance_power": 0.5, "max_components": 800, "ridge_alphas_log10": [-3, 2, 11], "logistic_C": 0.3}
    >>> m = kernel_ridge_model(categorical=False, n_rows=200, n_features=3, settings=s, random_state=0).fit(X, y)
    >>> bool(np.corrcoef(m.predict(X), y)[0, 1] > 0.9)
    True
    """
    gamma = float(settings["gamma_per_feature"]) / max(1, n_features)
    basis = Nystroem(kernel="rbf", gamma=gamma, n_components=max(1, min(int(n_rows), int(settings["max_components"]))),
                     random_state=random_state)
    scale = RelevanceScaler(power=float(settings["relevance_power"]), categorical=categorical)
    if categorical:
        return make_pipeline(scale, basis, LogisticRegression(C=float(settings["logistic_C"]), max_iter=3000))
    return make_pipeline(scale, basis, RidgeCV(alphas=np.logspace(*settings["ridge_alphas_log10"])))
