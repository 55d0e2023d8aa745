"""A scikit-learn classifier that trains with feature-level differential privacy.

`FusionDPClassifier` wraps the whole tabular pipeline (imputation of the
hybrid table, public-only preprocessing, the private training step and the
accountant) behind ``fit`` / ``predict`` / ``predict_proba`` / ``score``.

**Every call to ``fit`` spends the privacy budget again.** Refitting on the same
rows (grid search, cross-validation, a second ``fit``) composes: k fits at ε
each cost up to k·ε on the rows they share. Choose hyperparameters on public
data (the support set or the hybrid table) or account for the search.

scikit-learn's estimator checks (``parametrize_with_checks``) run in
``tests/product/test_estimator.py``. They cannot run on the default settings,
because ``fit(X, y)`` alone has no public support set to impute from: a private
fit needs ``support=`` or ``hybrid=``. The checks therefore run with
``support_fraction=0.3`` (the first 30 % of the rows of ``X`` become the public
support set; their sensitive values are treated as public) and the ``mean``
imputer, ``noise_multiplier=1.0`` and a few epochs, and all of them pass.
Behaviours worth knowing that the checks exercise:

* one sample, a single class, or every column sensitive raise ``ValueError``
  (a private fit needs rows for both the support set and a Poisson batch, two
  classes, and a public column to impute from);
* refitting with the same ``random_state`` gives a different model: the noise and the
  Poisson sampling come from secret OS entropy, never from ``random_state``; each refit
  spends budget again (see above).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(400, 4)); y = (X[:, 0] + X[:, 1] > 0).astype(int)
>>> clf = FusionDPClassifier(sensitive=[0], support_fraction=0.25, imputer="mean", epochs=2, batch_size=64,
...                          public_batch_size=128, accountant="rdp", epsilon=4.0)
>>> clf.fit(X, y).epsilon_spent_ <= 4.0
True
>>> clf.predict(X[:3]).shape
(3,)
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from fusiondp.errors import ConfigError, DataError

_TARGET = "__fusiondp_target__"


def _frame(X, feature_names: list[str] | None = None) -> pd.DataFrame:
    """X as a DataFrame with string column names (x0, x1, ... for arrays)."""
    if isinstance(X, pd.DataFrame):
        out = X.copy()
        out.columns = [str(c) for c in out.columns]
        return out.reset_index(drop=True)
    if hasattr(X, "toarray") or getattr(X, "format", None) is not None:
        raise TypeError("FusionDPClassifier does not accept sparse input; pass a dense array or a DataFrame.")
    arr = np.asarray(X)
    if arr.dtype.kind in "fc" and np.iscomplexobj(arr):
        raise ValueError("Complex data not supported.")
    if arr.ndim != 2:
        raise ValueError(f"Expected 2D array, got {arr.ndim}D array instead. Reshape your data.")
    if arr.shape[1] == 0:
        raise ValueError(f"Found array with 0 feature(s) (shape={arr.shape}) while a minimum of 1 is required.")
    if arr.dtype.kind == "O":
        bad = next((v for v in arr.ravel() if not (v is None or isinstance(v, (str, int, float, np.number)))), None)
        if bad is not None:
            raise TypeError(f"argument must be a string or a number, not {type(bad).__name__!r}")
        try:
            arr = arr.astype(float)
        except (TypeError, ValueError):
            pass
    if arr.dtype.kind in "fiub" and np.isinf(arr.astype(float)).any():
        raise ValueError("Input X contains infinity or a value too large.")
    names = feature_names or [f"x{i}" for i in range(arr.shape[1])]
    return pd.DataFrame(arr, columns=names)


class FusionDPClassifier(ClassifierMixin, BaseEstimator):
    """Feature-level DP classifier (FusionDP and the other methods of `fusiondp.train.methods`).

    Args:
        sensitive: the sensitive columns: names (DataFrame input) or positions.
        epsilon, delta: the privacy budget of ONE fit (every refit spends it again).
        method: a method name (``fusiondp``, ``fdp_fm``, ``dpsgd``, ...).
        imputer: imputer used to build the hybrid table from the support set
            (see `fusiondp.impute.make_hybrid`).
        relation: ``remove`` (default) or ``replace`` neighbouring relation.
        accountant: ``pld`` or ``rdp``.
        noise_multiplier: fix σ instead of calibrating it to ``epsilon``
            (ε is then reported; with ``epsilon=None`` it is not capped).
        support_fraction: when ``fit`` gets neither ``support`` nor ``hybrid``,
            use this fraction of the rows of ``X`` (the first rows) as the public
            support set, as in the paper (about 10 %). Those rows' sensitive values
            are then treated as public and they leave the private training set: NO
            guarantee covers them, and ``privacy_record_["unprotected_rows"]`` says so.
            None (default) requires an explicit ``support`` or ``hybrid``.
        categorical: extra columns to one-hot encode.
        epochs, batch_size, public_batch_size, lr, clip, alpha, beta, hidden, dropout:
            training settings (`fusiondp.train.config.TrainConfig`); None (the default) lets the rule of
            `fusiondp.train.defaults.auto_settings` choose from N, ε, δ and the method, as `fusiondp train`
            does; given ``batch_size`` and ``public_batch_size`` are capped at the number of training rows.
        random_state: seed of imputation and training.
        progress: show a progress bar.
        model: your network instead of the default MLP (then ``hidden`` and ``dropout`` are unused): a
            factory ``factory(n_features, n_outputs) -> nn.Module``, a ``"module:factory"`` string, or an
            ``nn.Module`` (each fit trains a fresh deep copy, so the instance you pass is never changed).
            The contract and its checks: `fusiondp.train.models`, docs/custom_models.md.
        learner: ``"auto"`` (default): ``"blend"`` where it can run (method ``fusiondp``, a binary target, a
            labelled support set with both classes, ``epsilon`` without ``noise_multiplier``, no ``model``), else
            ``"mlp"`` (`fusiondp.blend.auto`; ``report_["learner_choice"]`` says which and why). ``"mlp"``: a
            network trained by the gradient methods; ``"trees"``: feature-level
            DP gradient-boosted trees (`fusiondp.trees`, docs/method.md §9; binary or K >= 3 classes; method
            ``fusiondp`` or ``sgd_hybrid`` for its public stage alone; the network settings are unused, ``clip``
            sets the trees' clip); ``"blend"``: both on the same records, noise calibrated jointly to ε, logits
            averaged with a weight chosen on the labelled support set (`fusiondp.blend`; binary targets; method
            ``fusiondp``; needs ``support_fraction``; the network settings and ``clip`` apply to its network).
        release_guard: when the support set carries labels (``support_fraction``), a feature-level fit also
            trains the free baseline ``sgd_hybrid`` and keeps whichever scores higher on the support set
            (post-processing: no ε; docs/training.md, "the release guard"; ``report_["release_guard"]`` says
            which). False skips it.
        tree_candidate: with the release guard and the built-in network (no ``model``), the tree learner's
            public stage ``hybrid_trees`` (ε = 0) is a third candidate and, for a binary target, the private
            network blended with it a fourth, so ``model_`` may be a tree ensemble or a blend when that scores
            highest on the support set. False keeps the release a network.

    Fitted attributes:
        model_, preprocessor_, classes_, n_features_in_, feature_names_in_ (DataFrame input),
        epsilon_spent_, privacy_record_ (the same record `fusiondp.io.save` stores), report_, run_record_ (the
        `fusiondp.report.record.RunRecord` both are serialised from). ``save(path)`` writes the fitted model to a
        fusiondp model file (`fusiondp.io`), for `fusiondp.load` and ``fusiondp predict``.
    """

    def __init__(self, sensitive: Sequence[str | int] | str | int | None = None, *, epsilon: float | None = 2.0,
                 delta: float = 1e-5, method: str = "fusiondp", imputer: str = "default", relation: str = "remove",
                 accountant: str = "pld", noise_multiplier: float | None = None,
                 support_fraction: float | None = None, categorical: Sequence[str] | None = None,
                 epochs: float | None = None, batch_size: int | None = None, public_batch_size: int | None = None,
                 lr: float | None = None, clip: float | None = None, alpha: float | None = None,
                 beta: float | None = None, hidden: tuple[int, ...] = (64, 128, 64),
                 dropout: float = 0.15, random_state: int = 0, progress: bool = False, model=None,
                 learner: str = "auto", release_guard: bool = True, tree_candidate: bool = True) -> None:
        self.sensitive = sensitive
        self.epsilon = epsilon
        self.delta = delta
        self.method = method
        self.imputer = imputer
        self.relation = relation
        self.accountant = accountant
        self.noise_multiplier = noise_multiplier
        self.support_fraction = support_fraction
        self.categorical = categorical
        self.epochs = epochs
        self.batch_size = batch_size
        self.public_batch_size = public_batch_size
        self.lr = lr
        self.clip = clip
        self.alpha = alpha
        self.beta = beta
        self.hidden = hidden
        self.dropout = dropout
        self.random_state = random_state
        self.progress = progress
        self.model = model
        self.learner = learner
        self.release_guard = release_guard
        self.tree_candidate = tree_candidate

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.non_deterministic = True  # the DP noise and sampling are secret: no seed reproduces a fit
        return tags

    def _sensitive_names(self, frame: pd.DataFrame) -> list[str]:
        if self.sensitive is None:
            raise ConfigError("FusionDPClassifier needs sensitive=[...]: the columns to protect.")
        items = [self.sensitive] if isinstance(self.sensitive, (str, int, np.integer)) else list(self.sensitive)
        names = []
        for s in items:
            if isinstance(s, (int, np.integer)):
                if not 0 <= int(s) < frame.shape[1]:
                    raise ConfigError(f"Sensitive column position {s} is out of range for {frame.shape[1]} columns.")
                names.append(str(frame.columns[int(s)]))
            else:
                names.append(str(s))
        return names

    def fit(self, X, y, *, support: pd.DataFrame | None = None, hybrid=None,
            support_rows_are_distinct_people: bool = False) -> "FusionDPClassifier":
        """Train with the configured privacy budget (spent again by every call).

        Args:
            X: training features (DataFrame or 2-D array), true sensitive values included.
            y: labels (public in this setting; only ``dpsgd`` protects them).
            support: public support set with every feature column (the imputer's only
                source of sensitive values); disjoint from ``X``.
            hybrid: a ready hybrid copy of ``X`` (same rows; sensitive columns imputed). With
                ``hybrid``, ``support`` may still be given: it is then the public reference table on
                which record-level ``dpsgd`` fits its preprocessing (required for ``dpsgd``).
            support_rows_are_distinct_people: state that the support rows are other people than the rows of
                ``X`` even where every value agrees (a coded table); recorded in ``report_``. A support set
                matching ``X`` more often than coincidence explains is still refused
                (`fusiondp.data.guards.SupportIdentity`).
        """
        import torch

        from fusiondp.data.schema import Schema
        from fusiondp.io import support_fingerprint
        from fusiondp.pipeline import run
        from fusiondp.report.record import Provenance
        from fusiondp.train.config import TrainConfig

        if y is None:
            raise ValueError("requires y to be passed, but the target y is None")
        frame = _frame(X)
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            import warnings

            from sklearn.exceptions import DataConversionWarning

            warnings.warn("A column-vector y was passed when a 1d array was expected; it is ravelled.",
                          DataConversionWarning, stacklevel=2)
            y = y.ravel()
        if y.ndim != 1 or len(y) != len(frame):
            raise ValueError(f"y must be 1-D with one label per row of X: got shape {y.shape} for {len(frame)} rows.")
        if len(frame) == 0:
            raise ValueError("Found array with 0 sample(s) while a minimum of 1 is required.")
        if y.dtype.kind == "f" and not np.isfinite(y).all():
            raise ValueError("Input y contains NaN or infinity.")
        if y.dtype.kind == "f" and len(np.unique(y)) > 0.5 * len(y) and not np.all(y == np.round(y)):
            raise ValueError("Unknown label type: continuous target; FusionDPClassifier is a classifier.")
        names = self._sensitive_names(frame)
        if len(set(names)) >= frame.shape[1]:
            raise ValueError(f"X has n_features={frame.shape[1]}, all of them sensitive: at least one public "
                             "column is needed to impute them from.")
        if len(pd.unique(y)) < 2:
            raise ValueError(f"Classifier can't train when only one class is present (y holds only {y[0]!r}).")
        train = frame.assign(**{_TARGET: y})
        schema = Schema(_TARGET, names, categorical=self.categorical)
        fingerprint, unprotected, imputation = None, None, None
        if support is not None:
            support = _frame(support, list(frame.columns) if not isinstance(support, pd.DataFrame) else None)
        if hybrid is not None:
            hybrid_df = _frame(hybrid, list(frame.columns)).assign(**{_TARGET: y})
        else:
            if support is None:
                if self.support_fraction is None:
                    raise ConfigError("fit needs a public support set (support=...) or a hybrid table (hybrid=...); "
                                      "or set support_fraction to carve one out of X.")
                k = int(round(self.support_fraction * len(frame)))
                if not 0 < self.support_fraction < 1 or k < 2 or len(frame) - k < 2:
                    raise ValueError(f"support_fraction={self.support_fraction} leaves no usable support or "
                                     f"training rows among n_samples={len(frame)}.")
                support, train = train.iloc[:k].reset_index(drop=True), train.iloc[k:].reset_index(drop=True)
                unprotected = {"count": k, "rows": f"the first {k} rows of X (support_fraction={self.support_fraction})",
                               "why": "used in the clear as the public support set (imputer, preprocessing): "
                                      "no privacy guarantee covers these rows"}
            from fusiondp.impute import impute_hybrid

            made = impute_hybrid(train, support, schema, imputer=self.imputer, random_state=self.random_state,
                                 progress=self.progress)
            hybrid_df, imputation = made.frame, made.provenance
            hybrid_df[_TARGET] = train[_TARGET].to_numpy()
            fingerprint = support_fingerprint(support)
        n = len(train)
        cap = lambda v: None if v is None else min(v, n)
        cfg = TrainConfig(epochs=self.epochs, batch_size=cap(self.batch_size),
                          public_batch_size=cap(self.public_batch_size), lr=self.lr, clip=self.clip,
                          alpha=self.alpha, beta=self.beta, epsilon=self.epsilon, delta=self.delta,
                          relation=self.relation, accountant=self.accountant,
                          noise_multiplier=self.noise_multiplier, seed=self.random_state,
                          hidden=tuple(self.hidden), dropout=self.dropout)
        threads = torch.get_num_threads()
        try:
            model = copy.deepcopy(self.model) if isinstance(self.model, torch.nn.Module) else self.model
            from fusiondp.data.guards import SupportIdentity

            identity = SupportIdentity(distinct_people=True) if support_rows_are_distinct_people else None
            provenance = Provenance(imputer=self.imputer if hybrid is None else "given hybrid table",
                                    imputation=imputation, support_fingerprint=fingerprint,
                                    unprotected_rows=unprotected)
            result, prepared, record = run(train, hybrid_df, schema, method=self.method, config=cfg,
                                           progress=self.progress, support_df=support, model=model,
                                           provenance=provenance, learner=self.learner,
                                           tree_settings={"clip": self.clip} if self.learner == "trees" else None,
                                           support_identity=identity, guard=self.release_guard,
                                           guard_trees=self.tree_candidate)
        finally:
            torch.set_num_threads(threads)
        self.model_ = result.model.eval()
        self.preprocessor_ = prepared.pre
        self.classes_ = np.asarray(prepared.labels.classes)
        self.n_features_in_ = frame.shape[1]
        self.columns_ = list(frame.columns)
        if isinstance(X, pd.DataFrame) and all(isinstance(c, str) for c in X.columns):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.privacy_record_ = record.privacy_record()
        self.epsilon_spent_ = self.privacy_record_["epsilon"]
        self.report_ = record.to_report()
        self.run_record_ = record
        return self

    def _check_X(self, X) -> pd.DataFrame:
        check_is_fitted(self)
        frame = _frame(X)
        if frame.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {frame.shape[1]} features, but FusionDPClassifier is expecting "
                             f"{self.n_features_in_} features as input.")
        if not isinstance(X, pd.DataFrame):
            frame.columns = self.columns_
        return frame

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``."""
        import torch

        from fusiondp.evaluate.metrics import predict_scores

        frame = self._check_X(X)
        try:
            x = self.preprocessor_.transform(frame, what="X", public_rows=True)
        except DataError as e:
            raise ValueError(str(e)) from None
        scores = predict_scores(self.model_, torch.from_numpy(x))
        return np.stack([1 - scores, scores], axis=1) if scores.ndim == 1 else scores

    def predict(self, X) -> np.ndarray:
        """The most probable class of each row."""
        check_is_fitted(self)
        return self.classes_[self.predict_proba(X).argmax(1)]

    def save(self, path) -> Path:
        """Write the fitted model to one fusiondp model file (`fusiondp.io.save`; any learner); returns the path.

        The file holds the released model, the public preprocessing, the label classes and this fit's privacy
        record (``privacy_record_``), and nothing of the training rows: `fusiondp.load(path)` and
        ``fusiondp predict --model path`` read it, with the same predictions as this estimator.
        """
        from types import SimpleNamespace

        from fusiondp.io import save

        check_is_fitted(self)
        released = SimpleNamespace(model=self.model_)
        prepared = SimpleNamespace(pre=self.preprocessor_, labels=SimpleNamespace(classes=list(self.classes_)))
        return save(path, released, prepared, self.run_record_)
