"""Tabular pipeline: frames in, a trained model and its report out.

Order of operations, chosen so that no original sensitive value reaches
anything but the clipped, noised private term:

1. check the schema, that the hybrid table is row-aligned with the training table, and the input
   guards of the privacy relation (`fusiondp.data.guards`);
2. fit the preprocessor and the label classes on public data: the hybrid table for feature-level
   methods; for record-level methods (`dpsgd`), which may not read any training row outside the noised
   term, on a public reference table (the support set) only;
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
from fusiondp.data.guards import SupportIdentity
from fusiondp.data.preprocess import Preprocessor, Representation
from fusiondp.data.schema import Schema
from fusiondp.data.tabular import check_hybrid_aligned, check_target
from fusiondp.errors import ConfigError, DataError
from fusiondp.evaluate.metrics import evaluate_splits
from fusiondp.privacy.accounting import epsilon_by_relation, relation_text
from fusiondp.privacy.randomness import randomness_text
from fusiondp.train.config import TrainConfig
from fusiondp.train.engine import TrainData, TrainResult, train
from fusiondp.train.methods import get_method


@dataclass
class LabelEncoder:
    """Maps target values to 0..K-1 (sorted order; for two classes the second is positive)."""

    classes: list

    @classmethod
    def fit(cls, y: pd.Series) -> "LabelEncoder":
        check_target(y)
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
            # The value itself is not quoted: for a record-level run even a label is private.
            row = int(np.flatnonzero(out.isna().to_numpy())[0])
            raise DataError(f"Target {y.name!r} of {what} holds a value (first at row {row}) that is not among "
                            f"the {len(self.classes)} classes fitted on public data.")
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
    fitted_on: str = "hybrid table (public)"
    imputation: dict | None = None  # how the hybrid was made (make_hybrid's attrs: support-set numbers only)
    support_identity: str | None = None  # how the support set was found disjoint from the training rows


RECORD_LEVEL_NEEDS_PUBLIC = (
    "Record-level DP (dpsgd) may not fit preprocessing (scaling, fill values, categories, label classes) on "
    "training rows: give a public reference table with every column, disjoint from the training rows "
    "(CLI: --support FILE or --public-reference FILE; Python: support_df=...).")


def prepare(train_df: pd.DataFrame, hybrid_df: pd.DataFrame, schema: Schema, *, seed: int = 0,
            eval_frames: dict[str, pd.DataFrame] | None = None, support_df: pd.DataFrame | None = None,
            record_level: bool = False, representation: Representation | None = None,
            support_identity: SupportIdentity | None = None) -> Prepared:
    """Validate, fit preprocessing on public data, and encode every view.

    Args:
        support_df: a public reference table (the support set), disjoint from the training rows.
        support_identity: how a support row is told from a training record (`fusiondp.data.guards.SupportIdentity`:
            by value, the default; by an identity column, which is then dropped from the features; or by the
            user's statement that the rows are distinct people, for coded tables). Recorded in the report.
        record_level: fit preprocessing and label classes on `support_df` only (required for `dpsgd`,
            whose guarantee covers whole records, public columns and labels included).
        representation: the encoding options (default: `fusiondp.data.preprocess.default_representation()`);
            its statistics (scale, quantiles, 'ple' bin edges) are fitted where every statistic is.
    """
    from fusiondp.data.guards import check_relation_inputs

    if support_identity is not None and support_identity.id_column is not None:
        schema = with_id_dropped(schema, support_identity.id_column)
    schema.check_columns(train_df)
    schema.check_drop(train_df, hybrid_df)
    schema = schema.bind(train_df)
    check_hybrid_aligned(train_df, hybrid_df, schema)
    check_relation_inputs(train_df, hybrid_df, schema, support=support_df, identity=support_identity)
    if record_level:
        if support_df is None:
            raise ConfigError(RECORD_LEVEL_NEEDS_PUBLIC)
        schema.check_columns(support_df, what="public reference (support) data")
        fit_frame = support_df
    else:
        fit_frame = hybrid_df
    # Feature-level: the sensitive columns' statistics and vocabularies come from the support set ∪ hybrid
    # when a support set is known (it holds true, public values, so a collapsed imputation does not set
    # the scale or lose levels); record-level: everything from the support set alone.
    sensitive_frame = None
    if support_df is not None and not record_level:
        cols = [c for c in schema.sensitive if c in support_df.columns]
        if len(cols) == len(schema.sensitive):
            sensitive_frame = pd.concat([support_df[cols], hybrid_df[cols]], ignore_index=True)
    pre = Preprocessor.fit(fit_frame, schema, sensitive_frame=sensitive_frame, representation=representation)
    labels = LabelEncoder.fit(fit_frame[schema.target])
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
    fitted_on = ("public reference (support) table only" if record_level else
                 "hybrid table; sensitive columns on support set ∪ hybrid" if sensitive_frame is not None
                 else "hybrid table (public)")
    from fusiondp.impute.hybrid import ATTRS_KEY

    return Prepared(pre, labels, data, evals, fitted_on, hybrid_df.attrs.get(ATTRS_KEY),
                    (support_identity or SupportIdentity()).describe() if support_df is not None else None)


def with_id_dropped(schema: Schema, id_column: str) -> Schema:
    """`schema` with the identity column among the dropped ones (a key is no attribute of the person)."""
    if id_column == schema.target or id_column in schema.sensitive:
        raise ConfigError(f"--id-column {id_column!r} is the target or a sensitive column; an identity key must be "
                          "a column of its own.")
    if id_column in schema.drop:
        return schema
    return Schema(schema.target, schema.sensitive, (*schema.drop, id_column), schema.categorical)


def report(result: TrainResult, prepared: Prepared, *, target_epsilon: float | None) -> dict:
    """The JSON report of a run: privacy statement, settings, metrics and history."""
    spec, acct = result.method, result.plan
    metrics = evaluate_splits(result.model, prepared.eval_sets)  # binary threshold chosen on "val" only
    relation = acct.relation if acct else None
    by_relation = (epsilon_by_relation(acct, spec.other_relations(relation), private_view=spec.private_view,
                                       level=spec.level) if acct else {})
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
        "neighbouring_text": (relation_text(relation, private_view=spec.private_view, level=spec.level)
                              if relation else "no formal privacy guarantee"),
        # The same run's ε under every relation that applies to the method (same σ, q, steps, δ).
        "epsilon_by_relation": by_relation,
        "randomness": randomness_text(result.secure_randomness) if spec.is_private else None,
        "secure_randomness": result.secure_randomness if spec.is_private else None,
        "preprocessing_fitted_on": prepared.fitted_on,
        # How the public support set was found to hold no training record (None: no support set given).
        "support_identity": prepared.support_identity,
        # Stage 1 as `make_hybrid` recorded it: chained or not, per-column skill cross-fitted on the public
        # support set, and which columns fell back to support-marginal draws (None: a hybrid given as a file).
        "imputation": prepared.imputation,
        "accountant": f"dp-accounting {version('dp-accounting')} {acct.accountant.upper()}" if acct else None,
        "noise_multiplier": acct.noise_multiplier if acct else None,
        "sample_rate": acct.sample_rate if acct else None,
        "steps": result.steps,
        "clip": result.config.clip if spec.is_private else None,
        "ch": result.ch,
        "labels": labels_note,
        "dp_event": acct.event_json() if acct else None,
        "schema": prepared.pre.schema.to_dict(),
        "preprocessing": list(prepared.pre.notes),
        "representation": prepared.pre.describe(),
        "config": result.config.to_dict(),
        "metrics": metrics,
        "history": result.history,
        "seconds": result.seconds,
    }


def run(train_df: pd.DataFrame, hybrid_df: pd.DataFrame, schema: Schema, *, method: str,
        config: TrainConfig | None = None, val_df: pd.DataFrame | None = None, test_df: pd.DataFrame | None = None,
        progress: bool = True, checkpoint=None, support_df: pd.DataFrame | None = None, model=None,
        nproc: int = 1, device: str | None = None, representation: Representation | None = None,
        support_identity: SupportIdentity | None = None) -> tuple[TrainResult, Prepared, dict]:
    """Prepare, train and report one run on frames.

    `support_df` (the public support set) is checked to be disjoint from the training rows, and is
    required by record-level methods (`dpsgd`), whose preprocessing is fitted on it alone. `model` as in
    `fusiondp.train.engine.train` (an nn.Module, a factory (n_features, n_outputs) -> nn.Module, or
    "module:factory"; default the MLP). `nproc` > 1 trains in that many processes on this machine
    (fusiondp.train.distributed.launch); `device` 'cuda' trains on the GPU (one per process).
    `representation`: the encoding options (`fusiondp.data.preprocess.Representation`; default: the
    current default representation). `support_identity`: how support rows are told from training records
    (`fusiondp.data.guards.SupportIdentity`; default: by value).
    """
    cfg = config or TrainConfig()
    spec = get_method(method)
    cfg.validate(len(train_df))
    frames = {k: v for k, v in (("val", val_df), ("test", test_df)) if v is not None}
    prepared = prepare(train_df, hybrid_df, schema, seed=cfg.seed, eval_frames=frames, support_df=support_df,
                       record_level=spec.needs_public_preprocessing, representation=representation,
                       support_identity=support_identity)
    val = prepared.eval_sets.get("val")
    kwargs = dict(config=cfg, val=val, progress=progress, checkpoint=checkpoint, device=device, model=model)
    if nproc > 1:
        from fusiondp.train.distributed import launch

        result = launch(train, nproc, (method, prepared.data), kwargs, device=device)
    else:
        result = train(method, prepared.data, **kwargs)
    return result, prepared, report(result, prepared, target_epsilon=cfg.epsilon)
