"""Tabular pipeline: frames in, a trained model and its report out.

Order of operations, chosen so that no original sensitive value reaches
anything but the clipped, noised private term:

1. check the schema and that the hybrid table is row-aligned with the training table;
2. fit the preprocessor on the hybrid table (public) only;
3. encode original, hybrid, validation and test rows with it;
4. build the public `noise` and `reference` views from the hybrid rows;
5. train, then score validation and test rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import version

import numpy as np
import pandas as pd
import torch

from fusiondp import __version__
from fusiondp.data.preprocess import Preprocessor
from fusiondp.data.schema import Schema
from fusiondp.data.tabular import check_hybrid_aligned
from fusiondp.errors import DataError
from fusiondp.evaluate.metrics import classification_metrics, predict_scores
from fusiondp.privacy.accounting import RELATION_TEXT
from fusiondp.train.config import TrainConfig
from fusiondp.train.engine import TrainData, TrainResult, train
from fusiondp.train.methods import get_method


@dataclass
class LabelEncoder:
    """Maps target values to 0..K-1 (sorted order; for two classes the second is positive)."""

    classes: list

    @classmethod
    def fit(cls, y: pd.Series) -> "LabelEncoder":
        values = y.dropna().unique()
        if len(values) < 2:
            raise DataError(f"Target {y.name!r} has a single value {values[:1].tolist()}; nothing to learn.")
        try:
            classes = sorted(values.tolist())
        except TypeError:
            classes = sorted(map(str, values.tolist()))
        return cls(classes)

    def transform(self, y: pd.Series, what: str = "data") -> np.ndarray:
        if y.isna().any():
            raise DataError(f"Target {y.name!r} of {what} has missing values (row {int(np.flatnonzero(y.isna())[0])}).")
        index = {v: i for i, v in enumerate(self.classes)}
        out = y.map(lambda v: index.get(v, index.get(str(v))))
        if out.isna().any():
            bad = y[out.isna()].iloc[0]
            raise DataError(f"Target {y.name!r} of {what} holds value {bad!r} unseen in training labels "
                            f"{self.classes}.")
        return out.to_numpy(dtype=np.int64)


def noise_view(x_hybrid: np.ndarray, pre: Preprocessor, rng: np.random.Generator) -> np.ndarray:
    """Hybrid rows with every sensitive block replaced by data-independent noise.

    Numeric sensitive features (standardised) become N(0, 1) draws, categorical
    ones a uniformly random category: no information from any record.
    """
    out = x_hybrid.copy()
    for start, stop, is_cat in pre.sensitive_blocks():
        if is_cat:
            out[:, start:stop] = 0.0
            out[np.arange(len(out)), start + rng.integers(0, stop - start, len(out))] = 1.0
        else:
            out[:, start:stop] = rng.standard_normal((len(out), stop - start))
    return out


def reference_view(x_hybrid: np.ndarray, pre: Preprocessor, rng: np.random.Generator) -> np.ndarray:
    """Hybrid rows whose sensitive part is taken from another, random hybrid row (public; sets C_h)."""
    mask = pre.sensitive_mask()
    out = x_hybrid.copy()
    out[:, mask] = x_hybrid[rng.permutation(len(x_hybrid))][:, mask]
    return out


@dataclass
class Prepared:
    pre: Preprocessor
    labels: LabelEncoder
    data: TrainData
    eval_sets: dict[str, tuple[torch.Tensor, torch.Tensor]]


def prepare(train_df: pd.DataFrame, hybrid_df: pd.DataFrame, schema: Schema, *, seed: int = 0,
            eval_frames: dict[str, pd.DataFrame] | None = None) -> Prepared:
    """Validate, fit preprocessing on the hybrid table, and encode every view."""
    schema.check_columns(train_df)
    schema.check_drop(train_df, hybrid_df)
    schema = schema.bind(train_df)
    check_hybrid_aligned(train_df, hybrid_df, schema)
    pre = Preprocessor.fit(hybrid_df, schema)
    labels = LabelEncoder.fit(hybrid_df[schema.target])
    x = pre.transform(train_df, what="training data")
    xh = pre.transform(hybrid_df, what="hybrid data")
    rng = np.random.default_rng(seed + 10_000)
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a).copy())
    y = labels.transform(train_df[schema.target], "training data")
    data = TrainData(x=t(x), x_hybrid=t(xh), y=t(y).float() if len(labels.classes) == 2 else t(y),
                     x_noise=t(noise_view(xh, pre, rng)), x_reference=t(reference_view(xh, pre, rng)),
                     n_classes=len(labels.classes))
    evals = {}
    for name, frame in (eval_frames or {}).items():
        schema.check_columns(frame, what=f"{name} data")
        evals[name] = (t(pre.transform(frame, what=f"{name} data")),
                       t(labels.transform(frame[schema.target], f"{name} data")))
    return Prepared(pre, labels, data, evals)


def report(result: TrainResult, prepared: Prepared, *, target_epsilon: float | None) -> dict:
    """The JSON report of a run: privacy statement, settings, metrics and history."""
    spec, acct = result.method, result.plan
    metrics = {name: classification_metrics(y.numpy(), predict_scores(result.model, x))
               for name, (x, y) in prepared.eval_sets.items()}
    relation = acct.relation if acct else None
    labels_note = ("labels are protected (record-level DP)" if spec.level == "record" and not spec.public_rows
                   else "labels are read in the clear by the noise-free gradient and get no protection")
    return {
        "fusiondp_version": __version__,
        "method": spec.name,
        "method_summary": spec.summary,
        "privacy_level": spec.level,
        # None: no guarantee at all (sgd_ori), not "epsilon = 0"; 0.0: never read a sensitive value.
        "epsilon": result.epsilon if acct else (None if "original" in spec.views else 0.0),
        "target_epsilon": target_epsilon if spec.is_private else None,
        "delta": acct.delta if acct else None,
        "neighbouring": relation,
        "neighbouring_text": RELATION_TEXT[relation] if relation else "no formal privacy guarantee",
        "accountant": f"dp-accounting {version('dp-accounting')} {acct.accountant.upper()}" if acct else None,
        "noise_multiplier": acct.noise_multiplier if acct else None,
        "sample_rate": acct.sample_rate if acct else None,
        "steps": result.steps,
        "clip": result.config.clip if spec.is_private else None,
        "ch": result.ch,
        "labels": labels_note,
        "dp_event": acct.event_json() if acct else None,
        "schema": prepared.pre.schema.to_dict(),
        "config": result.config.to_dict(),
        "metrics": metrics,
        "history": result.history,
        "seconds": result.seconds,
    }


def run(train_df: pd.DataFrame, hybrid_df: pd.DataFrame, schema: Schema, *, method: str,
        config: TrainConfig | None = None, val_df: pd.DataFrame | None = None, test_df: pd.DataFrame | None = None,
        progress: bool = True, checkpoint=None, nproc: int = 1, device: str | None = None
        ) -> tuple[TrainResult, Prepared, dict]:
    """Prepare, train and report one run on frames.

    `nproc` > 1 trains in that many processes on this machine (fusiondp.train.distributed.launch);
    `device` 'cuda' trains on the GPU (one per process).
    """
    cfg = config or TrainConfig()
    get_method(method)
    cfg.validate(len(train_df))
    frames = {k: v for k, v in (("val", val_df), ("test", test_df)) if v is not None}
    prepared = prepare(train_df, hybrid_df, schema, seed=cfg.seed, eval_frames=frames)
    val = prepared.eval_sets.get("val")
    kwargs = dict(config=cfg, val=val, progress=progress, checkpoint=checkpoint, device=device)
    if nproc > 1:
        from fusiondp.train.distributed import launch

        result = launch(train, nproc, (method, prepared.data), kwargs, device=device)
    else:
        result = train(method, prepared.data, **kwargs)
    return result, prepared, report(result, prepared, target_epsilon=cfg.epsilon)
