"""Imputation quality of the default offline imputer vs the published TabPFN hybrid.

Writes docs/results/imputation.md (every number on that page comes from this
script) and saves our hybrids under bench_out/ (gitignored) for training
comparisons. The quality numbers read true sensitive values of the training
rows: that is the evaluation, never part of imputation or training.

    python benchmarks/imputation.py                      # sepsis + adult, ~2-4 min on 2 cores
    python benchmarks/imputation.py --datasets sepsis    # one dataset
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn

from fusiondp.bench.datasets import get_spec, resolve_data_dir
from fusiondp.impute import get_imputer, imputation_quality, make_hybrid

ROOT = Path(__file__).resolve().parents[1]
PREVIOUS = "round-3 default"
"""The default ensemble before issue 25's round 4 (no spline learner, no second forest on the linear view), for a
side-by-side run."""
PREVIOUS_SETTINGS = dict(learners=("hgb", "forest", "linear", "kernel"))
PREVIOUS_BOOSTING = None  # round 3's boosting shape is the current one


def _fmt(x: float) -> str:
    return "" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.3f}"


def _headline(q: pd.DataFrame) -> dict[str, float]:
    """R² for numeric columns, accuracy for categorical ones."""
    return {r.column: (r.r2 if r.kind == "numeric" else r.accuracy) for r in q.itertuples()}


def run_ours(frames: dict, spec, *, use_label: bool, imputer: str, seed: int) -> tuple[pd.DataFrame, float]:
    groups = None if spec.onehot_groups is None else [list(g) for g in spec.onehot_groups]
    if imputer == PREVIOUS:
        categorical = [c for c in spec.schema.categorical if c in spec.schema.sensitive]
        imputer = get_imputer("ensemble", random_state=seed, progress=False, onehot_groups=groups,
                              categorical=categorical, **PREVIOUS_SETTINGS)
        if PREVIOUS_BOOSTING is not None:
            imputer.BOOSTING = PREVIOUS_BOOSTING  # instance override of the class default
    t0 = time.perf_counter()
    hyb = make_hybrid(frames["train"], frames["support"], spec.schema, imputer=imputer, use_label=use_label,
                      random_state=seed, progress=False, onehot_groups=groups)
    return hyb, time.perf_counter() - t0


def table(spec, frames: dict, runs: dict[str, pd.DataFrame], compare: tuple[str, str] | None = None) -> list[str]:
    schema = spec.schema
    qs = {name: imputation_quality(frames["train"], hyb, schema) for name, hyb in runs.items()}
    first = next(iter(qs.values()))
    names = list(runs)
    extra = f" | {compare[0]} − {compare[1]}" if compare else ""
    lines = ["| column | kind | metric | n | baseline | " + " | ".join(names) + extra + " |",
             "|---|---|---|---|---|" + "---|" * (len(names) + bool(compare))]
    for r in first.itertuples():
        if r.kind == "numeric":
            metric, base = "R²", 0.0
        else:
            metric, base = "accuracy", r.majority_accuracy
        vals = [_headline(qs[n])[r.column] for n in names]
        best = max(vals)
        cells = [f"**{_fmt(v)}**" if v == best and len(vals) > 1 else _fmt(v) for v in vals]
        diff = ""
        if compare:
            d = _headline(qs[compare[0]])[r.column] - _headline(qs[compare[1]])[r.column]
            diff = f" | {d:+.3f}"
        lines.append(f"| {r.column} | {r.kind} | {metric} | {r.n} | {_fmt(base)} | " + " | ".join(cells) + diff + " |")
    lines.append("")
    lines.append("Secondary metrics (MAE for numeric, macro-F1 for categorical):")
    lines.append("")
    lines.append("| column | " + " | ".join(names) + " |")
    lines.append("|---|" + "---|" * len(names))
    for i, r in enumerate(first.itertuples()):
        key = "mae" if r.kind == "numeric" else "macro_f1"
        lines.append(f"| {r.column} ({'MAE' if key == 'mae' else 'macro-F1'}) | "
                     + " | ".join(_fmt(float(qs[n].iloc[i][key])) for n in names) + " |")
    return lines


def sepsis(args, out: list[str]) -> None:
    spec = get_spec("sepsis")
    frames = spec.frames(args.data_dir)
    runs, times = {}, {}
    runs["TabPFN (published)"] = frames["published_hybrid"][frames["train"].columns.intersection(
        frames["published_hybrid"].columns)]
    runs["mean/mode"], times["mean/mode"] = run_ours(frames, spec, use_label=False, imputer="mean", seed=args.seed)
    for given in args.reuse:
        name, path = given.split("=", 1)
        runs[name] = pd.read_csv(path)[frames["train"].columns.drop(list(spec.schema.drop), errors="ignore")]
    for use_label in (False, True)[:1 + args.label]:
        name = f"ours ({args.imputer}{', +label' if use_label else ''})"
        runs[name], times[name] = run_ours(frames, spec, use_label=use_label, imputer=args.imputer, seed=args.seed)
        path = ROOT / "bench_out" / f"sepsis_hybrid_{args.imputer}{'_label' if use_label else ''}.csv"
        path.parent.mkdir(exist_ok=True)
        runs[name].to_csv(path, index=False)
        print(f"wrote {path.relative_to(ROOT)} ({times[name]:.1f} s)", flush=True)
    if args.previous:  # after the default, so its hybrid is saved first (downstream runs can start on it)
        runs[PREVIOUS], times[PREVIOUS] = run_ours(frames, spec, use_label=False, imputer=PREVIOUS, seed=args.seed)
        path = ROOT / "bench_out" / "sepsis_hybrid_previous.csv"
        runs[PREVIOUS].to_csv(path, index=False)
        print(f"{spec.name} {PREVIOUS}: {times[PREVIOUS]:.1f} s; wrote {path.relative_to(ROOT)}", flush=True)
    out += [f"## sepsis ({len(frames['support']):,} support rows = val.csv -> {len(frames['train']):,} training rows)",
            "",
            "Evaluated on the training rows against their true values (train_ori.csv). Rows with a missing true "
            "value are skipped (Unit1/Unit2 are missing on ~39% of rows). The published TabPFN column is "
            "train_hybrid.csv vs train_ori.csv; the authors made it from a different (larger) support set "
            "that is not distributed. Baseline: 0 for R² (predicting the mean), majority-class accuracy "
            "for categorical columns. `+label` lets the public label SepsisLabel inform the imputation "
            "(`use_label=True`). Unit1/Unit2 are one category for us (one-hot group), so both columns get "
            "the same accuracy; TabPFN predicted them separately.", ""]
    out += table(spec, frames, runs, compare=(f"ours ({args.imputer})", "TabPFN (published)"))
    out += ["", "Wall time of make_hybrid (fit on the support set + predict the training rows): "
            + "; ".join(f"{n} {t:.1f} s" for n, t in times.items()) + ".", ""]


def adult(args, out: list[str]) -> None:
    spec = get_spec("adult")
    frames = spec.frames(args.data_dir)
    runs, times = {}, {}
    runs["mean/mode"], times["mean/mode"] = run_ours(frames, spec, use_label=False, imputer="mean", seed=args.seed)
    if args.previous:
        runs[PREVIOUS], times[PREVIOUS] = run_ours(frames, spec, use_label=False, imputer=PREVIOUS, seed=args.seed)
        print(f"{spec.name} {PREVIOUS}: {times[PREVIOUS]:.1f} s", flush=True)
    for use_label in (False, True)[:1 + args.label]:
        name = f"ours ({args.imputer}{', +label' if use_label else ''})"
        runs[name], times[name] = run_ours(frames, spec, use_label=use_label, imputer=args.imputer, seed=args.seed)
        print(f"adult {name}: {times[name]:.1f} s", flush=True)
    s = spec.split
    out += [f"## adult ({len(frames['support'])} support rows -> {len(frames['train']):,} training rows)", "",
            f"Split (fusiondp.bench.datasets, `adult`): numpy `default_rng({s.split_seed})` permutation of the "
            f"{sum(len(frames[k]) for k in ('support', 'train', 'val', 'test')):,} rows; the first "
            f"{s.support_rows} are the public support set, the rest is cut {s.fractions} into train/val/test "
            f"({len(frames['train']):,} / {len(frames['val']):,} / {len(frames['test']):,}). There is no "
            "published TabPFN hybrid for Adult. Evaluated on the training rows against their true values.", ""]
    out += table(spec, frames, runs)
    out += ["", "Wall time of make_hybrid: " + "; ".join(f"{n} {t:.1f} s" for n, t in times.items()) + ".", ""]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=None, help="data folder (default: $FUSIONDP_DATA or ../shared/data)")
    ap.add_argument("--datasets", default="sepsis,adult")
    ap.add_argument("--imputer", default="default")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-previous", dest="previous", action="store_false",
                    help=f"skip the {PREVIOUS!r} column ({PREVIOUS_SETTINGS})")
    ap.add_argument("--no-label", dest="label", action="store_false", help="skip the `+label` column")
    ap.add_argument("--reuse", action="append", default=[], metavar="NAME=PATH",
                    help="sepsis: also score a hybrid saved by an earlier run (a column NAME; say which command made it)")
    ap.add_argument("--out", default=str(ROOT / "docs" / "results" / "imputation.md"))
    args = ap.parse_args()
    t0 = time.perf_counter()
    cmd = "python benchmarks/imputation.py" + "".join(f" {a}" for a in sys.argv[1:])
    out = ["# Imputation quality: offline default imputer vs published TabPFN", "",
           f"Command: `{cmd}` (data: `{resolve_data_dir(args.data_dir)}`)", "",
           f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores visible, OpenMP/BLAS limited to 1 thread and 2 "
           "forest workers (`n_jobs=2`), shared with other jobs (loaded: wall times compare only within one run); "
           f"Python {platform.python_version()}, scikit-learn {sklearn.__version__}, pandas {pd.__version__}.",
           "", "These numbers read true sensitive values of the training rows: an evaluation of Stage 1, "
           "never an input to imputation or training. The imputer itself only ever sees the support set and "
           "the training rows' public columns (`make_hybrid` passes `schema.public_view(train)`).", "",
           f"`{PREVIOUS}`: the default ensemble before issue 25's round 4 ("
           + ", ".join(f"{k}={v}" for k, v in {**PREVIOUS_SETTINGS, **(PREVIOUS_BOOSTING or {})}.items()) + "), "
           + ("run in the same process right after the current default, so its quality and wall time compare side "
              "by side (`--no-previous` skips it)." if args.previous else
              "not run here (`--no-previous`).")
           + " Everything else (joint imputation, fallback) is the same.", ""]
    if args.reuse:
        out += ["Scored from hybrid files saved by an earlier run (no wall time; the file's maker is named where "
                "the page is published): " + "; ".join(f"`{r.split('=', 1)[0]}` ({r.split('=', 1)[1]})"
                                                        for r in args.reuse) + ".", ""]
    for name in args.datasets.split(","):
        {"sepsis": sepsis, "adult": adult}[name.strip()](args, out)
    out += [f"Total benchmark time: {time.perf_counter() - t0:.0f} s.", ""]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(out))
    print("\n".join(out))


if __name__ == "__main__":
    main()
