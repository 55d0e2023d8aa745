"""The one registry of benchmark datasets: entries, `register_dataset`, `get_dataset`.

A :class:`BenchDataset` says how to turn a data folder and a seed into a :class:`BenchData` (aligned
training views, validation and test tensors, a model factory), which metric is the headline, and the
training settings of each method at each ε. The runner (:mod:`fusiondp.bench.runner`) reads only these
fields, so adding a dataset is adding one entry with :func:`register_dataset`.

The built-in entries are registered on first use (`load_builtins`): the tabular ones from their TOML files
(``fusiondp/bench/entries/*.toml``, the format of `fusiondp.bench.datasets`, wrapped by
`fusiondp.bench.tabular.tabular_dataset`) and the text corpus (`fusiondp.bench.text_dataset`). A user's
table is registered by `fusiondp.bench.user_table.register_table`. Each job lives in its own module:

* settings sources and the selected values: `fusiondp.bench.settings` (values in JSON data files);
* the tabular adapter: `fusiondp.bench.tabular`; a user's table: `fusiondp.bench.user_table`;
* the text corpus: `fusiondp.bench.text_dataset` (its views: `fusiondp.text.HybridTextGenerator`);
* the text speed case: `fusiondp.bench.text_speed`.

>>> sorted(DATASETS) == sorted(DATASETS)  # filled lazily
True
>>> sorted(n for n in (get_dataset("adult").name, get_dataset("medical_abstracts").name))
['adult', 'medical_abstracts']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fusiondp.bench.settings import DEFAULTS_TEXT, SETTINGS_SOURCES, settings_files
from fusiondp.errors import ConfigError
from fusiondp.train.config import TrainConfig
from fusiondp.train.engine import TrainData

__all__ = ["BenchData", "BenchDataset", "DATASETS", "register_dataset", "get_dataset", "load_builtins"]

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
        support: the labelled public support set encoded like the training rows (None: none or unlabelled);
            every run is scored on it, so the page can show the release guard's choice (docs/training.md).
    """

    data: TrainData
    val: Tensors
    test: Tensors
    model: Callable[[], nn.Module] | None = None
    info: dict[str, Any] = field(default_factory=dict)
    record_level: "BenchData | None" = None
    support: Tensors | None = None


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
        grid: the candidate overrides per method of the (old, validation-only) selection behind `config`,
            shown on results pages and rerun by ``benchmarks/defaults.py``; tuning is `fusiondp tune`'s job.
        per_epsilon: the settings in `config` were selected at each ε separately (the tuning table then
            marks the winner per ε) rather than by the mean over the tuning ε values.
        defaults: ``(method, epsilon or None) -> TrainConfig`` for ``--settings defaults``: nothing selected
            on this dataset (default: an empty TrainConfig, which the defaults rule fills from N, ε, δ and
            the method).
        defaults_text: the "how were the settings chosen" paragraph for ``--settings defaults``.
        remake: how the results page is regenerated (default: ``fusiondp bench-report NAME``); a user's
            table says to rerun its own ``fusiondp bench --table ...`` command (finished runs are skipped).
        spec: the declarative entry behind a tabular dataset (`fusiondp.bench.datasets.DatasetSpec`: files,
            column roles, split), None for others.
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
    spec: Any = None

    def settings(self, source: str) -> Callable[[str, float | None], TrainConfig]:
        """The `(method, ε) -> TrainConfig` of a settings source: 'defaults' (the rule), 'selected' (this
        entry's validation-selected settings) or settings files of `fusiondp tune` (comma-separated paths,
        one per method; methods without a file use `defaults`)."""
        if source in SETTINGS_SOURCES:
            return self.defaults if source == "defaults" else self.config
        files = settings_files(source)

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
        for method, body in settings_files(source).items():
            sel = body["selection"]
            cost = ("a search on public data only (no training-record budget)" if sel.get("mode") == "public"
                    else f"the search's total ε = {sel['total_epsilon']:.3g}" if sel.get("total_epsilon") is not None
                    else "its cost is not recorded in the file")
            parts.append(f"`{method}`: " + ", ".join(f"{k} = {v}" for k, v in body["settings"].items())
                         + f" ({sel.get('mode', 'unknown')} search; {cost})")
        return ("Settings read from `fusiondp tune` settings files (" + source + "): " + "; ".join(parts)
                + ". Other methods use the defaults rule. Each benchmark run trains again with these settings, "
                "so it spends its ε on top of the search's.")


DATASETS: dict[str, BenchDataset] = {}


def register_dataset(entry: BenchDataset, *, force: bool = False) -> BenchDataset:
    """Add a dataset entry; a duplicate name is refused unless `force`."""
    if entry.name in DATASETS and not force:
        raise ConfigError(f"A benchmark dataset named {entry.name!r} is already registered.")
    DATASETS[entry.name] = entry
    return entry


def get_dataset(name: str) -> BenchDataset:
    """Look a dataset up by name (the built-in entries are registered on first use)."""
    load_builtins()
    try:
        return DATASETS[name]
    except KeyError:
        raise ConfigError(f"Unknown benchmark dataset {name!r}; choose one of {', '.join(sorted(DATASETS))}.") \
            from None


_LOADED = False


def load_builtins() -> None:
    """Register the built-in entries once: the tabular TOML entries and the text corpus."""
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    from fusiondp.bench.datasets import builtin_specs
    from fusiondp.bench.tabular import tabular_dataset
    from fusiondp.bench.text_dataset import medical_abstracts

    for spec in builtin_specs():
        if spec.name not in DATASETS:
            register_dataset(tabular_dataset(spec, description=spec.description))
    if "medical_abstracts" not in DATASETS:
        register_dataset(medical_abstracts())
