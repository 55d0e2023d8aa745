"""The default offline imputer: a cross-validated stack of trees, a linear model and a kernel model.

Per sensitive target, up to six learners are fitted on the support set's public
columns (the default stack, four of them, and the settings chosen on support folds live in
``ensemble.json``, `constants()`; round 4's six-learner stack is `ROUND4_LEARNERS`, an option):

- `hgb`: histogram gradient boosting (depth 3, L2 5, at least 20 rows a leaf,
  500 rounds at learning rate 0.02; NaN and categorical public columns handled
  natively; `EnsembleImputer.BOOSTING`);
- `forest`: a random forest on the raw public columns (NaN handled natively);
- `forest_linear` (round 4 of issue 25): the same forest on the linear
  learner's view (normal scores, missing-value indicators, contrasts, one-hot
  categories). Better than `forest` on some columns (sepsis Age, Gender),
  worse on others (ICULOS): the blend weighs both per column;
- `linear`: ridge regression / logistic regression on quantile-normalised
  public columns plus missing-value indicators and one-hot categories. The
  quantile map is fitted on all public rows given to `fit` (support rows and,
  through `unlabeled`, the training rows' public columns, which are free);
- `kernel` (numeric targets only, at most `KERNEL_MAX_ROWS` support rows): an
  RBF support-vector regression on the linear learner's features, target
  standardised. Smooth where trees are piecewise constant, it adds the most to
  the blend on small support sets;
- `kernel_ridge` (round 5, an option: `ROUND5_LEARNERS`): an RBF kernel ridge / kernel logistic regression on
  the linear view, columns weighted by their correlation with the target on the fitting rows, penalty chosen by
  leave-one-out (`fusiondp.impute.kernel_ridge`); the best single learner on sepsis Age's support folds;
- `spline` (round 4): an additive model, a cubic B-spline basis of each
  linear-view feature followed by ridge / logistic regression: smooth
  non-linear effects of single columns that the ridge cannot bend to.

Every learner also reads *contrast features*: for each pair of strongly correlated
numeric public columns, the difference of their normal scores (what one says
beyond the other, e.g. systolic minus diastolic pressure; `_LinearView`). Pairs are
chosen on public rows only (rank correlation above `CONTRAST_MIN_CORR`), never by
looking at a sensitive value.

Their out-of-fold predictions on the support set (k-fold, seeded) choose the
blend: non-negative least squares with an intercept for numeric targets (the
weights need not sum to one, so a weak target shrinks towards the support mean
instead of adding noise; the published TabPFN hybrid reaches HospAdmTime R² 0.04, docs/results/imputation.md), and the
convex combination with the lowest out-of-fold log-loss (0.1 grid) for
categorical targets. Only support rows are ever labels: nothing here reads a
training row's sensitive value.

Chosen on the support set only (`benchmarks/imputer_candidates.py`, docs/results/imputer_candidates.md:
sepsis val.csv cross-fitted over 3 folds): contrast features raised Age R² from 0.249 to 0.274, the kernel
learner to 0.259, both to 0.280 (Gender accuracy unchanged at 0.655); the training-row report with the
previous default side by side is docs/results/imputation.md (`python benchmarks/imputation.py`). Round 3
(issue 25) made the boosting learner shallower and slower (`EnsembleImputer.BOOSTING`): on support folds it
raised Adult's age R² and sex accuracy (0.122 -> 0.132, 0.697 -> 0.715) and left sepsis Age/Gender where they
were (0.280 -> 0.281, 0.655 -> 0.654). Tried in round 3 on the same support folds (single learners, 3 folds,
sepsis and Adult) and left out: an sklearn MLP (Age R² 0.08), SVR with C 0.3 or 3 (below C 1 on sepsis),
logistic C 0.03 or 1 (mixed: neither beat C 0.1 on both tables), depth-2 boosting (best on Adult age,
worst on sepsis Age). Round 4 (issue 25): a second forest on the linear view and the spline learner
joined (`benchmarks/imputer_round4.py`: 3 sepsis support folds, two fold seeds, blends scored on rows that did not
choose their weights): Age R² 0.278 -> 0.282, Gender accuracy 0.651 -> 0.655 (mean of the two seeds), HospAdmTime
0.038 -> 0.037, ICULOS 0.237 -> 0.234; replacing the raw forest instead of adding one lost ICULOS (0.226).
On the training rows that was Age 0.300 -> 0.303 and Gender 0.671 unchanged, downstream equal within the seed
spread, for 1.64× the fitting time: the six-learner stack is an option (`ROUND4_LEARNERS`), not the default. Tried
during development (5-fold out-of-fold scores on the same support set) and left out: extra-trees,
k-nearest neighbours, a slower/deeper boosting, a degree-2 polynomial ridge, and an SVC for categorical
targets (each at or below the learners above out of fold, or adding nothing to the blend; the SVC also
costs an internal calibration CV); earlier, self-training on pseudo-labelled training rows and chaining
predicted sensitive columns into the next target changed Age R² and Gender accuracy by about 0.01 or less
while multiplying the fitting time.
"""

from __future__ import annotations

import functools
import itertools
import json
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import nnls
from sklearn.compose import TransformedTargetRegressor
from sklearn.ensemble import (HistGradientBoostingClassifier, HistGradientBoostingRegressor,
                              RandomForestClassifier, RandomForestRegressor)
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import QuantileTransformer, SplineTransformer, StandardScaler
from sklearn.svm import SVR

from fusiondp._validate import one_of, positive
from fusiondp.errors import ConfigError
from fusiondp.impute.base import Imputer
from fusiondp.impute.kernel_ridge import kernel_ridge_model
from fusiondp.impute.targets import Task


@functools.lru_cache(maxsize=1)
def constants() -> dict:
    """The ensemble's tuned constants (``fusiondp/impute/ensemble.json``), chosen on support folds only."""
    return json.loads(files("fusiondp.impute").joinpath("ensemble.json").read_text())


LEARNERS = ("hgb", "forest", "forest_linear", "linear", "kernel", "spline", "kernel_ridge")
"""Every learner the ensemble knows; the default stack is `DEFAULT_LEARNERS`."""
DEFAULT_LEARNERS = tuple(constants()["learners"])
ROUND4_LEARNERS = tuple(constants()["learners_round4"])
"""Round 4's six-learner stack (issue 25): slightly better on the support folds, 1.64× slower to fit; an option
(``EnsembleImputer(learners=ROUND4_LEARNERS)``), not the default (``ensemble.json``'s 'about')."""
ROUND5_LEARNERS = tuple(constants()["learners_round5"])
"""Round 5's stack (issue 25): the default with the SVR `kernel` learner replaced by `kernel_ridge`
(`fusiondp.impute.kernel_ridge`); an option, not the default (``ensemble.json``'s 'about')."""
_MAX_HGB_CLASSES = 12  # multi-class boosting fits one tree per class per round: too slow beyond this
KERNEL_MAX_ROWS = 5000
"""The kernel learner (an RBF support-vector regression, numeric targets only) is skipped above this many
support rows with a known value: its fit grows with the square of the rows."""
CONTRAST_MIN_CORR = 0.5
"""Pairs of numeric public columns whose rank correlation (on all public rows) exceeds this in absolute value
get a contrast feature (see `_LinearView`)."""
_CORR_ROWS = 20_000  # public rows (seeded subsample) that measure the correlations


@dataclass
class _Stack:
    models: dict[str, Any]
    weights: np.ndarray
    intercept: float = 0.0
    n_classes: int = 0
    names: list[str] = field(default_factory=list)


class _LinearView:
    """Public matrix -> dense features for the linear learner, and contrast features (public rows only).

    Contrasts: for each pair of strongly correlated numeric public columns (|rank correlation| above
    `CONTRAST_MIN_CORR`, at most as many pairs as numeric columns, strongest first), the difference of
    their normal scores, ``z_i - sign(r) z_j``: what one column says beyond the other (e.g. systolic minus
    diastolic pressure). A tree needs many splits to approximate such a difference from the two columns.
    Pairs, quantile maps and correlations are fitted on public rows only (the support set's and the
    training rows' public columns); no sensitive value is read.
    """

    def __init__(self, X: np.ndarray, categorical: np.ndarray, random_state: int, *, contrasts: bool = True) -> None:
        self.num = np.flatnonzero(~categorical)
        self.cat = np.flatnonzero(categorical)
        self.na_cols = self.num[np.isnan(X[:, self.num]).any(axis=0)] if self.num.size else self.num
        self.levels = {j: np.unique(X[~np.isnan(X[:, j]), j]) for j in self.cat}
        self.pairs = np.zeros((0, 2), dtype=int)
        self.signs = np.zeros(0)
        if self.num.size:
            Xn = X[:, self.num]
            self.qt = QuantileTransformer(n_quantiles=min(200, len(X)), output_distribution="normal",
                                          subsample=100_000, random_state=random_state).fit(Xn)
            if contrasts and self.num.size > 1:
                self._fit_contrasts(Xn, random_state)

    def _fit_contrasts(self, Xn: np.ndarray, random_state: int) -> None:
        if len(Xn) > _CORR_ROWS:
            Xn = Xn[np.random.default_rng(random_state).choice(len(Xn), _CORR_ROWS, replace=False)]
        r = pd.DataFrame(self.qt.transform(Xn)).corr(min_periods=30).to_numpy()
        i, j = np.triu_indices(len(self.num), 1)
        strength = np.nan_to_num(np.abs(r[i, j]))
        keep = np.flatnonzero(strength > CONTRAST_MIN_CORR)
        keep = keep[np.argsort(-strength[keep], kind="stable")][:len(self.num)]
        self.pairs = np.column_stack([i[keep], j[keep]])
        self.signs = np.sign(r[i[keep], j[keep]])

    def _contrast(self, Z: np.ndarray) -> np.ndarray:
        return Z[:, self.pairs[:, 0]] - self.signs * Z[:, self.pairs[:, 1]]

    def contrasts(self, X: np.ndarray) -> np.ndarray:
        """(n, pairs) contrast features of the public matrix `X`, NaN where either column is missing."""
        if not len(self.pairs):
            return np.zeros((len(X), 0))
        return self._contrast(self.qt.transform(X[:, self.num]))

    @property
    def width(self) -> int:
        """Columns of the matrix `__call__` returns."""
        w = self.num.size + self.na_cols.size + len(self.pairs) + sum(len(v) for v in self.levels.values())
        return max(w, 1)

    def __call__(self, X: np.ndarray) -> np.ndarray:
        parts = []
        if self.num.size:
            Z = self.qt.transform(X[:, self.num])
            parts.append(np.nan_to_num(Z, nan=0.0))
            parts.append(np.isnan(X[:, self.na_cols]).astype(float))
            if len(self.pairs):
                parts.append(np.nan_to_num(self._contrast(Z), nan=0.0))
        for j in self.cat:
            parts.append((X[:, [j]] == self.levels[j][None, :]).astype(float))
        return np.hstack(parts) if parts else np.zeros((len(X), 1))


class EnsembleImputer(Imputer):
    """Stacked gradient boosting + random forest + linear, additive and kernel models (the offline default).

    Args:
        learners: which base learners to stack (subset of `LEARNERS`; default `DEFAULT_LEARNERS`, from
            ``ensemble.json``). The kernel
            learner serves numeric targets with at most `KERNEL_MAX_ROWS` known support values and is
            skipped otherwise (a categorical task left with no other learner uses "linear").
        folds: folds of the out-of-fold predictions that choose the blend.
        n_trees: trees of the random forest.
        boosting_rounds: boosting iterations of the gradient-boosting learner (its learning rate is
            `BOOSTING["shrinkage"] / boosting_rounds`, clipped to 0.02-0.1: see `boosting_learning_rate`).
        contrasts: add contrast features of correlated numeric public columns (see `_LinearView`).
        **kwargs: see `Imputer` (categorical, onehot_groups, random_state, progress, n_jobs).

    >>> import pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"hr": rng.normal(size=200)})
    >>> Y = pd.DataFrame({"age": 50 + 10 * X["hr"] + rng.normal(size=200)})
    >>> imp = EnsembleImputer(n_trees=20).fit(X, Y)
    >>> bool(abs(imp.predict(pd.DataFrame({"hr": [1.0]}))["age"].iloc[0] - 60) < 3)
    True
    """

    name = "ensemble"

    def __init__(self, *, learners: tuple[str, ...] | list[str] = DEFAULT_LEARNERS, folds: int = 5, n_trees: int = 200,
                 boosting_rounds: int = 500, contrasts: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        learners = tuple(learners)
        if not learners:
            raise ConfigError("EnsembleImputer needs at least one learner.")
        for name in learners:
            one_of("learner", name, LEARNERS)
        positive(folds=folds, n_trees=n_trees, boosting_rounds=boosting_rounds)
        if folds < 2:
            raise ConfigError(f"Expected folds >= 2, got folds={folds}.")
        self.learners = learners
        self.folds = int(folds)
        self.n_trees = int(n_trees)
        self.boosting_rounds = int(boosting_rounds)
        self.contrasts = bool(contrasts)

    #: Settings of the light scoring copy (`make_hybrid(skill_scoring="light")`): fewer blending folds and trees;
    #: benchmarks/hybrid_speed.py measures the time saved and the skills moved, side by side.
    LIGHT_SCORING = {"folds": 3, "n_trees": 100}

    #: Penalty of the kernel learner's support-vector regression on the standardised target.
    KERNEL_C = 1.0

    #: Shape of the boosting learner: shallow trees, strong L2, at least `min_leaf` rows a leaf, and a learning
    #: rate of `shrinkage / boosting_rounds` (clipped to 0.02-0.1), so more rounds mean smaller steps, not more
    #: fitting. Chosen on support folds only (`benchmarks/imputer_candidates.py --round3`,
    #: docs/results/imputer_candidates.md) against the previous shape (depth 4, L2 2, leaves of 3+ rows, 200
    #: rounds at 0.05): Adult (512 support rows) age R² 0.122 -> 0.132, sex 0.697 -> 0.715, marital 0.525 -> 0.527;
    #: sepsis (1,573) Age 0.280 -> 0.281, Gender 0.655 -> 0.654 (unchanged within noise).
    BOOSTING = {"max_depth": 3, "l2": 5.0, "min_leaf": 20, "shrinkage": 10.0}

    def boosting_learning_rate(self) -> float:
        """Learning rate of the boosting learner: `BOOSTING["shrinkage"] / boosting_rounds`, within [0.02, 0.1]."""
        return float(np.clip(self.BOOSTING["shrinkage"] / self.boosting_rounds, 0.02, 0.1))

    def scoring_copy(self, *, light: bool = True) -> "EnsembleImputer":  # noqa: D102 (see Imputer.scoring_copy)
        c = super().scoring_copy(light=light)
        if light:
            c.folds = min(c.folds, self.LIGHT_SCORING["folds"])
            c.n_trees = min(c.n_trees, self.LIGHT_SCORING["n_trees"])
        return c

    def fit(self, X, Y, *, unlabeled=None) -> "EnsembleImputer":  # noqa: D102 (see Imputer.fit)
        self._linear = None
        return super().fit(X, Y, unlabeled=unlabeled)

    # -- learners --------------------------------------------------------------
    def _make(self, name: str, task: Task, n: int, n_classes: int) -> Any:
        seed = self.random_state
        leaf = int(np.clip(n // 40, 3, 30))
        clf = task.kind == "categorical"
        if name == "hgb":
            cat = self._hgb_categorical
            kw = dict(learning_rate=self.boosting_learning_rate(), max_iter=self.boosting_rounds,
                      max_depth=self.BOOSTING["max_depth"], min_samples_leaf=max(leaf, self.BOOSTING["min_leaf"]),
                      l2_regularization=self.BOOSTING["l2"], categorical_features=cat if cat.any() else None,
                      random_state=seed)
            return HistGradientBoostingClassifier(**kw) if clf else HistGradientBoostingRegressor(**kw)
        if name in ("forest", "forest_linear"):
            if clf:
                return RandomForestClassifier(self.n_trees, min_samples_leaf=3, max_features="sqrt",
                                              n_jobs=self.n_jobs, random_state=seed)
            return RandomForestRegressor(self.n_trees, min_samples_leaf=5, max_features=0.33,
                                         n_jobs=self.n_jobs, random_state=seed)
        if name == "kernel":  # numeric only (`_learners_for`); standardised target, so C and epsilon are unitless
            return TransformedTargetRegressor(SVR(C=self.KERNEL_C, epsilon=0.1, gamma="scale"),
                                              transformer=StandardScaler())
        if name == "kernel_ridge":  # RBF kernel ridge / kernel logistic regression on the linear view (round 5)
            return kernel_ridge_model(categorical=clf, n_rows=n, n_features=self._linear.width,
                                      settings=constants()["kernel_ridge"], random_state=seed)
        if name == "spline":  # an additive model on the linear view (`ensemble.json`, "spline")
            c = constants()["spline"]
            basis = SplineTransformer(n_knots=c["n_knots"], degree=c["degree"])
            if clf:
                return make_pipeline(basis, LogisticRegression(C=c["logistic_C"], max_iter=2000))
            return make_pipeline(basis, RidgeCV(alphas=np.logspace(*c["ridge_alphas_log10"])))
        if clf:
            return LogisticRegression(C=0.1, max_iter=1000)
        return RidgeCV(alphas=np.logspace(-1, 4, 16))

    def _learners_for(self, task: Task, n_classes: int, n_rows: int) -> list[str]:
        names = list(self.learners)
        if task.kind == "categorical" and n_classes > _MAX_HGB_CLASSES and len(names) > 1 and "hgb" in names:
            names.remove("hgb")
        if "kernel" in names and (task.kind == "categorical" or n_rows > KERNEL_MAX_ROWS):
            names.remove("kernel")
        return names or ["linear"]

    def _view(self, name: str, X: np.ndarray) -> np.ndarray:
        if name in ("linear", "kernel", "spline", "forest_linear", "kernel_ridge"):
            return self._linear(X)
        contrasts = self._linear.contrasts(X)
        return np.hstack([X, contrasts]) if contrasts.shape[1] else X

    def _out(self, model: Any, task: Task, X: np.ndarray, n_classes: int) -> np.ndarray:
        if getattr(model, "n_jobs", None) not in (None, 1):
            # A forest predicting in threads sums its trees in completion order, so two identical builds
            # differed in the last bits; one thread keeps hybrids reproducible (prediction is cheap next to fit).
            model.n_jobs = 1
        if task.kind == "numeric":
            return model.predict(X)
        p = np.zeros((len(X), n_classes))
        p[:, model.classes_.astype(int)] = model.predict_proba(X)
        return p

    # -- Imputer hooks ---------------------------------------------------------
    def _fit_task(self, task: Task, X: np.ndarray, y: np.ndarray, X_unlabeled: np.ndarray | None) -> _Stack:
        mask = self.encoder_.categorical_mask
        allx = X if X_unlabeled is None else np.vstack([X, X_unlabeled])
        if self._linear is None:  # once per fit: public rows only
            self._linear = _LinearView(allx, mask, self.random_state, contrasts=self.contrasts)
            self._hgb_categorical = np.concatenate([mask & (np.nan_to_num(np.nanmax(allx, axis=0, initial=0)) < 250),
                                                    np.zeros(len(self._linear.pairs), dtype=bool)])
        k = int(y.max()) + 1 if task.kind == "categorical" else 0
        names = self._learners_for(task, k, len(y))
        views = {nm: self._view(nm, X) for nm in names}
        weights, intercept = self._blend(task, names, views, y, k)
        models = {nm: self._make(nm, task, len(y), k).fit(views[nm], y)
                  for nm, w in zip(names, weights) if w > 0}
        return _Stack(models, weights[weights > 0], intercept, k, [nm for nm, w in zip(names, weights) if w > 0])

    def _predict_task(self, model: _Stack, task: Task, X: np.ndarray) -> np.ndarray:
        if not model.names:
            return np.full(len(X), model.intercept)
        outs = [self._out(model.models[nm], task, self._view(nm, X), model.n_classes) for nm in model.names]
        combined = sum(w * o for w, o in zip(model.weights, outs))
        return combined + model.intercept if task.kind == "numeric" else combined / combined.sum(axis=1, keepdims=True)

    # -- blending --------------------------------------------------------------
    def _splits(self, task: Task, y: np.ndarray):
        if task.kind == "categorical" and np.bincount(y).min() >= self.folds:
            return StratifiedKFold(self.folds, shuffle=True, random_state=self.random_state).split(y, y)
        return KFold(self.folds, shuffle=True, random_state=self.random_state).split(y)

    def _blend(self, task: Task, names: list[str], views: dict[str, np.ndarray], y: np.ndarray,
               k: int) -> tuple[np.ndarray, float]:
        if len(names) == 1 or len(y) < 4 * self.folds:
            return np.full(len(names), 1.0 / len(names)), 0.0
        oof = {nm: (np.zeros(len(y)) if task.kind == "numeric" else np.zeros((len(y), k))) for nm in names}
        for tr, te in self._splits(task, y):
            for nm in names:
                model = self._make(nm, task, len(tr), k).fit(views[nm][tr], y[tr])
                oof[nm][te] = self._out(model, task, views[nm][te], k)
        if task.kind == "numeric":
            P = np.column_stack([oof[nm] for nm in names])
            w, _ = nnls(P - P.mean(axis=0), y - y.mean())
            if not np.any(w > 0):  # nothing beats the support mean: predict it
                return np.zeros(len(names)), float(y.mean())
            return w, float(y.mean() - P.mean(axis=0) @ w)
        best, best_loss = None, np.inf
        grid = [g for g in itertools.product(range(11), repeat=len(names)) if sum(g) == 10]
        for g in grid:
            w = np.array(g) / 10.0
            p = sum(wi * oof[nm] for wi, nm in zip(w, names))
            loss = -np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-6, 1.0)))
            if loss < best_loss - 1e-12:
                best, best_loss = w, loss
        return best, 0.0
