"""Benchmark datasets as small declarative entries.

A :class:`BenchDataset` says how to turn a data folder and a seed into a
:class:`BenchData` (aligned training views, validation and test tensors, a
model factory), which metric is the headline, and the training settings of
each method at each ε. The runner (:mod:`fusiondp.bench.runner`) reads only
these fields, so adding a dataset is adding one entry with
:func:`register_dataset`.

Tabular datasets wrap a spec with the minimal interface of
:class:`TabularSpec` (``name``, ``schema``, ``load(data_dir, seed)`` returning
the ``train``/``hybrid``/``val``/``test`` frames) through
:func:`tabular_dataset`, which encodes the frames with
:func:`fusiondp.pipeline.prepare` (preprocessing fitted on the hybrid table).

>>> sorted(DATASETS)  # doctest: +ELLIPSIS
[...'medical_abstracts'...]
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from fusiondp.errors import ConfigError
from fusiondp.train.config import TrainConfig
from fusiondp.train.engine import TrainData

__all__ = ["BenchData", "BenchDataset", "DATASETS", "register_dataset", "get_dataset", "TabularSpec",
           "tabular_dataset", "tabular_config", "settings_at", "TABULAR_GRID", "TABULAR_SELECTED",
           "prepare_medical_abstracts", "text_speed_case"]

Tensors = tuple[torch.Tensor, torch.Tensor]


@dataclass
class BenchData:
    """One seed's prepared data: everything a run needs, nothing that depends on the method.

    Attributes:
        data: aligned training views (original, hybrid, noise, reference).
        val, test: (x, y) tensors; validation is the only split read for selection.
        model: builds a fresh model (None: the engine's default MLP).
        info: facts for the results page (split sizes, feature width, ...).
        record_level: the same seed's data encoded for record-level methods (`dpsgd`): preprocessing and
            label classes fitted on the public support set only, never on training rows (None: the
            dataset has no support set, and record-level methods are refused).
    """

    data: TrainData
    val: Tensors
    test: Tensors
    model: Callable[[], nn.Module] | None = None
    info: dict[str, Any] = field(default_factory=dict)
    record_level: "BenchData | None" = None


@dataclass(frozen=True)
class BenchDataset:
    """A benchmark dataset entry.

    Attributes:
        name: registry key and file stem of the outputs.
        prepare: ``(data_dir, seed) -> BenchData``.
        headline: the metric plotted and used for selection (e.g. 'auroc', 'macro_f1').
        metrics: metrics shown in the table, in order.
        config: ``(method, epsilon or None) -> TrainConfig`` (seed and ε are set by the runner).
        description: a paragraph for the results page (splits, model, what is public).
        tuning: a paragraph saying how the settings of `config` were chosen (validation/public only).
        grid: candidate overrides per method for ``fusiondp bench --tune`` (kept small).
        per_epsilon: the settings in `config` were selected at each ε separately (the tuning table then
            marks the winner per ε) rather than by the mean over the tuning ε values.
        defaults: ``(method, epsilon or None) -> TrainConfig`` for ``--settings defaults``: nothing selected
            on this dataset (default: an empty TrainConfig, which the defaults rule fills from N, ε, δ and
            the method).
        defaults_text: the "how were the settings chosen" paragraph for ``--settings defaults``.
        remake: how the results page is regenerated (default: ``fusiondp bench-report NAME``); a user's
            table says to rerun its own ``fusiondp bench --table ...`` command (finished runs are skipped).
    """

    name: str
    prepare: Callable[[Path, int], BenchData]
    headline: str
    metrics: tuple[str, ...]
    config: Callable[[str, float | None], TrainConfig]
    description: str = ""
    tuning: str = ""
    grid: Mapping[str, tuple[dict, ...]] = field(default_factory=dict)
    per_epsilon: bool = False
    remake: str = ""
    defaults: Callable[[str, float | None], TrainConfig] = field(default=lambda method, epsilon: TrainConfig())
    defaults_text: str = ""

    def settings(self, source: str) -> Callable[[str, float | None], TrainConfig]:
        """The `(method, ε) -> TrainConfig` of a settings source: 'defaults' (the rule), 'selected' (this
        entry's validation-selected settings) or settings files of `fusiondp tune` (comma-separated paths,
        one per method; methods without a file use `defaults`)."""
        if source in SETTINGS_SOURCES:
            return self.defaults if source == "defaults" else self.config
        files = _settings_files(source)

        def config(method: str, epsilon: float | None) -> TrainConfig:
            if method in files:
                return replace(self.defaults(method, epsilon), **files[method]["settings"])
            return self.defaults(method, epsilon)

        return config

    def settings_text(self, source: str) -> str:
        """The results page's paragraph on how the settings were chosen."""
        if source == "defaults":
            return self.defaults_text or DEFAULTS_TEXT
        if source == "selected":
            return self.tuning
        parts = []
        for method, body in _settings_files(source).items():
            sel = body["selection"]
            cost = ("a search on public data only (no training-record budget)" if sel.get("mode") == "public"
                    else f"the search's total ε = {sel['total_epsilon']:.3g}" if sel.get("total_epsilon") is not None
                    else "its cost is not recorded in the file")
            parts.append(f"`{method}`: " + ", ".join(f"{k} = {v}" for k, v in body["settings"].items())
                         + f" ({sel.get('mode', 'unknown')} search; {cost})")
        return ("Settings read from `fusiondp tune` settings files (" + source + "): " + "; ".join(parts)
                + ". Other methods use the defaults rule. Each benchmark run trains again with these settings, "
                "so it spends its ε on top of the search's.")


def _settings_files(source: str) -> dict[str, dict]:
    """``{method: settings file}`` from comma-separated settings-file paths (one file per method)."""
    from fusiondp.tune.settings import read_settings

    out: dict[str, dict] = {}
    for path in [p.strip() for p in source.split(",") if p.strip()]:
        if not Path(path).exists():
            raise ConfigError(f"Unknown settings source {path!r}: expected one of {', '.join(SETTINGS_SOURCES)} "
                              "or settings files of `fusiondp tune` (comma-separated paths).")
        body = read_settings(path)
        if body["method"] in out:
            raise ConfigError(f"Two settings files for {body['method']!r} in --settings.")
        out[body["method"]] = body
    return out


#: Where a benchmark run's settings come from: the defaults rule (`fusiondp.train.defaults`, public quantities
#: only, no tuning cost) or the dataset entry's validation-selected settings (whose selection spent budget).
SETTINGS_SOURCES = ("defaults", "selected")
DEFAULTS_TEXT = (
    "Settings: fusiondp's defaults rule for every method (`fusiondp.train.defaults.auto_settings`, docs/training.md "
    "\"Default settings\"): a function of the training-row count, ε, δ and the method only, the same a user gets "
    "from `fusiondp train` without tuning flags. Nothing was selected on this dataset, so the ε in the tables is "
    "the whole privacy cost of each released model. Every batch is capped at a quarter of the training rows and "
    "the public batch at the training rows (the runner's small-table rule).")

DATASETS: dict[str, BenchDataset] = {}


def register_dataset(entry: BenchDataset, *, force: bool = False) -> BenchDataset:
    """Add a dataset entry; a duplicate name is refused unless `force`."""
    if entry.name in DATASETS and not force:
        raise ConfigError(f"A benchmark dataset named {entry.name!r} is already registered.")
    DATASETS[entry.name] = entry
    return entry


def get_dataset(name: str) -> BenchDataset:
    """Look a dataset up by name (tabular specs from `fusiondp.bench.datasets` are loaded lazily)."""
    _load_tabular_specs()
    try:
        return DATASETS[name]
    except KeyError:
        raise ConfigError(f"Unknown benchmark dataset {name!r}; choose one of {', '.join(sorted(DATASETS))}.") \
            from None


# --------------------------------------------------------------------------- tabular adapter
class TabularSpec(Protocol):
    """The minimal interface a tabular dataset spec must offer to be benchmarked."""

    name: str
    schema: Any  # fusiondp.data.schema.Schema

    def load(self, data_dir: Path, seed: int) -> Mapping[str, Any]:
        """Frames 'train' (original), 'hybrid' (row-aligned), 'val' and 'test'."""


#: Private tabular runs start from these settings (the paper's batch 128 / lr 0.07 are replaced by a larger
#: Poisson batch, which lowers the noise per record; see docs/results/engine_sepsis_tuning*.md).
_TABULAR_PRIVATE_BASE: dict[str, float] = dict(batch_size=1024, lr=0.3)


def _load_selected() -> tuple[dict, dict]:
    """The validation-selected settings of the older benchmark pages, read from ``selected_settings.json``
    (tuned values are data): ``(per-method settings selected on sepsis at ε = 2, {dataset: per-ε settings})``."""
    import json
    from importlib.resources import files

    body = json.loads(files("fusiondp.bench").joinpath("selected_settings.json").read_text())

    def conv(entry: dict) -> dict:
        return {m: ({float(e): dict(c) for e, c in v.items()} if v and all(isinstance(c, dict) for c in v.values())
                    else dict(v)) for m, v in entry.items()}

    return conv(body["tabular"]), {k: conv(v) for k, v in body["selected"].items()}


#: Per-method settings selected by validation AUROC on sepsis at ε = 2, seed 0
#: (`python benchmarks/tune_sepsis.py --method M`, docs/results/engine_sepsis_tuning*.md); used at every ε by
#: `--settings selected` on datasets without their own selection. Non-private methods keep the paper's settings (docs/method.md §7).
#: Per-dataset selections ``{dataset: {method: overrides or {ε: overrides}}}`` (see :func:`settings_at`):
#: sepsis and Adult per ε by `fusiondp bench sepsis|adult --settings selected --tune --epsilons 0.5,1,2,4,8`.
TABULAR_SETTINGS, TABULAR_SELECTED = _load_selected()

#: The small validation-only grid of `fusiondp bench <tabular dataset> --tune` (overrides on top of
#: :data:`_TABULAR_PRIVATE_BASE`); the selection is then written into ``selected_settings.json``.
_ALPHA_CLIP = tuple(dict(alpha=a, clip=c) for a in (0.25, 0.5, 1.0) for c in (4.0, 16.0))
TABULAR_GRID: dict[str, tuple[dict, ...]] = {
    "dpsgd": (dict(clip=1.0), dict(clip=4.0), dict(clip=4.0, lr=1.0)),
    "naive_fusion": tuple(dict(beta=b, clip=4.0) for b in (0.25, 0.5, 0.75)),
    "fdp": _ALPHA_CLIP, "fdp_fm": _ALPHA_CLIP, "fusiondp": _ALPHA_CLIP,
}

#: Sepsis: C was already selected at ε = 2 (docs/results/engine_sepsis_tuning*.md); this grid re-selects the
#: weight of the private term (α, β) and dpsgd's C at *each* ε (docs/method.md §8: fixed α, β, C across ε is a
#: pitfall), with `fusiondp bench sepsis --tune --epsilons 0.5,1,2,4,8`.
_PER_EPSILON_RECORD_LEVEL: dict[str, tuple[dict, ...]] = {
    "dpsgd": (dict(clip=1.8), dict(clip=4.0), dict(clip=8.0)),
    "naive_fusion": tuple(dict(beta=b, clip=4.0) for b in (0.25, 0.5, 0.75)),
}
_ALPHA_16 = tuple(dict(alpha=a, clip=16.0) for a in (0.125, 0.25, 0.5, 1.0))
SEPSIS_PER_EPSILON_GRID: dict[str, tuple[dict, ...]] = {
    **_PER_EPSILON_RECORD_LEVEL, "fdp": _ALPHA_16, "fdp_fm": _ALPHA_16, "fusiondp": _ALPHA_16,
}
#: Adult: the same per-ε re-selection, with the candidates of the first (ε ∈ {1, 4}) selection kept in the grid
#: (`fusiondp bench adult --tune --epsilons 0.5,1,2,4,8`).
_ADULT_FEATURE = (dict(alpha=0.25, clip=16.0), dict(alpha=0.5, clip=16.0), dict(alpha=1.0, clip=16.0),
                  dict(alpha=1.0, clip=4.0))
ADULT_PER_EPSILON_GRID: dict[str, tuple[dict, ...]] = {
    **_PER_EPSILON_RECORD_LEVEL, "fdp": _ADULT_FEATURE, "fdp_fm": _ADULT_FEATURE, "fusiondp": _ADULT_FEATURE,
}
_GRIDS = {"sepsis": SEPSIS_PER_EPSILON_GRID, "adult": ADULT_PER_EPSILON_GRID}

#: The "how were the settings chosen" paragraph of each tabular results page.
_TABULAR_TUNING = {
    "sepsis": (
        "Settings selected on the validation split only, in two stages; the test split is not read in tuning, "
        "and validation rows are disjoint from the private training rows. Selection is not free: every "
        "candidate was trained on the same private rows, so releasing the selected setting (and the "
        "model trained with it) is post-processing of all candidates, and their ε compose (about 10 "
        "candidates at ε = 2 for `fusiondp` in stage 1, then 4 per ε for the feature-level methods and 3 "
        "per ε for `dpsgd` in stage 2; by plain composition k candidates at ε each cost up to k·ε). The "
        "ε in the tables is that of one run, not of the search; `fusiondp tune` accounts a whole search "
        "(docs/results/defaults.md). (1) At ε = 2, seed 0: batch, lr and C per method (`python benchmarks/tune_sepsis.py --method M`, "
        "docs/results/engine_sepsis_tuning*.md): expected private batch 1024, lr 0.3, 13 epochs, C = 16 for the "
        "feature-level methods, C = 4 for `naive_fusion`. (2) At each ε, seed 0 (docs/method.md §8): the weight of the "
        "private term and `dpsgd`'s C (`fusiondp bench sepsis --tune --epsilons 0.5,1,2,4,8`, table below): "
        "`fusiondp` and `fdp_fm` α = 0.125 / 0.25 / 0.25 / 0.5 / 0.5 at ε = 0.5 / 1 / 2 / 4 / 8, `fdp` α = 0.125 / "
        "0.25 / 0.5 / 0.5 / 0.5, `naive_fusion` β = 0.5 / 0.75 / 0.75 / 0.75 / 0.75, `dpsgd` C = 1.8 / 4 / 4 / 8 / 8 "
        "(β = 0.5, M = 10 for the consistency term). Non-private methods: the paper's settings (batch 128, lr 0.07). "
        "The first grid, with the ε = 2 setting at every ε, is on [sepsis_one_setting.md](sepsis_one_setting.md)."),
    # the ε = 2 selection of sepsis, used at every ε
    "sepsis_ours": ("Settings per method were selected by validation AUROC at ε = 2, seed 0 "
        "(`python benchmarks/tune_sepsis.py --method M`, pages docs/results/engine_sepsis_tuning*.md); "
        "the test split is not read in tuning. "
        "Validation rows are disjoint from the private training rows. Selection is not free: every "
        "candidate was trained on the same private rows, so releasing the selected setting (and the "
        "model trained with it) is post-processing of all candidates, and their ε compose (about 10 "
        "candidates at ε = 2 for `fusiondp`; by plain composition k candidates at ε each cost up to "
        "k·ε). The ε in the tables is that of one run, not of the search; `fusiondp tune` accounts a "
        "whole search (docs/results/defaults.md). One setting per method at every ε: "
        "expected private batch 1024, lr 0.3, 13 epochs; `dpsgd` C = 4; `naive_fusion` β = 0.75, C = 4; "
        "`fdp` α = 0.5, C = 16; `fdp_fm` and `fusiondp` α = 0.25, C = 16 (β = 0.5, M = 10). "
        "Non-private methods: the paper's settings (batch 128, lr 0.07)."),
    "adult": (
        "Settings selected on the validation split only (seed 0); the test split is not read in tuning, "
        "and validation rows are disjoint from the private training rows. Selection is not free: every "
        "candidate was trained on the same private rows, so releasing the selected setting (and the "
        "model trained with it) is post-processing of all candidates, and their ε compose (4 candidates "
        "per ε for the feature-level methods, 3 per ε for `dpsgd`, after a first grid of 6 candidates at "
        "ε = 1 and 4; by plain composition k candidates at ε each cost up to k·ε). The ε in the tables "
        "is that of one run, not of the search; `fusiondp tune` accounts a whole search "
        "(docs/results/defaults.md). "
        "Expected private batch 1024, lr 0.3, 13 epochs; at each ε (`fusiondp bench adult --tune --epsilons "
        "0.5,1,2,4,8`, grid `ADULT_PER_EPSILON_GRID`, table below): `dpsgd` C = 4 / 4 / 8 / 8 / 8 at ε = 0.5 / 1 / 2 / "
        "4 / 8; `naive_fusion` β = 0.75, C = 4; `fusiondp` α = 1 with C = 4 / 4 / 4 / 16 / 16; `fdp_fm` (α, C) = "
        "(1, 4) / (0.25, 16) / (0.5, 16) / (0.5, 16) / (0.5, 16); `fdp` (1, 4) / (0.5, 16) / (0.5, 16) / (0.5, 16) / "
        "(1, 16) (β = 0.5, M = 10). Non-private methods: the paper's settings (batch 128, lr 0.07). Hybrid: "
        "fusiondp's default imputer fitted on the 512-row support set (labels not used). The first grid, with one "
        "setting per method chosen over ε ∈ {1, 4}, is on [adult_one_setting.md](adult_one_setting.md)."),
}


def _is_per_epsilon(entry: Mapping) -> bool:
    """True for a ``{ε: overrides}`` table, False for one overrides dict (or an empty one)."""
    return bool(entry) and all(isinstance(k, (int, float)) for k in entry)


def settings_at(entry: Mapping, epsilon: float | None) -> dict:
    """A method's settings at ε: `entry` is one overrides dict for every ε, or ``{ε: overrides}`` selected
    per ε, in which case the ε nearest on a log scale is used (ties: the smaller, more private one).

    >>> settings_at({1.0: {"alpha": 0.25}, 4.0: {"alpha": 0.5}}, 3.0)
    {'alpha': 0.5}
    >>> settings_at({"alpha": 1.0}, 0.5)
    {'alpha': 1.0}
    """
    if not _is_per_epsilon(entry):
        return dict(entry)
    if epsilon is None:
        raise ConfigError("Per-ε settings need an ε.")
    nearest = min(sorted(entry), key=lambda e: abs(math.log(e / epsilon)))
    return dict(entry[nearest])


def tabular_config(dataset: str) -> Callable[[str, float | None], TrainConfig]:
    """The `(method, ε) -> TrainConfig` of a tabular dataset: its selected settings, else the sepsis ones."""
    settings = TABULAR_SELECTED.get(dataset, TABULAR_SETTINGS)

    def config(method: str, epsilon: float | None) -> TrainConfig:
        return TrainConfig(**settings_at(settings.get(method, {}), epsilon))

    return config


def tabular_dataset(spec: TabularSpec, *, headline: str = "auroc",
                    config: Callable[[str, float | None], TrainConfig] | None = None,
                    description: str = "", tuning: str = "",
                    grid: Mapping[str, tuple[dict, ...]] | None = None,
                    metrics: tuple[str, ...] = ("auroc", "aupr", "f1_val_threshold", "accuracy"), per_epsilon: bool | None = None,
                    remake: str = "", info: Mapping[str, Any] | None = None,
                    defaults_text: str = "") -> BenchDataset:
    """Wrap a tabular spec: frames -> `fusiondp.pipeline.prepare` -> BenchData (default MLP).

    `config` defaults to :func:`tabular_config` of the spec's name; `grid` (for ``--tune``) to
    :data:`TABULAR_GRID`, whose candidates are applied on top of the private base settings.
    """

    def prepare(data_dir: Path, seed: int) -> BenchData:
        from fusiondp.pipeline import prepare as pipeline_prepare

        frames = spec.load(Path(data_dir) if data_dir is not None else None, seed)
        missing = {"train", "hybrid", "val", "test"} - set(frames)
        if missing:
            raise ConfigError(f"Dataset spec {spec.name!r}.load() lacks frame(s) {sorted(missing)}.")
        evals = {"val": frames["val"], "test": frames["test"]}
        support = frames.get("support")
        identity = getattr(spec, "support_identity", None)  # a DatasetSpec's --id-column / statement
        p = pipeline_prepare(frames["train"], frames["hybrid"], spec.schema, seed=seed, eval_frames=evals,
                             support_df=support, support_identity=identity)
        facts = {"train": p.data.n, "val": len(frames["val"]), "test": len(frames["test"]),
                 "features": int(p.data.x.shape[1]), **(info or {})}
        if identity is not None and not identity.default:
            facts["support identity"] = p.support_identity  # the statement or key, in every run record
        record = None
        if support is not None:  # dpsgd: everything fitted on the public support set (issue 13 item 2)
            r = pipeline_prepare(frames["train"], frames["hybrid"], spec.schema, seed=seed, eval_frames=evals,
                                 support_df=support, record_level=True, support_identity=identity)
            record = BenchData(r.data, r.eval_sets["val"], r.eval_sets["test"], None,
                               {**facts, "features": int(r.data.x.shape[1]), "preprocessing": r.fitted_on})
        return BenchData(p.data, p.eval_sets["val"], p.eval_sets["test"], None, facts, record)

    if grid is None:
        grid = {m: tuple({**_TABULAR_PRIVATE_BASE, **c} for c in cands)
                for m, cands in _GRIDS.get(spec.name, TABULAR_GRID).items()}
    if per_epsilon is None:
        per_epsilon = any(map(_is_per_epsilon, TABULAR_SELECTED.get(spec.name, {}).values()))
    return BenchDataset(spec.name, prepare, headline, metrics, config or tabular_config(spec.name), description,
                        tuning or _TABULAR_TUNING.get(spec.name, ""), grid, per_epsilon=per_epsilon, remake=remake,
                        defaults_text=defaults_text)


def _load_tabular_specs() -> None:
    """Register the tabular specs of `fusiondp.bench.datasets` (a colleague's module) when it exists."""
    import importlib

    try:
        datasets = importlib.import_module("fusiondp.bench.datasets")
    except ModuleNotFoundError as e:
        if e.name != "fusiondp.bench.datasets":
            raise
        return
    for spec in getattr(datasets, "DATASETS", {}).values():
        if spec.name not in DATASETS and callable(getattr(spec, "load", None)):
            register_dataset(tabular_dataset(spec, description=getattr(spec, "description", "")))


# --------------------------------------------------------------------------- a user's own table (issue 18)
_DEFAULT_SETTINGS_TEXT = (
    "To select settings on this table's validation split instead (their selection spends budget: every candidate "
    "trains on the private rows), add `--tune`, then run the grid with `--tuned`.")
_TUNED_SETTINGS_TEXT = (
    "Settings selected on this table's validation split only (the test split is not read in tuning; validation "
    "rows are disjoint from the private training rows): at each ε, the candidate of `TABULAR_GRID` with the highest "
    "validation {headline} in the tuning runs of the same results file (`--tune`, table below), on top of expected "
    "private batch 1024, lr 0.3, 13 epochs. Methods without tuning runs, and the non-private methods, use the "
    "defaults rule (docs/training.md). Every candidate trained on the private rows, so the selection's cost is "
    "the composition of all of them (`fusiondp tune` accounts a search). Every batch is capped at "
    "a quarter of the training rows and the public batch at the training rows (the runner's small-table rule), "
    "so the `batch_size` shown in the candidates is an upper bound.")


def _user_description(spec, n_rows: int, classes: int, support_rows: int | None) -> str:
    """The setup paragraph of a user's table: files, roles and the split rule (no data values)."""
    split = spec.split
    table = Path(spec.files["all"]).name
    fr = "/".join(f"{round(100 * f)}" for f in split.fractions)
    if "support" in spec.files:
        sup = (f"support set: the file `{Path(spec.files['support']).name}` ({support_rows} rows; public, its rows "
               "must not be training rows); the table is cut")
    else:
        k = split.support_size(n_rows)
        sup = (f"split: a numpy `default_rng({split.split_seed})` permutation of the rows; the first {k} "
               f"({100 * (split.support_fraction or k / n_rows):g} %) are the public support set, removed from "
               "training; the rest is cut")
    return (f"Your table `{table}` ({n_rows} rows, {classes} classes), target `{spec.target}` (public), "
            f"sensitive {', '.join(f'`{c}`' for c in spec.sensitive)}"
            + (f", dropped {', '.join(f'`{c}`' for c in spec.drop)}" if spec.drop else "")
            + f". {sup[0].upper() + sup[1:]} {fr} into train/val/test (row order kept inside each part). Hybrid: "
            f"the sensitive columns of the training rows imputed by fusiondp's `{spec.imputer}` imputer fitted on "
            "the support set (labels not used); preprocessing fitted on the hybrid table (sensitive columns on support ∪ hybrid), for record-level `dpsgd` on the support set only. Model: the default "
            "MLP (hidden 64-128-64, LayerNorm, GELU, dropout 0.15)."
            + (f" {spec.description}" if spec.description else ""))


def register_table(spec, *, tuned_from: list[dict] | None = None, remake: str = "") -> BenchDataset:
    """Register a user's table (a `fusiondp.bench.datasets.DatasetSpec` with files.all) for the runner.

    Binary targets are scored by AUROC (headline), AUPR, F1 and accuracy; multi-class ones by macro-F1
    and accuracy. With `tuned_from` (records holding ``--tune`` runs), each private method uses the candidate
    with the best validation headline at each ε; otherwise fusiondp's tabular defaults. A name that is a
    built-in dataset is refused.
    """
    from fusiondp.bench.datasets import check_sizes, read_csv

    _load_tabular_specs()
    existing = DATASETS.get(spec.name)
    if existing is not None and not existing.remake:
        raise ConfigError(f"{spec.name!r} is a built-in benchmark dataset; give your table another name (--name).")
    if "all" not in spec.files or spec.split is None:
        raise ConfigError(f"Dataset {spec.name!r}: a user's table needs files.all (one table) and a split.")
    table = read_csv(Path(spec.files["all"]), dataset=spec.name)
    spec.check_table(table)
    classes = int(table[spec.target].nunique())
    if classes < 2:
        raise ConfigError(f"Target {spec.target!r} of {spec.name!r} holds a single value; nothing to learn.")
    parts = spec.split.split(table, seed=0)
    if "support" in spec.files:
        parts["support"] = read_csv(Path(spec.files["support"]), dataset=spec.name)
        spec.schema.check_columns(parts["support"], what=f"{spec.name} support set", need_target=False)
    check_sizes(parts, dataset=spec.name)  # fail before any run starts
    support_rows = len(parts["support"]) if "support" in spec.files else None
    headline, metrics = (("auroc", ("auroc", "aupr", "f1_val_threshold", "accuracy")) if classes == 2
                         else ("macro_f1", ("macro_f1", "accuracy")))
    config, tuning, per_eps, settings = tabular_config("__user_table__"), "", False, "default"
    if tuned_from is not None:
        from fusiondp.bench.runner import select

        chosen = select([r for r in tuned_from if r.get("dataset") == spec.name], headline, per_epsilon=True)
        if not chosen:
            raise ConfigError(f"--tuned needs tuning runs of {spec.name!r} in the results file; run with --tune "
                              "first.")
        selected = {m: {e: c["overrides"] for e, c in by_eps.items()} for m, by_eps in chosen.items()}

        def config(method: str, epsilon: float | None) -> TrainConfig:
            return TrainConfig(**settings_at(selected.get(method, {}), epsilon))

        shown = {"auroc": "AUROC", "macro_f1": "macro-F1"}[headline]
        tuning, per_eps, settings = _TUNED_SETTINGS_TEXT.format(headline=shown), True, "tuned"
    entry = tabular_dataset(spec, headline=headline, config=config,
                            description=_user_description(spec, len(table), classes, support_rows),
                            tuning=tuning, metrics=metrics, per_epsilon=per_eps,
                            defaults_text=DEFAULTS_TEXT + " " + _DEFAULT_SETTINGS_TEXT,
                            remake=remake or "rerunning the same `fusiondp bench --table ...` command (finished runs "
                                             "are skipped)", info={"settings": settings})
    return register_dataset(entry, force=True)


# --------------------------------------------------------------------------- medical_abstracts (issue 6)
#: Fractions of each class (stratified) for the text splits, cut in this order from a shuffle seeded by the
#: run's seed: support (public, fits the hybrid predictor), val (selection), test (reported), train (private).
TEXT_SPLITS = {"support": 0.1, "val": 0.1, "test": 0.2}
TEXT_FEATURES = 2000


def _rerendered(gen, texts: list[str], rng: np.random.Generator) -> list[str]:
    """Hybrid documents re-rendered with the predictions of *another*, random document (public; sets C_h)."""
    spans = [gen.detector_.detect(t) for t in texts]
    from fusiondp.text.spans import mask_spans

    masked = [mask_spans(t, s) for t, s in zip(texts, spans)]
    preds = gen._predict_masked(masked)
    perm = rng.permutation(len(texts))
    return [gen._render(t, s, m, preds[j]).text for t, s, m, j in zip(texts, spans, masked, perm)]


def _masked(gen, texts: list[str]) -> list[str]:
    """Documents with every sensitive span deleted (replaced by a space: data-independent)."""
    from fusiondp.text.spans import mask_spans

    return [mask_spans(t, gen.detector_.detect(t), token=" ") for t in texts]


def prepare_medical_abstracts(data_dir: Path | None, seed: int, *, max_features: int = TEXT_FEATURES,
                              hidden: tuple[int, ...] = (64,), dropout: float = 0.1) -> BenchData:
    """Splits, hybrid texts, public featuriser and the text model for one seed.

    Order (nothing from a training document's spans reaches anything but the private term):
    1. seeded stratified split of the corpus into support / val / test / train (:data:`TEXT_SPLITS`);
    2. `HybridTextGenerator` fitted on the support split; hybrid texts for train, val and test;
    3. `TextFeaturizer` fitted on public text only: hybrid training texts + support texts (for record-level
       `dpsgd`, a second featurizer fitted on the support texts alone);
    4. views: x (original train), x_hybrid, x_noise (spans deleted), x_reference (hybrid re-rendered with
       another document's predicted values); val and test are featurised from their original texts.
    """
    from fusiondp.text import HybridTextGenerator, TextClassifier, TextFeaturizer, load_medical_abstracts, split_corpus

    t0 = time.perf_counter()
    frame = load_medical_abstracts(data_dir)
    splits = split_corpus(frame["label"].to_numpy(), seed=seed, **TEXT_SPLITS)
    text = frame["text"].tolist()
    pick = lambda rows: [text[i] for i in rows]  # noqa: E731
    support, train = pick(splits.support), pick(splits.train)
    gen = HybridTextGenerator().fit(support)
    hybrid = gen.transform(train)
    rng = np.random.default_rng(seed + 20_000)
    feat = TextFeaturizer(max_features=max_features).fit(hybrid + support)
    f = feat.transform
    y = lambda rows: torch.from_numpy(frame["label"].to_numpy()[rows].astype(np.int64))  # noqa: E731
    n_classes = int(frame["label"].nunique())
    data = TrainData(x=f(train), x_hybrid=f(hybrid), y=y(splits.train), x_noise=f(_masked(gen, train)),
                     x_reference=f(_rerendered(gen, train, rng)), n_classes=n_classes)
    d = feat.n_features
    changed = int((data.x != data.x_hybrid).any(dim=1).sum())
    info = {"train": len(splits.train), "val": len(splits.val), "test": len(splits.test),
            "support": len(splits.support), "features": d, "classes": n_classes,
            "train_docs_with_spans_changed": changed, "prepare_seconds": round(time.perf_counter() - t0, 1)}
    # Record-level dpsgd: the vocabulary may not come from training notes (not even their public words).
    feat_r = TextFeaturizer(max_features=max_features).fit(support)
    fr, dr = feat_r.transform, feat_r.n_features
    record = BenchData(TrainData(x=fr(train), x_hybrid=fr(hybrid), y=y(splits.train), n_classes=n_classes),
                       (fr(pick(splits.val)), y(splits.val)), (fr(pick(splits.test)), y(splits.test)),
                       lambda: TextClassifier(dr, n_classes, hidden=hidden, dropout=dropout),
                       {**info, "features": dr, "preprocessing": "vocabulary fitted on support texts only"})
    info["privacy_statement"] = gen.privacy_statement()
    return BenchData(data, (f(pick(splits.val)), y(splits.val)), (f(pick(splits.test)), y(splits.test)),
                     lambda: TextClassifier(d, n_classes, hidden=hidden, dropout=dropout), info, record)


#: Non-private methods: Adam, full public batch, no noise.
_TEXT_BASE = TrainConfig(epochs=30, batch_size=256, public_batch_size=512, optimizer="adam", lr=1e-3, clip=1.0,
                         alpha=1.0, beta=0.5, radius=float("inf"), hidden=(64,), dropout=0.1)

#: Settings selected by `fusiondp bench medical_abstracts --tune` (validation macro-F1, seed 0, ε ∈ {1, 4});
#: see the tuning table on docs/results/medical_abstracts.md.
TEXT_SELECTED: dict[str, dict] = {
    "sgd_ori": dict(epochs=3), "sgd_hybrid": dict(epochs=3), "sgd_pub": dict(epochs=3),
    "dpsgd": dict(lr=3e-2, clip=1.0),
    "naive_fusion": dict(beta=0.25, epochs=10),
    "fusiondp": dict(lr=1e-3, clip=0.5, alpha=1.0, epochs=10),
}
# fdp and fdp_fm run the same step without the consistency term: they take fusiondp's α, C and lr.
TEXT_SELECTED["fdp"] = TEXT_SELECTED["fdp_fm"] = {k: v for k, v in TEXT_SELECTED["fusiondp"].items()}

TEXT_GRID: dict[str, tuple[dict, ...]] = {
    **{m: (dict(epochs=3), dict(epochs=10), dict(epochs=30)) for m in ("sgd_ori", "sgd_hybrid", "sgd_pub")},
    "dpsgd": (dict(lr=1e-3, clip=1.0), dict(lr=3e-3, clip=1.0), dict(lr=1e-2, clip=1.0), dict(lr=3e-3, clip=0.5),
              dict(lr=3e-2, clip=1.0), dict(lr=3e-2, clip=1.0, epochs=10)),
    "naive_fusion": (dict(beta=0.25), dict(beta=0.5), dict(beta=0.25, epochs=10)),
    "fusiondp": (dict(lr=1e-3, clip=0.5, alpha=1.0), dict(lr=1e-3, clip=1.0, alpha=1.0),
                 dict(lr=1e-3, clip=0.5, alpha=0.5), dict(lr=3e-3, clip=0.5, alpha=1.0),
                 dict(lr=1e-3, clip=0.5, alpha=1.0, epochs=10)),
}


def _text_config(method: str, epsilon: float | None) -> TrainConfig:
    return replace(_TEXT_BASE, **TEXT_SELECTED.get(method, {}))


register_dataset(BenchDataset(
    name="medical_abstracts",
    prepare=lambda data_dir, seed: prepare_medical_abstracts(data_dir, seed),
    headline="macro_f1",
    metrics=("macro_f1", "macro_auroc", "accuracy"),
    config=_text_config,
    defaults_text=(
        "Settings: the defaults rule (docs/training.md, 'Default settings'), nothing selected on this dataset's "
        "private rows. The text model states Adam, so the rule gives Adam with lr 1e-3 (1e-2 for `dpsgd`) and no "
        "projection; expected private batch N/8 rounded down to a power of two (128), 13 epochs, C and α from the "
        "calibrated σ. Caveat: the rule's Adam lr and radius were chosen from runs on this corpus (validation "
        "macro-F1 of 3 lr x 2 radius settings on the seed 0-2 splits, docs/results/defaults.md), so on this corpus "
        "they are fitted constants, like the tabular constants on sepsis and Adult: that choice read models "
        "trained on these documents, and its cost is not in the ε of the tables, which is that of each run."),
    grid=TEXT_GRID,
    description=(
        "Medical Abstracts (2,888 abstracts, 5 classes). Per seed s, a label-stratified split seeded by s "
        "(`fusiondp.text.split_corpus`): support 10% (public: fits the hybrid-text predictor), validation 10% "
        "(selection only), test 20% (reported), train the remaining 60% (private: sensitive spans protected). "
        "Hybrid training texts: `HybridTextGenerator` fitted on the support split (spans re-predicted from the "
        "masked document). Features: TF-IDF, 2,000 unigrams, vocabulary and IDF fitted on hybrid training texts "
        "+ support texts only. `x_noise` (fdp, sgd_pub): spans deleted. `x_reference` (sets C_h): hybrid texts "
        "re-rendered with another document's predicted values. Model: `TextClassifier` (Linear 2000→64, "
        "LayerNorm, GELU, dropout 0.1, Linear 64→5), Adam (lr 1e-3 unless selected otherwise), 30 epochs "
        "unless selected otherwise, expected private batch 256 (q = 256/1734), public batch 512, β = 0.5 and "
        "C_h = 90th percentile of ‖h(x̃) − h(x_ref)‖ at initialisation (public), no projection (M = ∞). "
        "Selected settings: non-private methods 3 epochs; `dpsgd` lr 0.03, C = 1, 30 epochs; `naive_fusion` "
        "β = 0.25, C = 1, 10 epochs; `fusiondp`, `fdp_fm`, `fdp`: α = 1, C = 0.5, lr 1e-3, 10 epochs."),
    tuning=(
        "Settings per method were chosen by validation macro-F1 only (seed 0, ε ∈ {1, 4}; the test split is "
        "not read) from a small grid, `fusiondp bench medical_abstracts --tune` (table below). "
        "The selection reads validation documents, which are disjoint from the private training split "
        "(the validation texts themselves are treated as public). Selection is not free: every candidate "
        "was trained on the same private rows, so releasing the selected setting (and the model trained "
        "with it) is post-processing of all candidates, and their ε compose (6 candidates per ε for "
        "`dpsgd`, 5 for `fusiondp`, at ε = 1 and 4; by plain composition k candidates at ε each cost up "
        "to k·ε). The ε in the tables is that of one run, not of the search; `fusiondp tune` accounts a "
        "whole search (docs/results/defaults.md). One setting per method "
        "is used at every ε."),
))


# --------------------------------------------------------------------------- speed case (issue 6, evidence 3)
def _speed_child(bench: BenchData, method: str, epochs: float, seed: int, queue) -> None:
    import resource

    from fusiondp.train.engine import train

    torch.set_num_threads(1)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cfg = replace(_text_config(method, 1.0), epochs=epochs, seed=seed,
                  epsilon=1.0 if get_method_private(method) else None)
    res = train(method, bench.data, config=cfg, model=bench.model(), progress=False)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put({"seconds_per_epoch": res.seconds / epochs, "peak_mb": (peak - base) / 1024, "steps": res.steps})


def get_method_private(method: str) -> bool:
    from fusiondp.train.methods import get_method

    return get_method(method).is_private


def text_speed_case(data_dir: Path | None = None, *, seed: int = 0, epochs: float = 1.0) -> list[dict]:
    """Seconds per epoch and peak memory of the text model: private steps vs a plain epoch.

    Data are prepared once; each case trains in a forked child process, and its peak memory is the
    growth of the child's maximum resident set size during training (Linux ``ru_maxrss``), so the
    cases do not see each other's allocations. Returns rows ``{"case", "seconds_per_epoch",
    "peak_mb", "steps"}``.
    """
    import multiprocessing as mp

    torch.set_num_threads(1)
    bench = prepare_medical_abstracts(data_dir, seed)
    ctx = mp.get_context("fork")
    rows = []
    for label, method in (("plain epoch (sgd_ori, no privacy)", "sgd_ori"),
                          ("private step (dpsgd, ghost clipping)", "dpsgd"),
                          ("private step (fusiondp, ghost clipping)", "fusiondp")):
        queue = ctx.Queue()
        proc = ctx.Process(target=_speed_child, args=(bench, method, epochs, seed, queue))
        proc.start()
        row = queue.get()
        proc.join()
        rows.append({"case": label, **row})
    return rows
