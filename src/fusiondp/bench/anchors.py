"""External anchors for the benchmark: interpret's EBM and DP-EBM on the benchmark's own splits.

These are benchmark-only extras (``pip install "fusiondp[anchors]"``): they show where fusiondp's methods stand
against what a user would otherwise pick for a tabular task, a non-private Explainable Boosting Machine and its
differentially private variant (Nori et al., ICML 2021). They are not fusiondp methods and never enter the
training engine; :func:`run_anchor` returns a record in the shape of the bench runner's records
(`fusiondp.bench.runner`), so the same tables can show them.

* ``ebm``: ``ExplainableBoostingClassifier`` on the original training rows (the feature-level encoding the
  runner gives ``sgd_ori``): a non-private anchor, ε = None.
* ``dp_ebm``: ``DPExplainableBoostingClassifier``, record-level (ε, δ)-DP. It runs on the record-level encoding
  (``bench.record_level``: preprocessing and label classes fitted on the public support set only), and nothing
  of its data handling reads training rows outside interpret's accounted mechanisms:

  - every feature is declared ``'continuous'`` (interpret's type auto-detection examines the data outside the
    budget, and its private *categorical* binning keeps the category values seen in the training rows);
  - the per-feature bounds it bins over (``privacy_bounds``) come from public data only
    (:func:`public_reference`: the support set's encoded min/max; one-hot levels and missingness indicators are
    ``[0, 1]`` by construction), and the training features are clipped to them before fitting, so a training
    value outside the public range cannot move a bound;
  - its noise is drawn from fresh entropy (``random_state=None``, as interpret asks for a private run).

Neighbouring relation of DP-EBM. interpret's documentation (the ``DPExplainableBoostingClassifier`` API page and
docs/interpret/dpebm.ipynb in interpretml/interpret) does not name a neighbouring relation. Its code (interpret
0.7.8) calibrates the noise of the private binning with per-record sensitivity ``max_weight`` = 1 of each
histogram count (utils/_preprocessor.py, ``calc_gdp_noise_multi(...) * max_weight``) and the noise of each
boosting step's residual sums with sensitivity ``domain_size * learning_rate * max_weight`` where
``domain_size`` = 1 for classification (glassbox/_ebm/_ebm.py, "Alg Line 17"): one record changes one count by
1 and one bin's residual sum by at most 1 (a logistic residual lies in (-1, 1)). That is the calibration of
*add/remove one record*; replacing a record can move two counts (L2 √2) and two residual sums, so the records
say ``relation = "add_remove"`` (the same record-level relation as ``dpsgd``), with this derivation in
``relation_source``. interpret also treats the number of training rows as public (its bins' target weight is
``n / max_bins``), as add/remove accountants commonly do.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np
import pandas as pd
import torch

from fusiondp.bench.registry import BenchData
from fusiondp.errors import BackendUnavailableError, ConfigError, DataError, UnsupportedError
from fusiondp.evaluate.metrics import best_f1_threshold, classification_metrics

__all__ = ["ANCHORS", "PublicReference", "public_reference", "anchor_inputs", "fit_anchor", "run_anchor",
           "DP_EBM_SETTINGS", "EBM_SETTINGS"]

ANCHORS = ("ebm", "dp_ebm")
INSTALL_HINT = 'pip install "fusiondp[anchors]"'

#: DP-EBM settings: interpret's defaults (max_bins 32, 300 rounds, lr 0.01, 3 leaves, one outer bag, 10 % of ε
#: for the binning, GDP composition), single-threaded.
DP_EBM_SETTINGS: dict[str, Any] = dict(n_jobs=1)
#: EBM settings: interpret's defaults (interactions '3x', early stopping, ...) except one outer bag instead of 14:
#: single-threaded, 14 bags take about ten minutes per run on sepsis, one bag about half a minute, at nearly the
#: same test AUROC (measured once on seed 0 while building this module; the bags only average the same fit).
EBM_SETTINGS: dict[str, Any] = dict(n_jobs=1, outer_bags=1)

RELATION_SOURCE = (
    "interpret's docs name no neighbouring relation; its code (0.7.8) calibrates the binning noise to "
    "sensitivity 1 per histogram count (utils/_preprocessor.py) and each boosting step's residual-sum noise "
    "to domain_size*learning_rate with domain_size = 1 for classification (glassbox/_ebm/_ebm.py): the "
    "add/remove-one-record calibration")


@dataclass(frozen=True)
class PublicReference:
    """The public support set in the record-level encoding, and the feature bounds derived from it.

    Attributes:
        x: support rows encoded with the record-level preprocessing (fitted on the support set only).
        binary: True for a 0/1 feature by construction (one-hot level, missingness indicator).
        bounds: (n_features, 2) public [low, high] per feature: ``[0, 1]`` for binary features, the support
            rows' min/max for the others. Never computed from training rows.
        val_x: the validation rows in the same encoding (to check it is the encoding the benchmark used).
    """

    x: np.ndarray
    binary: np.ndarray
    bounds: np.ndarray
    val_x: np.ndarray | None = None


def _binary_mask(pre) -> np.ndarray:
    """Which encoded features are 0/1 by construction (from the fitted preprocessor's layout, not from values)."""
    mask: list[bool] = []
    for c in pre.columns:
        if c in pre.categories:
            mask += [True] * len(pre.categories[c])
        else:
            mask += [False] + ([True] if c in pre.indicators else [])
    return np.array(mask, dtype=bool)


def bounds_from_public(x_public: np.ndarray, binary: np.ndarray | None = None) -> np.ndarray:
    """Per-feature [low, high] from public rows only: their min/max, widened to [0, 1] for binary features."""
    x_public = np.asarray(x_public, dtype=np.float64)
    if x_public.ndim != 2 or len(x_public) == 0:
        raise DataError("The public reference rows must be a non-empty 2-D array.")
    bounds = np.stack([x_public.min(axis=0), x_public.max(axis=0)], axis=1)
    if binary is not None:
        bounds[np.asarray(binary, dtype=bool)] = (0.0, 1.0)
    return bounds


def public_reference(frames: Mapping[str, pd.DataFrame], schema, *, seed: int = 0) -> PublicReference:
    """Encode the support set as the benchmark's record-level view does, and derive public feature bounds.

    `frames` are a dataset spec's ``load(data_dir, seed)`` frames ('train', 'hybrid', 'val', 'test',
    'support'). The preprocessing is `fusiondp.pipeline.prepare(..., record_level=True)`, the call the
    registry makes for ``bench.record_level``, so the encodings agree (checked by :func:`anchor_inputs`).
    """
    from fusiondp.pipeline import prepare

    support = frames.get("support")
    if support is None:
        raise ConfigError("DP-EBM needs a public support set to take its feature bounds from; this dataset has none.")
    p = prepare(frames["train"], frames["hybrid"], schema, seed=seed, support_df=support, record_level=True,
                eval_frames={"support": support, "val": frames["val"]})
    x = p.eval_sets["support"][0].numpy()
    binary = _binary_mask(p.pre)
    return PublicReference(x, binary, bounds_from_public(x, binary), p.eval_sets["val"][0].numpy())


def anchor_inputs(dataset: str, data_dir, seed: int) -> tuple[BenchData, PublicReference | None]:
    """The benchmark's BenchData for `dataset` at `seed` and its public reference (None: no support set).

    Raises DataError when the reference's encoding differs from the benchmark's record-level encoding.
    """
    from fusiondp.bench.registry import get_dataset

    entry = get_dataset(dataset)
    bench = entry.prepare(data_dir, seed)
    spec = entry.spec  # the declarative tabular entry (None for other datasets)
    if spec is None or bench.record_level is None:
        return bench, None
    ref = public_reference(spec.load(data_dir, seed), spec.schema, seed=seed)
    if ref.val_x is None or not np.array_equal(ref.val_x, bench.record_level.val[0].numpy()):
        raise DataError(f"The public reference of {dataset!r} is not encoded like the benchmark's record-level view.")
    return bench, ref


def _interpret():
    """interpret's two classifiers, imported lazily (a benchmark-only dependency)."""
    try:
        from interpret.glassbox import ExplainableBoostingClassifier
        from interpret.privacy import DPExplainableBoostingClassifier
    except ImportError as e:
        raise BackendUnavailableError("The benchmark anchors (ebm, dp_ebm) need the package interpret-core, which "
                                      "is not installed.", hint=INSTALL_HINT) from e
    return ExplainableBoostingClassifier, DPExplainableBoostingClassifier


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def fit_anchor(name: str, bench: BenchData, epsilon: float | None, seed: int, delta: float = 1e-5, *,
               public: PublicReference | None = None) -> tuple[Any, BenchData, dict]:
    """Fit one anchor; returns (fitted interpret model, the BenchData view it was fitted on, facts for the record).

    `public` is required for ``dp_ebm`` (its bounds); ``ebm`` ignores it and `epsilon` must be None.
    """
    if name not in ANCHORS:
        raise ConfigError(f"Unknown anchor {name!r}; choose one of {', '.join(ANCHORS)}.")
    EBM, DPEBM = _interpret()
    if name == "ebm":
        if epsilon is not None:
            raise ConfigError("The non-private anchor 'ebm' takes no epsilon.")
        view = bench
        x, y = _np(view.data.x).astype(np.float64), _np(view.data.y)
        model = EBM(random_state=seed, **EBM_SETTINGS)
        t0 = time.perf_counter()
        model.fit(x, y.astype(np.int64) if view.data.n_classes == 2 else y)
        return model, view, {"seconds": time.perf_counter() - t0, "settings": {**EBM_SETTINGS, "random_state": seed,
                             "rest": "interpret defaults (outer_bags reduced from 14 for speed)"}}

    if epsilon is None or not epsilon > 0:
        raise ConfigError(f"The private anchor 'dp_ebm' needs an epsilon > 0, got {epsilon!r}.")
    if bench.record_level is None:
        raise ConfigError("Record-level DP-EBM needs the record-level view (preprocessing fitted on a public support "
                          "set); this dataset has none.")
    if public is None:
        raise ConfigError("DP-EBM needs public feature bounds: pass public=public_reference(...).")
    view = bench.record_level
    if view.data.n_classes != 2:
        raise UnsupportedError("interpret's DP-EBM classifier supports binary targets only.")
    x = _np(view.data.x).astype(np.float64)
    if public.bounds.shape != (x.shape[1], 2):
        raise DataError(f"Public bounds have shape {public.bounds.shape}, the training features {x.shape[1]} columns.")
    bounds = public.bounds.copy()
    x = np.clip(x, bounds[:, 0], bounds[:, 1])  # a training value never reaches interpret outside the public range
    y = _np(view.data.y).astype(np.int64)
    model = DPEBM(epsilon=float(epsilon), delta=float(delta), feature_types=["continuous"] * x.shape[1],
                  privacy_bounds=bounds, random_state=None, **DP_EBM_SETTINGS)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        # Any privacy warning of interpret means data were read outside its budget: refuse the run.
        warnings.filterwarnings("error", message=".*[Pp]rivacy violation.*")
        model.fit(x, y)
    facts = {"seconds": time.perf_counter() - t0,
             "settings": {**DP_EBM_SETTINGS, "random_state": None, "feature_types": "continuous (all)",
                          "privacy_bounds": "support set min/max; [0, 1] for one-hot and indicator features",
                          "training_features_clipped_to_bounds": True, "rest": "interpret defaults",
                          "noise_scale_binning": float(model.noise_scale_binning_),
                          "noise_scale_boosting": float(model.noise_scale_boosting_)}}
    return model, view, facts


def _scores(model, x: torch.Tensor, binary: bool) -> np.ndarray:
    proba = model.predict_proba(_np(x).astype(np.float64))
    return proba[:, 1] if binary else proba


def _evaluate(model, view: BenchData) -> dict[str, dict[str, float]]:
    """Validation and test metrics; the binary F1 threshold is chosen on validation only (as `evaluate_splits`)."""
    binary = view.data.n_classes == 2
    splits = {"val": view.val, "test": view.test}
    scores = {k: _scores(model, x, binary) for k, (x, _) in splits.items()}
    threshold = best_f1_threshold(_np(view.val[1]), scores["val"])[0] if binary else None
    return {k: classification_metrics(_np(y), scores[k], threshold=threshold) for k, (_, y) in splits.items()}


def _interpret_version() -> str | None:
    try:
        return version("interpret-core")
    except PackageNotFoundError:
        return None


def run_anchor(name: str, bench: BenchData, epsilon: float | None, seed: int, delta: float = 1e-5, *,
               dataset: str = "", public: PublicReference | None = None) -> dict:
    """Fit anchor `name` on the benchmark's split and return a runner-shaped record (val and test metrics).

    Args:
        name: 'ebm' (non-private, `epsilon` None) or 'dp_ebm' (record-level DP at `epsilon`, `delta`).
        bench: the dataset's prepared data for `seed` (`get_dataset(dataset).prepare(data_dir, seed)`).
        public: the public reference of this seed (:func:`public_reference`), required for 'dp_ebm'.
    """
    model, view, facts = fit_anchor(name, bench, epsilon, seed, delta, public=public)
    private = name == "dp_ebm"
    return {"dataset": dataset, "method": name, "epsilon": epsilon, "seed": seed,
            "spent_epsilon": float(epsilon) if private else None, "delta": float(delta) if private else None,
            "sigma": None, "relation": "add_remove" if private else None,
            "relation_source": RELATION_SOURCE if private else None,
            "accountant": "interpret gdp composition" if private else None,
            "seconds": round(facts["seconds"], 2), "config": facts["settings"], "overrides": {},
            "anchor": True, "interpret_version": _interpret_version(), **_evaluate(model, view)}
