"""The tabular adapter: a declarative tabular spec -> a benchmark entry.

A spec with the minimal interface of :class:`TabularSpec` (``name``, ``schema``, ``load(data_dir, seed)``
returning the ``train``/``hybrid``/``val``/``test`` frames, and optionally ``support``) is wrapped by
:func:`tabular_dataset`, which encodes the frames with :func:`fusiondp.pipeline.prepare` (preprocessing
fitted on public data) for each seed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from fusiondp.bench.registry import BenchData, BenchDataset
from fusiondp.bench.settings import TABULAR_SELECTED, TABULAR_TUNING, is_per_epsilon, tabular_config, tabular_grid
from fusiondp.errors import ConfigError
from fusiondp.train.config import TrainConfig

__all__ = ["TabularSpec", "tabular_dataset"]


class TabularSpec(Protocol):
    """The minimal interface a tabular dataset spec must offer to be benchmarked."""

    name: str
    schema: Any  # fusiondp.data.schema.Schema

    def load(self, data_dir: Path, seed: int) -> Mapping[str, Any]:
        """Frames 'train' (original), 'hybrid' (row-aligned), 'val' and 'test'."""


def tabular_dataset(spec: TabularSpec, *, headline: str = "auroc",
                    config: Callable[[str, float | None], TrainConfig] | None = None,
                    description: str = "", tuning: str = "",
                    grid: Mapping[str, tuple[dict, ...]] | None = None,
                    metrics: tuple[str, ...] = ("auroc", "aupr", "f1_val_threshold", "accuracy"), per_epsilon: bool | None = None,
                    remake: str = "", info: Mapping[str, Any] | None = None,
                    defaults_text: str = "") -> BenchDataset:
    """Wrap a tabular spec: frames -> `fusiondp.pipeline.prepare` -> BenchData (default MLP).

    `config` defaults to `fusiondp.bench.settings.tabular_config` of the spec's name; `grid` (the candidates
    of the old selection, shown on pages) to `fusiondp.bench.settings.tabular_grid` of the name.
    """

    def prepare(data_dir: Path, seed: int) -> BenchData:
        from fusiondp.pipeline import has_labels, prepare as pipeline_prepare

        frames = spec.load(Path(data_dir) if data_dir is not None else None, seed)
        missing = {"train", "hybrid", "val", "test"} - set(frames)
        if missing:
            raise ConfigError(f"Dataset spec {spec.name!r}.load() lacks frame(s) {sorted(missing)}.")
        evals = {"val": frames["val"], "test": frames["test"]}
        support = frames.get("support")
        if has_labels(support, spec.schema.target):
            evals["support"] = support  # scored, never trained on: the release guard's public yardstick
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
                               {**facts, "features": int(r.data.x.shape[1]), "preprocessing": r.fitted_on},
                               support=r.eval_sets.get("support"))
        return BenchData(p.data, p.eval_sets["val"], p.eval_sets["test"], None, facts, record,
                         support=p.eval_sets.get("support"))

    if grid is None:
        grid = tabular_grid(spec.name)
    if per_epsilon is None:
        per_epsilon = any(map(is_per_epsilon, TABULAR_SELECTED.get(spec.name, {}).values()))
    return BenchDataset(spec.name, prepare, headline, metrics, config or tabular_config(spec.name), description,
                        tuning or TABULAR_TUNING.get(spec.name, ""), grid, per_epsilon=per_epsilon, remake=remake,
                        defaults_text=defaults_text, spec=spec)
