"""A user's own table as a benchmark entry (``fusiondp bench --table FILE ...`` or ``--dataset-file``).

Binary targets are scored by AUROC (headline), AUPR, F1 and accuracy; multi-class ones by macro-F1 and
accuracy. Settings come from the defaults rule, or from `fusiondp tune` settings files (accounted searches).
"""

from __future__ import annotations

from pathlib import Path

from fusiondp.bench.registry import DATASETS, BenchDataset, load_builtins, register_dataset
from fusiondp.bench.settings import DEFAULTS_TEXT, tabular_config
from fusiondp.bench.tabular import tabular_dataset
from fusiondp.errors import ConfigError

__all__ = ["register_table"]

_DEFAULT_SETTINGS_TEXT = (
    "To bench settings tuned on this table instead, select them with `fusiondp tune` (it accounts the whole "
    "search: every candidate trains on the private rows) and pass its settings files with `--settings`.")


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


def register_table(spec, *, remake: str = "") -> BenchDataset:
    """Register a user's table (a `fusiondp.bench.datasets.DatasetSpec` with files.all) for the runner.

    Binary targets are scored by AUROC (headline), AUPR, F1 and accuracy; multi-class ones by macro-F1
    and accuracy. Settings: the defaults rule, or `fusiondp tune` settings files (``--settings``); tuned
    settings are never selected here (an unaccounted search). A name that is a built-in dataset is refused.
    """
    from fusiondp.bench.datasets import check_sizes, read_csv

    load_builtins()
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
    entry = tabular_dataset(spec, headline=headline, config=tabular_config("__user_table__"),
                            description=_user_description(spec, len(table), classes, support_rows),
                            metrics=metrics, per_epsilon=False, grid={},
                            defaults_text=DEFAULTS_TEXT + " " + _DEFAULT_SETTINGS_TEXT,
                            remake=remake or "rerunning the same `fusiondp bench --table ...` command (finished runs "
                                             "are skipped)", info={"settings": "default"})
    return register_dataset(entry, force=True)
