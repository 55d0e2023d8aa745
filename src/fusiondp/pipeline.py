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
5. train; a feature-level private run with a labelled public support set then releases the better of its
   model and the free baseline on that set (`fusiondp.tune.baseline.release_guard`: post-processing, no ε);
6. score validation and test rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from fusiondp._seeds import stream
from fusiondp.blend.auto import AUTO, LEARNERS, LearnerChoice, auto_learner
from fusiondp.data.guards import SupportIdentity
from fusiondp.data.preprocess import Preprocessor, Representation
from fusiondp.data.schema import Schema
from fusiondp.data.tabular import check_hybrid_aligned, check_target
from fusiondp.errors import ConfigError, DataError
from fusiondp.evaluate.metrics import evaluate_splits
from fusiondp.io import support_fingerprint
from fusiondp.report.record import Provenance, RunRecord, SettingsOrigin
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
    rng = stream(seed, "views")  # public; its own SeedSequence child of the run's seed
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a).copy())
    y = labels.transform(train_df[schema.target], "training data")
    data = TrainData(x=t(x), x_hybrid=t(xh), y=t(y).float() if len(labels.classes) == 2 else t(y),
                     x_noise=t(noise_view(xh, pre, rng)), x_reference=t(reference_view(xh, pre, rng)),
                     n_classes=len(labels.classes),
                     public_digest=support_fingerprint(support_df) if record_level else None)
    evals = {}
    for name, frame in (eval_frames or {}).items():
        schema.check_columns(frame, what=f"{name} data")
        evals[name] = (t(pre.transform(frame, what=f"{name} data", public_rows=True)),
                       t(labels.transform(frame[schema.target], f"{name} data")))
    fitted_on = ("public reference (support) table only" if record_level else
                 "hybrid table; sensitive columns on support set ∪ hybrid" if sensitive_frame is not None
                 else "hybrid table (public)")
    return Prepared(pre, labels, data, evals, fitted_on,
                    (support_identity or SupportIdentity()).describe() if support_df is not None else None)


def has_labels(frame: pd.DataFrame | None, target: str) -> bool:
    """Whether a (support) table carries a complete label column: what the release guard scores on."""
    return frame is not None and target in frame.columns and not frame[target].isna().any()


def encode_support(prepared: Prepared, support_df: pd.DataFrame, *, labelled_only: bool = False
                   ) -> tuple[np.ndarray, np.ndarray | None] | None:
    """The public support set encoded like the training rows: (x, y), y None when it has no complete labels
    (then None altogether with `labelled_only`, before any encoding)."""
    target = prepared.pre.schema.target
    labelled = has_labels(support_df, target)
    if labelled_only and not labelled:
        return None
    x = prepared.pre.transform(support_df, what="support data")
    return x, prepared.labels.transform(support_df[target], "support data") if labelled else None


def support_tensors(x: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """An encoded, labelled support set (`encode_support`) as the (float32 x, y) tensors models are scored on."""
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), torch.from_numpy(np.array(y))


def labelled_support(prepared: Prepared, support_df: pd.DataFrame | None) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The public support set encoded like the training rows, with its labels, as tensors; None without labels."""
    if (enc := encode_support(prepared, support_df, labelled_only=True)) is None:
        return None
    return support_tensors(*enc)


def with_id_dropped(schema: Schema, id_column: str) -> Schema:
    """`schema` with the identity column among the dropped ones (a key is no attribute of the person)."""
    if id_column == schema.target or id_column in schema.sensitive:
        raise ConfigError(f"--id-column {id_column!r} is the target or a sensitive column; an identity key must be "
                          "a column of its own.")
    if id_column in schema.drop:
        return schema
    return Schema(schema.target, schema.sensitive, (*schema.drop, id_column), schema.categorical)


def report(result: TrainResult, prepared: Prepared, *, provenance: Provenance | None = None,
           settings_file: SettingsOrigin | None = None) -> RunRecord:
    """The run record of a trained run: privacy statement, provenance, settings, metrics and history.

    Built once (`fusiondp.report.record.RunRecord.build`); the JSON report, the model file's privacy record
    and the HTML page are serialisations of it. Metrics: every evaluation split of `prepared` (a binary
    threshold is chosen on "val" only).
    """
    metrics = evaluate_splits(result.model, prepared.eval_sets)
    return RunRecord.build(result, prepared, provenance=provenance, settings_file=settings_file, metrics=metrics)


def run(train_df: pd.DataFrame, hybrid_df: pd.DataFrame, schema: Schema, *, method: str,
        config: TrainConfig | None = None, val_df: pd.DataFrame | None = None, test_df: pd.DataFrame | None = None,
        progress: bool = True, checkpoint=None, support_df: pd.DataFrame | None = None, model=None,
        nproc: int = 1, device: str | None = None, representation: Representation | None = None,
        provenance: Provenance | None = None, settings_file: SettingsOrigin | None = None,
        learner: str = "auto", tree_settings: dict | None = None,
        support_identity: SupportIdentity | None = None, guard: bool = True,
        guard_trees: bool = True) -> tuple[TrainResult, Prepared, RunRecord]:
    """Prepare, train and report one run on frames.

    `support_df` (the public support set) is checked to be disjoint from the training rows, and is
    required by record-level methods (`dpsgd`), whose preprocessing is fitted on it alone. `model` as in
    `fusiondp.train.engine.train` (an nn.Module, a factory (n_features, n_outputs) -> nn.Module, or
    "module:factory"; default the MLP). `nproc` > 1 trains in that many processes on this machine
    (fusiondp.train.distributed.launch); `device` 'cuda' trains on the GPU (one per process).
    `representation`: the encoding options (`fusiondp.data.preprocess.Representation`; default: the
    current default representation). `provenance` (imputer, the hybrid's imputation record, support
    fingerprint) and `settings_file` go into the run record (`report`), returned third: read it as the JSON
    report (``record["epsilon"]``) or serialise it (``record.to_report()``). `learner` 'auto' (the default)
    is 'blend' where the blend learner can run (method 'fusiondp', binary target, labelled support set with both
    classes, a target ε, no custom model, checkpoint, second process or GPU) and 'mlp' elsewhere
    (`fusiondp.blend.auto.auto_learner`; the record's ``learner_choice`` says which and why); 'mlp' trains the
    network; 'trees' trains the
    feature-level DP tree learner instead of a network (`fusiondp.trees`, docs/method.md §9; `tree_settings`
    over its defaults rule); 'blend' trains both on the same records with jointly calibrated noise and averages
    their logits (`fusiondp.blend`; needs a labelled support set). `support_identity`: how support rows are told from training records
    (`fusiondp.data.guards.SupportIdentity`; default: by value). `guard`: a feature-level private run whose
    support set has labels trains the free baseline `sgd_hybrid` too and releases whichever scores higher on
    the support set (`fusiondp.tune.baseline.release_guard`; the record's ``release_guard`` section says
    which; the baseline is kept as ``result.public_baseline``). `guard_trees`: the built-in network's guard
    (no `model` given) also weighs the tree learner's public stage `hybrid_trees` (ε = 0;
    `fusiondp.tune.baseline.public_tree_stage`) and, for a binary target, the private network blended with it,
    so the release is never below either free model on the support set.
    """
    cfg = config or TrainConfig()
    if learner not in LEARNERS:
        raise ConfigError(f"Unknown learner {learner!r}; choose {', '.join(map(repr, LEARNERS))}.")
    choice = None
    if learner == AUTO:
        choice = _auto_learner(train_df, support_df, schema, method=method, cfg=cfg, model=model,
                               checkpoint=checkpoint, nproc=nproc, device=device)
        learner = choice.learner
    if learner in ("trees", "blend"):
        fit = _run_trees if learner == "trees" else _run_blend
        result, prepared, record = fit(
            train_df, hybrid_df, schema, method=method, cfg=cfg, val_df=val_df, test_df=test_df, progress=progress,
            checkpoint=checkpoint, support_df=support_df, model=model, nproc=nproc, device=device,
            representation=representation, tree_settings=tree_settings, provenance=provenance,
            settings_file=settings_file, support_identity=support_identity, guard=guard)
        return result, prepared, record.with_sections(learner_choice=choice.section()) if choice else record
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
    section = None
    if guard and spec.is_private and spec.level == "feature" and (
            enc := encode_support(prepared, support_df, labelled_only=True)) is not None:
        from fusiondp.tune.baseline import public_tree_stage, release_guard

        trees = (public_tree_stage(prepared.data, prepared.pre.sensitive_mask(), enc, result.config)
                 if guard_trees and model is None else None)
        result, section, baseline = release_guard(result, prepared.data, support_tensors(*enc), model=model,
                                                  public_trees=trees)
        result.public_baseline = baseline
    record = report(result, prepared, provenance=provenance, settings_file=settings_file)
    record = record.with_sections(release_guard=section) if section else record
    return result, prepared, record.with_sections(learner_choice=choice.section()) if choice else record


def _auto_learner(train_df: pd.DataFrame, support_df: pd.DataFrame | None, schema: Schema, *, method: str,
                  cfg: TrainConfig, model, checkpoint, nproc: int, device: str | None) -> LearnerChoice:
    """`learner="auto"`: the blend learner where it can run, else the network (`fusiondp.blend.auto`)."""
    labels = lambda frame: int(frame[schema.target].nunique()) if schema.target in frame.columns else 0
    feature_level = method == "fusiondp"  # labels are read (class counts) only under the feature-level claim
    return auto_learner(method=method, epsilon=cfg.epsilon, noise_multiplier=cfg.noise_multiplier,
                        n_classes=labels(train_df) if feature_level else 0,
                        support_classes=labels(support_df) if feature_level and has_labels(support_df, schema.target)
                        else 0, custom_model=model is not None, checkpoint=checkpoint is not None,
                        nproc=_processes(nproc), device=device)


def _processes(nproc: int) -> int:
    """Processes training this run: `nproc`, or the process group's size under torchrun."""
    import torch.distributed as tdist

    return max(nproc, tdist.get_world_size() if tdist.is_available() and tdist.is_initialized() else 1)


def _refuse_network_options(learner: str, *, checkpoint, model, nproc: int, device: str | None) -> None:
    """The tree and blend learners train on one CPU process, with their own models and no checkpoints."""
    unsupported = {"checkpoint": checkpoint is not None, "a custom model": model is not None,
                   "several processes (--nproc or torchrun)": _processes(nproc) > 1,
                   "a GPU device": device not in (None, "cpu")}
    if bad := [k for k, v in unsupported.items() if v]:
        raise ConfigError(f"The {learner} learner does not support {', '.join(bad)}.")


def _run_trees(train_df, hybrid_df, schema, *, method, cfg, val_df, test_df, progress, checkpoint, support_df, model,
               nproc, device, representation, tree_settings, provenance, settings_file,
               support_identity, guard) -> tuple[TrainResult, Prepared, RunRecord]:
    """`run` for learner='trees': same preparation (public-only preprocessing), tree fit, same run record.

    `guard` with a labelled support set: the network's free baseline `sgd_hybrid` is a release candidate too
    (`fusiondp.trees.guard.tree_release_guard`; post-processing, no ε)."""
    import dataclasses

    from fusiondp.trees import fit_trees, tree_method

    spec = tree_method(method)
    _refuse_network_options("tree", checkpoint=checkpoint, model=model, nproc=nproc, device=device)
    cfg.validate(len(train_df))
    frames = {k: v for k, v in (("val", val_df), ("test", test_df)) if v is not None}
    prepared = prepare(train_df, hybrid_df, schema, seed=cfg.seed, eval_frames=frames, support_df=support_df,
                       representation=representation, support_identity=support_identity)
    support = encode_support(prepared, support_df) if support_df is not None else None
    result, info = fit_trees(spec.name, prepared.data, prepared.pre.sensitive_mask(), cfg, support=support,
                             settings=tree_settings)
    section = None
    if guard and spec.is_private and support is not None and support[1] is not None:
        from fusiondp.trees.guard import tree_release_guard

        result, section, baseline = tree_release_guard(result, prepared.data, support,
                                                       z=info["settings"]["guard_z"])
        result.public_baseline = baseline
    record = report(result, prepared, provenance=provenance, settings_file=settings_file)
    # The trees' clip travels in their own settings, not in TrainConfig.clip.
    record = dataclasses.replace(record, clip=info["settings"]["clip"] if spec.is_private else None)
    record = record.with_sections(learner="trees", trees=info)
    return result, prepared, record.with_sections(release_guard=section) if section else record


def _run_blend(train_df, hybrid_df, schema, *, method, cfg, val_df, test_df, progress, checkpoint, support_df, model,
               nproc, device, representation, tree_settings, provenance, settings_file,
               support_identity, guard) -> tuple[TrainResult, Prepared, RunRecord]:
    """`run` for learner='blend' (`fusiondp.blend`): one preparation, both parts, one record whose privacy
    statement is the composed event's (both relations), with a ``blend`` section."""
    import dataclasses

    from fusiondp.blend import fit_blend

    if method not in ("fusiondp", "fusiondp_blend"):
        raise ConfigError(f"The blend learner runs method 'fusiondp' (trees and network); got {method!r}.")
    _refuse_network_options("blend", checkpoint=checkpoint, model=model, nproc=nproc, device=device)
    if not has_labels(support_df, schema.target):
        raise ConfigError("The blend learner chooses its weight on a labelled public support set, and its trees "
                          "grow their structures there: give a support table with the target column.",
                          hint="--support FILE (CLI) or support_df=... (Python); or use learner 'trees' or 'mlp'")
    cfg.validate(len(train_df))
    frames = {k: v for k, v in (("val", val_df), ("test", test_df)) if v is not None}
    prepared = prepare(train_df, hybrid_df, schema, seed=cfg.seed, eval_frames=frames, support_df=support_df,
                       representation=representation, support_identity=support_identity)
    result, section = fit_blend(prepared.data, prepared.pre.sensitive_mask(), cfg,
                                support=encode_support(prepared, support_df), tree_settings=tree_settings,
                                guard=guard, progress=progress)
    record = report(result, prepared, provenance=provenance, settings_file=settings_file)
    # The privacy statement is the composed event's, not the network part's plan it was built with.
    by_relation = {r: {**e, "text": record.epsilon_by_relation.get(r, {}).get("text")}
                   for r, e in section["epsilon_by_relation"].items()}
    record = dataclasses.replace(record, epsilon=result.epsilon, target_epsilon=cfg.epsilon, plan=None,
                                 noise_multiplier=None, sample_rate=None, steps=result.steps,
                                 event=section.pop("event"), epsilon_by_relation=by_relation, clip=None)
    return result, prepared, record.with_sections(learner="blend", blend=section)
