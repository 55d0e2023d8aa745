"""How the default ensemble's parts were chosen: cross-fitted skill on the SUPPORT set only.

Each candidate configuration of `EnsembleImputer` is cross-fitted over the support set
(`fusiondp.impute.fallback.cross_fitted_skill`: fit on K-1 folds, impute the held-out fold from its
public columns, independent per column) and scored against the support's true values: R² for numeric
columns, accuracy for categorical ones. No training row's sensitive value is read: this is the evidence
that the default was chosen on public data (issue 25); docs/results/imputation.md then reports the
chosen default on the training rows.

    OMP_NUM_THREADS=1 python benchmarks/imputer_candidates.py                 # sepsis: Age, Gender
    OMP_NUM_THREADS=1 python benchmarks/imputer_candidates.py --dataset adult --columns age,sex,marital
    OMP_NUM_THREADS=1 python benchmarks/imputer_candidates.py --round3 [--use-label]   # round-2 vs current default
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from fusiondp.bench.datasets import get_spec, resolve_data_dir
from fusiondp.impute import EnsembleImputer, build_tasks
from fusiondp.impute.fallback import cross_fitted_skill

ROUND2_BOOSTING = {"max_depth": 4, "l2": 2.0, "min_leaf": 3, "shrinkage": 10.0}
"""The boosting shape before round 3 (depth 4, L2 2, leaves of n/40 rows clipped to 3-30, 200 rounds at 0.05)."""

CANDIDATES = {
    "previous default (hgb+forest+linear)": dict(learners=("hgb", "forest", "linear"), contrasts=False,
                                                 boosting=ROUND2_BOOSTING, boosting_rounds=200),
    "+ contrasts": dict(learners=("hgb", "forest", "linear"), contrasts=True, boosting=ROUND2_BOOSTING,
                        boosting_rounds=200),
    "+ kernel": dict(learners=("hgb", "forest", "linear", "kernel"), contrasts=False, boosting=ROUND2_BOOSTING,
                     boosting_rounds=200),
    "+ contrasts + kernel (round-2 default)": dict(boosting=ROUND2_BOOSTING, boosting_rounds=200),
    "+ shallow slow boosting (default)": dict(),
}
ROUND3 = ("+ contrasts + kernel (round-2 default)", "+ shallow slow boosting (default)")
"""The candidates `--round3` runs: the round-2 default and the current one (only the boosting shape differs)."""


def make(boosting: dict | None = None, **kw) -> EnsembleImputer:
    imp = EnsembleImputer(onehot_groups=[], **kw)
    if boosting is not None:
        imp.BOOSTING = boosting  # instance override of the class default
    return imp


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="sepsis")
    ap.add_argument("--columns", default="Age,Gender", help="sensitive columns to score (each on its own)")
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--use-label", action="store_true", help="also read the (public) label")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--round3", action="store_true", help=f"only the candidates {ROUND3}")
    a = ap.parse_args()
    spec = get_spec(a.dataset)
    frames = spec.frames(resolve_data_dir(a.data_dir))
    support, schema = frames["support"], spec.schema
    features = schema.public_columns(schema.public_view(support)) + ([schema.target] if a.use_label else [])
    cols = [c.strip() for c in a.columns.split(",")]
    X, Y = support[features], support[cols]
    tasks = build_tasks(Y, onehot_groups=[])
    print(f"# {a.dataset}: {len(support)} support rows, {len(features)} public features, {a.folds} folds, "
          f"use_label={a.use_label}; support rows only")
    print("| candidate | " + " | ".join(f"{t.name} ({'R²' if t.kind == 'numeric' else 'accuracy'})" for t in tasks)
          + " | s |")
    print("|---|" + "---|" * (len(tasks) + 1))
    for name, kw in CANDIDATES.items():
        if a.round3 and name not in ROUND3:
            continue

        def procedure(Xf: pd.DataFrame, Yf: pd.DataFrame, T: pd.DataFrame, kw=kw):
            imp = make(**kw).fit(Xf, Yf)
            return imp.predict(T), imp.predict_proba(T)

        t0 = time.perf_counter()
        skills = cross_fitted_skill(X, Y, tasks, procedure, folds=a.folds, seed=0)
        print(f"| {name} | " + " | ".join(f"{s.score:.3f}" for s in skills)
              + f" | {time.perf_counter() - t0:.0f} |", flush=True)


if __name__ == "__main__":
    main()
