"""The results table `fusiondp bench` prints at the end: one row per method and ε, over the seeds run.

The same numbers as the results page (`fusiondp.bench.report.aggregate`, test split), shown in the terminal
so that the comparison is seen without opening a file: method, target ε, neighbouring relation, the
dataset's headline metric (mean ± sd over seeds), seeds and wall seconds per run; then, for the feature-level
methods scored on a labelled support set, what the release guard releases (`fusiondp.bench.report.guarded_release`).
"""

from __future__ import annotations

import math

from rich.table import Table

from fusiondp.bench.registry import get_dataset
from fusiondp.bench.report import aggregate, guarded_release
from fusiondp.bench.runner import variant
from fusiondp.evaluate.labels import METRIC_LABELS

__all__ = ["results_table"]


def results_table(dataset: str, records: list[dict], *, title: str | None = None) -> Table | None:
    """A rich Table of the grid's records of `dataset` (None when there is no finished grid run)."""
    ds = get_dataset(dataset)
    bench = [r for r in records if r.get("dataset") == dataset and r.get("phase", "bench") == "bench" and "test" in r]
    if not bench:
        return None
    relations: dict[tuple[str, float | None], set[str]] = {}
    for r in bench:
        relations.setdefault((variant(r), r["epsilon"]), set()).add(r.get("relation") or "–")
    metric = METRIC_LABELS.get(ds.headline, ds.headline)
    t = Table(title=title or f"{dataset}: test {metric} (mean ± sd over seeds)", title_justify="left")
    for col, just in (("method", "left"), ("ε", "right"), ("relation", "left"), (f"test {metric}", "right"),
                      ("seeds", "right"), ("s/run", "right")):
        t.add_column(col, justify=just)
    for row in aggregate(bench, (ds.headline,)):
        e = row["epsilon"]
        m, sd = row[ds.headline]
        t.add_row(row["method"], "∞ (none)" if e is None else f"{e:g}",
                  ", ".join(sorted(relations.get((row["method"], e), {"–"}))) if e is not None else "none",
                  "–" if math.isnan(m) else f"{m:.3f} ± {sd:.3f}", str(row["n"]), f"{row['seconds']:.1f}")
    for g in guarded_release(bench, ds.headline):
        m, sd = g["released"]
        t.add_row(f"{g['method']} (release guard)", f"{g['epsilon']:g}", ", ".join(sorted(relations.get(
            (g["method"], g["epsilon"]), {"–"}))), f"{m:.3f} ± {sd:.3f}", str(g["n"]),
                  f"baseline kept {g['baseline_released']}×")
    t.caption = ("ε: target budget (δ = 1e-5); relation: add_remove = record-level, remove = feature-level zero-out, "
                 "replace = replace-one; ∞ (none): no privacy. s/run: wall seconds of training. (release guard): what "
                 "a run releases when it keeps the better, on the labelled support set, of its model and sgd_hybrid.")
    return t
