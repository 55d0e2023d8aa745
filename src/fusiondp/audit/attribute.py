"""Attribute-inference attack on a released model (what it reveals about the sensitive columns).

Threat model. The attacker holds the released model (black box: class
probabilities), a training record's public features and label, and the public
support set (all columns). For each sensitive column (a one-hot group such as
``Unit1``/``Unit2`` is one categorical attribute) it guesses the record's value.

Attack ("informed", Bayes' rule). Candidates are the column's categories, or a
quantile grid of its support values for numeric columns. The other sensitive
columns are set to the attacker's own imputations. For candidate c,

    posterior(c) ∝ prior(c | public) · p_model(y | public, c)

where the prior comes from the default imputer fitted on the support set
(class probabilities; for numeric columns a normal distribution around the
imputed value whose scale is the imputer's cross-fitted residual error on the
support set, integrated over the grid cell of c). The guess is the posterior's
mode (categorical), or for numeric columns the imputed value moved by the shift
the model causes in the grid mean (posterior mean − prior mean), so a model that
says nothing about the column leaves the public guess unchanged. A "model-only" variant (the candidate
that makes the model most confident in the true label) is reported as well.

Comparisons, on the same attacked rows:

* **baseline** (b): the best guess from public information alone: the same
  imputer fitted on the support set with the label as an extra feature;
* **advantage** = attack − baseline on training rows, with a bootstrap CI: what
  the model adds to public knowledge (population-level and record-level);
* **held-out**: the same attack and baseline on rows the model never saw; the
  **membership gap** = advantage(train) − advantage(held-out) isolates what is
  specific to training records.

Metrics: accuracy (categorical) and R² (numeric). CIs: percentile bootstrap
over rows (paired within a split, independent across splits).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from fusiondp._validate import in_open_interval, integer, positive
from fusiondp.data.schema import Schema
from fusiondp.errors import DataError
from fusiondp.impute.base import Imputer
from fusiondp.impute.registry import get_imputer
from fusiondp.impute.targets import Task, task_target

#: Stated in every output of an attribute audit (terminal, JSON, HTML). The audit's reference numbers are
#: computed on the training rows' true sensitive values (its ground truth), without noise.
NOT_FOR_RELEASE = ("NOT FOR RELEASE: contains statistics of private training data (accuracy/R² of guesses "
                   "against the training rows' true sensitive values, and counts of training rows with a known "
                   "value), computed without noise. Keep it with the data owner; it is not covered by the "
                   "model's privacy guarantee.")


@dataclass
class Attacker:
    """Everything the attacker derives from the support set (independent of the model)."""

    schema: Schema
    features: list[str]
    tasks: list[Task]
    prior: Imputer
    baseline: Imputer
    scale: dict[str, float]
    grids: dict[str, np.ndarray]
    support_rows: int
    imputer: str

    def candidates(self, task: Task) -> np.ndarray:
        """Candidate values of a task (grid, categories, or one-hot column names)."""
        if task.kind == "numeric":
            return self.grids[task.name]
        return np.asarray(self.prior.classes_[task.name], dtype=object)


def _imputer(name: str, seed: int, onehot_groups, categorical) -> Imputer:
    return get_imputer(name, random_state=seed, progress=False, onehot_groups=onehot_groups, categorical=categorical)


def fit_attacker(support: pd.DataFrame, schema: Schema, *, imputer: str = "default", grid: int = 25,
                 folds: int = 2, seed: int = 0, onehot_groups: Sequence[Sequence[str]] | None = None) -> Attacker:
    """Fit the attacker's imputers on the support set.

    Args:
        support: public support set with every column (disjoint from the training rows).
        schema: the released model's column roles (`SavedModel.schema`).
        imputer: imputer name (`fusiondp.impute`); "default" is the offline ensemble.
        grid: candidates per numeric column (support quantiles).
        folds: cross-fitting folds for the numeric prior's residual scale (≥ 2).
        seed: seeds the imputers and the folds.
        onehot_groups: one-hot groups among the sensitive columns (None: detect from the support set).
    """
    positive(grid=grid)
    if folds < 2:
        raise DataError(f"Expected folds >= 2 for the cross-fitted residual scale, got folds={folds}.")
    schema.check_columns(support, what="the support set")
    features = [c for c in schema.public_columns(support) if c in support.columns]
    missing = [c for c in schema.public_columns(support) if c not in support.columns]
    if missing:
        raise DataError(f"The support set lacks public column(s) {missing} of the model.")
    sens = list(schema.sensitive)
    cat = [c for c in schema.categorical if c in sens]
    groups = None if onehot_groups is None else [list(g) for g in onehot_groups]
    prior = _imputer(imputer, seed, groups, cat).fit(support[features], support[sens])
    with_label = features + [schema.target]
    baseline = _imputer(imputer, seed, groups, cat).fit(support[with_label], support[sens])
    tasks = list(prior.tasks_)
    grids, scale = {}, {}
    numeric = [t for t in tasks if t.kind == "numeric"]
    if numeric:
        fold = np.random.default_rng(seed).permutation(len(support)) % folds
        oof = pd.DataFrame(index=support.index, columns=[t.name for t in numeric], dtype=float)
        for k in range(folds):
            part = _imputer(imputer, seed, groups, cat).fit(support.loc[fold != k, features],
                                                              support.loc[fold != k, sens])
            pred = part.predict(support.loc[fold == k, features])
            for t in numeric:
                oof.loc[fold == k, t.name] = pred[t.name].to_numpy(float)
        for t in numeric:
            values = pd.to_numeric(support[t.name], errors="coerce").to_numpy(float)
            ok = ~np.isnan(values)
            resid = values[ok] - oof[t.name].to_numpy(float)[ok]
            scale[t.name] = float(max(np.sqrt(np.mean(resid ** 2)), 1e-9))
            grids[t.name] = np.unique(np.quantile(values[ok], (np.arange(grid) + 0.5) / grid))
    return Attacker(schema, features, tasks, prior, baseline, scale, grids, len(support), imputer)


def _label_index(y: pd.Series, classes: list) -> np.ndarray:
    index = {v: i for i, v in enumerate(classes)}
    sindex = {str(v): i for i, v in enumerate(classes)}
    out = np.array([index.get(v, sindex.get(str(v), -1)) for v in y.tolist()])
    if (out < 0).any():
        raise DataError(f"The label of row {int(np.flatnonzero(out < 0)[0])} (value withheld) is not a class of the "
                        f"model {classes}.")
    return out


def _assign(frame: pd.DataFrame, task: Task, value) -> None:
    if task.onehot:
        for c in task.columns:
            frame[c] = float(c == value)
    else:
        frame[task.columns[0]] = value


def _log_likelihood(model, base: pd.DataFrame, task: Task, candidates: np.ndarray, label_idx: np.ndarray
                    ) -> np.ndarray:
    """log p_model(true label | row with the task set to each candidate): shape (rows, candidates)."""
    n = len(base)
    frames = []
    for c in candidates:  # loop over candidate values only; rows are vectorised
        f = base.copy()
        _assign(f, task, c)
        frames.append(f)
    big = pd.concat(frames, ignore_index=True)
    proba = np.asarray(model.predict_proba(big), dtype=float)
    p = proba[np.arange(len(big)), np.tile(label_idx, len(candidates))]
    return np.log(np.clip(p, 1e-12, 1.0)).reshape(len(candidates), n).T


def _numeric_prior(mu: np.ndarray, scale: float, grid: np.ndarray) -> np.ndarray:
    """Normal(mu, scale²) mass of each grid cell (cells split at grid midpoints; ends open)."""
    edges = np.concatenate([[-np.inf], (grid[1:] + grid[:-1]) / 2, [np.inf]])
    cdf = stats.norm.cdf((edges[None, :] - mu[:, None]) / scale)
    return np.clip(np.diff(cdf, axis=1), 1e-300, None)


def _guesses(model, attacker: Attacker, task: Task, frame: pd.DataFrame, public_imputed: pd.DataFrame,
             label_idx: np.ndarray) -> dict[str, np.ndarray]:
    """Attack, model-only, baseline and prior guesses for one task on `frame`'s rows."""
    schema = attacker.schema
    cands = attacker.candidates(task)
    base = frame[attacker.features + [schema.target]].copy()
    for c in schema.sensitive:
        base[c] = public_imputed[c].to_numpy()
    ll = _log_likelihood(model, base, task, cands, label_idx)
    pub = frame[attacker.features]
    with_label = frame[attacker.features + [schema.target]]
    if task.kind == "numeric":
        mu = public_imputed[task.name].to_numpy(float)
        prior = _numeric_prior(mu, attacker.scale[task.name], cands)
        prior /= prior.sum(axis=1, keepdims=True)
        logw = np.log(prior) + ll
        w = np.exp(logw - logw.max(axis=1, keepdims=True))
        w /= w.sum(axis=1, keepdims=True)
        # Anchored on the imputation: the model moves the guess by the shift of the grid mean it causes, so a
        # model that says nothing about the column (flat likelihood) leaves the public guess unchanged.
        shift = (w - prior) @ cands.astype(float)
        return {"attack": mu + shift, "model_only": cands[np.argmax(ll, axis=1)].astype(float),
                "baseline": attacker.baseline.predict(with_label)[task.name].to_numpy(float), "prior": mu}
    prior = attacker.prior.predict_proba(pub)[task.name][list(cands)].to_numpy(float)
    logw = np.log(np.clip(prior, 1e-12, None)) + ll
    base_p = attacker.baseline.predict_proba(with_label)[task.name]
    base_p = base_p.reindex(columns=list(cands), fill_value=0.0).to_numpy(float)
    return {"attack": cands[np.argmax(logw, axis=1)], "model_only": cands[np.argmax(ll, axis=1)],
            "baseline": cands[np.argmax(base_p, axis=1)], "prior": cands[np.argmax(prior, axis=1)]}


def _metric_samples(kind: str, truth: np.ndarray, pred: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """The metric on the full rows (first entry) and on each bootstrap resample (rows of idx)."""
    if kind == "categorical":
        hit = (pred == truth).astype(float)
        return np.concatenate([[hit.mean()], hit[idx].mean(axis=1)])
    t, p = truth.astype(float), pred.astype(float)
    err = (t - p) ** 2

    def r2(e, tt):
        sst = ((tt - tt.mean(axis=-1, keepdims=True)) ** 2).sum(axis=-1)
        return 1.0 - e.sum(axis=-1) / np.where(sst > 0, sst, np.nan)

    return np.concatenate([[r2(err, t)], r2(err[idx], t[idx])])


def _split_stats(kind: str, truth: np.ndarray, guesses: dict[str, np.ndarray], rng: np.random.Generator,
                 bootstrap: int) -> dict[str, np.ndarray]:
    idx = rng.integers(0, len(truth), size=(bootstrap, len(truth)))
    return {k: _metric_samples(kind, truth, v, idx) for k, v in guesses.items()}


def _ci(samples: np.ndarray, confidence: float) -> list[float]:
    a = (1 - confidence) / 2
    s = samples[~np.isnan(samples)]
    return [float(np.quantile(s, a)), float(np.quantile(s, 1 - a))] if len(s) else [float("nan")] * 2


def attribute_audit(model, train: pd.DataFrame, heldout: pd.DataFrame, support: pd.DataFrame | Attacker, *,
                    rows: int | None = 3000, bootstrap: int = 1000, confidence: float = 0.95, seed: int = 0,
                    imputer: str = "default", grid: int = 25,
                    onehot_groups: Sequence[Sequence[str]] | None = None) -> dict:
    """Run the attribute-inference attack on training and held-out rows; returns the JSON result.

    Args:
        model: the released model: `fusiondp.io.SavedModel` (anything with `predict_proba(frame)`,
            `classes` and `schema`).
        train: training rows (true sensitive values: the attack's ground truth).
        heldout: rows from the same population the model never saw (e.g. the test split).
        support: the public support set, or an `Attacker` already fitted on it (reused across models).
        rows: attack at most this many rows of each split (random subset; None: all).
        bootstrap, confidence: bootstrap resamples and CI level.
        seed: seeds row subsets, bootstrap and imputers.
        imputer, grid, onehot_groups: passed to `fit_attacker` when `support` is a frame.
    """
    in_open_interval("confidence", confidence, 0.0, 1.0)
    positive(bootstrap=bootstrap)
    if rows is not None:
        integer("rows", rows, 1, 2**63 - 1)
    integer("seed", seed, 0, 2**32 - 1)
    t0 = time.perf_counter()
    schema = model.schema
    attacker = support if isinstance(support, Attacker) else fit_attacker(
        support, schema, imputer=imputer, grid=grid, seed=seed, onehot_groups=onehot_groups)
    rng = np.random.default_rng([seed, 4242])
    splits = {}
    for name, frame in (("train", train), ("heldout", heldout)):
        schema.check_columns(frame, what=f"the {name} rows")
        if rows is not None and len(frame) > rows:
            frame = frame.iloc[np.sort(rng.choice(len(frame), rows, replace=False))]
        frame = frame.reset_index(drop=True)
        splits[name] = (frame, attacker.prior.predict(frame[attacker.features]),
                        _label_index(frame[schema.target], list(model.classes)))
    columns = {}
    for task in attacker.tasks:
        kind = task.kind
        per: dict[str, dict] = {}
        samples: dict[str, dict[str, np.ndarray]] = {}
        for name, (frame, imputed, label_idx) in splits.items():
            truth = task_target(frame, task)
            known = truth.notna().to_numpy().copy()
            if kind == "numeric":
                known &= pd.to_numeric(truth, errors="coerce").notna().to_numpy()
            if known.sum() < 2:
                raise DataError(f"Column {task.name!r}: fewer than two {name} rows with a known value.")
            g = _guesses(model, attacker, task, frame[known], imputed[known], label_idx[known])
            t = truth[known].to_numpy(float if kind == "numeric" else object)
            samples[name] = _split_stats(kind, t, g, rng, bootstrap)
            per[name] = {"rows": int(known.sum()), **{k: float(v[0]) for k, v in samples[name].items()}}
        adv = {n: samples[n]["attack"] - samples[n]["baseline"] for n in samples}
        gap = adv["train"] - adv["heldout"]
        advantage = {"value": float(adv["train"][0]), "ci": _ci(adv["train"][1:], confidence)}
        columns[task.name] = {
            "columns": list(task.columns), "kind": kind, "metric": "accuracy" if kind == "categorical" else "r2",
            "candidates": int(len(attacker.candidates(task))), **per,
            "advantage": advantage,
            "advantage_heldout": {"value": float(adv["heldout"][0]), "ci": _ci(adv["heldout"][1:], confidence)},
            "membership_gap": {"value": float(gap[0]), "ci": _ci(gap[1:], confidence)},
            "leak_detected": bool(advantage["ci"][0] > 0),
            "membership_leak_detected": bool(_ci(gap[1:], confidence)[0] > 0),
        }
    privacy = dict(getattr(model, "privacy", {}) or {})
    return {
        "kind": "attribute",
        "release": NOT_FOR_RELEASE,
        "method": privacy.get("method"),
        "epsilon": privacy.get("epsilon"),
        "delta": privacy.get("delta"),
        "relation": privacy.get("relation"),
        "support_rows": attacker.support_rows,
        "imputer": attacker.imputer,
        "confidence": confidence,
        "bootstrap": bootstrap,
        "columns": columns,
        "seconds": time.perf_counter() - t0,
        "method_text": ("Attacker knows a record's public features and label, the public support set and the model "
                        "(black box). Guess = argmax/mean of prior(c | public) × p_model(label | public, c) over "
                        "candidates c (categories, or a support-quantile grid); prior from the imputer fitted on "
                        "the support set. Baseline = the same imputer with the label as a feature (public "
                        "information alone). Advantage = attack − baseline on training rows; membership gap = "
                        "advantage on training rows − advantage on held-out rows. Accuracy for categorical, R² "
                        "for numeric columns; percentile bootstrap CIs."),
    }
