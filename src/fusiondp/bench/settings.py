"""Benchmark settings: where a run's settings come from, and the selected values (read from data files).

Sources (``fusiondp bench --settings``): ``defaults`` (the defaults rule, `fusiondp.train.defaults`: public
quantities only, no tuning cost), ``selected`` (a built-in dataset's validation-selected settings, whose
selection spent budget; values in ``selected_settings.json``), or settings files written by ``fusiondp tune``
(accounted searches). The candidate grids that produced the old selections are data too
(``tabular_grids.json``); they are kept for the pages that show them and for ``benchmarks/defaults.py``.
Tuning itself is done by ``fusiondp tune`` only.

>>> settings_at({1.0: {"alpha": 0.25}, 4.0: {"alpha": 0.5}}, 3.0)
{'alpha': 0.5}
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from importlib.resources import files
from pathlib import Path

from fusiondp.errors import ConfigError
from fusiondp.train.config import TrainConfig

__all__ = ["SETTINGS_SOURCES", "DEFAULTS_TEXT", "TABULAR_SETTINGS", "TABULAR_SELECTED", "TABULAR_PRIVATE_BASE",
           "TABULAR_GRID", "tabular_grid", "settings_at", "tabular_config", "settings_files", "read_data"]


def read_data(name: str) -> dict:
    """A JSON data file of this package (tuned values live in data files, not in code)."""
    return json.loads(files("fusiondp.bench").joinpath(name).read_text(encoding="utf-8"))


#: Where a benchmark run's settings come from: the defaults rule (`fusiondp.train.defaults`, public quantities
#: only, no tuning cost) or the dataset entry's validation-selected settings (whose selection spent budget).
SETTINGS_SOURCES = ("defaults", "selected")
DEFAULTS_TEXT = (
    "Settings: fusiondp's defaults rule for every method (`fusiondp.train.defaults.auto_settings`, docs/training.md "
    "\"Default settings\"): a function of the training-row count, ε, δ and the method only, the same a user gets "
    "from `fusiondp train` without tuning flags. Nothing was selected on this dataset, so the ε in the tables is "
    "the whole privacy cost of each released model. Every batch is capped at a quarter of the training rows and "
    "the public batch at the training rows (the runner's small-table rule).")


def settings_files(source: str) -> dict[str, dict]:
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


def _load_selected() -> tuple[dict, dict]:
    """The validation-selected settings of the older benchmark pages, read from ``selected_settings.json``
    (tuned values are data): ``(per-method settings selected on sepsis at ε = 2, {dataset: per-ε settings})``."""
    body = read_data("selected_settings.json")

    def conv(entry: dict) -> dict:
        return {m: ({float(e): dict(c) for e, c in v.items()} if v and all(isinstance(c, dict) for c in v.values())
                    else dict(v)) for m, v in entry.items()}

    return conv(body["tabular"]), {k: conv(v) for k, v in body["selected"].items()}


#: Per-method settings selected by validation AUROC on sepsis at ε = 2, seed 0
#: (`python benchmarks/tune_sepsis.py --method M`, docs/results/engine_sepsis_tuning*.md); used at every ε by
#: `--settings selected` on datasets without their own selection. Non-private methods keep the paper's settings (docs/method.md §7).
#: Per-dataset selections ``{dataset: {method: overrides or {ε: overrides}}}`` (see :func:`settings_at`):
#: sepsis and Adult per ε by `fusiondp bench sepsis|adult --settings selected --tune --epsilons 0.5,1,2,4,8`
#: (that option is removed: its search was not accounted; `fusiondp tune` accounts one).
TABULAR_SETTINGS, TABULAR_SELECTED = _load_selected()

#: The candidate grids of the old validation-only selections (overrides on top of the private base settings);
#: their winners are in ``selected_settings.json``. Data: ``tabular_grids.json``.
_GRIDS = read_data("tabular_grids.json")
TABULAR_PRIVATE_BASE: dict[str, float] = dict(_GRIDS["private_base"])
TABULAR_GRID: dict[str, tuple[dict, ...]] = {m: tuple(c) for m, c in _GRIDS["default_grid"].items()}


def tabular_grid(dataset: str) -> dict[str, tuple[dict, ...]]:
    """The candidate grid of a tabular dataset (its own per-ε grid, else :data:`TABULAR_GRID`), each candidate
    on top of :data:`TABULAR_PRIVATE_BASE`."""
    grid = _GRIDS["per_dataset_grid"].get(dataset, _GRIDS["default_grid"])
    return {m: tuple({**TABULAR_PRIVATE_BASE, **c} for c in cands) for m, cands in grid.items()}


#: The "how were the settings chosen" paragraph of each tabular results page.
TABULAR_TUNING = {
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
        "private term and `dpsgd`'s C (`fusiondp bench sepsis --tune --epsilons 0.5,1,2,4,8`, an option since removed, table below): "
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
        "0.5,1,2,4,8`, an option since removed, grid `ADULT_PER_EPSILON_GRID`, table below): `dpsgd` C = 4 / 4 / 8 / 8 / 8 at ε = 0.5 / 1 / 2 / "
        "4 / 8; `naive_fusion` β = 0.75, C = 4; `fusiondp` α = 1 with C = 4 / 4 / 4 / 16 / 16; `fdp_fm` (α, C) = "
        "(1, 4) / (0.25, 16) / (0.5, 16) / (0.5, 16) / (0.5, 16); `fdp` (1, 4) / (0.5, 16) / (0.5, 16) / (0.5, 16) / "
        "(1, 16) (β = 0.5, M = 10). Non-private methods: the paper's settings (batch 128, lr 0.07). Hybrid: "
        "fusiondp's default imputer fitted on the 512-row support set (labels not used). The first grid, with one "
        "setting per method chosen over ε ∈ {1, 4}, is on [adult_one_setting.md](adult_one_setting.md)."),
}


def is_per_epsilon(entry: Mapping) -> bool:
    """True for a ``{ε: overrides}`` table, False for one overrides dict (or an empty one)."""
    return bool(entry) and all(isinstance(k, (int, float)) for k in entry)


def settings_at(entry: Mapping, epsilon: float | None) -> dict:
    """A method's settings at ε: `entry` is one overrides dict for every ε, or ``{ε: overrides}`` selected
    per ε, in which case the ε nearest on a log scale is used (ties: the smaller, more private one).

    >>> settings_at({"alpha": 1.0}, 0.5)
    {'alpha': 1.0}
    """
    if not is_per_epsilon(entry):
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
