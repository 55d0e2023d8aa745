"""Round 5 of issue 25: the round-5 stack against the default on the TRAINING rows, and their fitting times.

The stacks were chosen on support folds (`benchmarks/imputer_round5.py`); this script only reports them the way
docs/results/imputation.md does (true sensitive values of the training rows: an evaluation, never an input).
Default mode: each stack's `EnsembleImputer` is fitted on the support set for the named columns (one-hot detection
off, the training rows' public columns as `unlabeled`), alternating default / round 5 for `--repeats` rounds in one
process, so load drift slows both alike; the first round's imputers are scored on the training rows. ``--hybrid``
builds the whole hybrid table instead (`make_hybrid`: fallback and chaining as in the product), once per stack.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/imputer_round5_train.py                       # sepsis Age, Gender
    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/imputer_round5_train.py --hybrid              # sepsis, all columns
    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/imputer_round5_train.py --dataset adult --columns age,sex,marital
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

from fusiondp.bench.datasets import get_spec, resolve_data_dir
from fusiondp.impute import EnsembleImputer, imputation_quality, make_hybrid
from fusiondp.impute.ensemble import DEFAULT_LEARNERS, ROUND5_LEARNERS

STACKS = {"default": DEFAULT_LEARNERS, "round 5": ROUND5_LEARNERS}


def _scores(true: pd.DataFrame, imputed: pd.DataFrame, schema, cols: list[str]) -> dict[str, float]:
    q = imputation_quality(true.reset_index(drop=True), imputed.reset_index(drop=True), schema,
                           columns=cols).set_index("column")
    return {c: float(q.loc[c, "r2"] if q.loc[c, "kind"] == "numeric" else q.loc[c, "accuracy"]) for c in cols}


def main() -> None:
    warnings.filterwarnings("ignore", category=UserWarning)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="sepsis")
    ap.add_argument("--columns", default="Age,Gender")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--hybrid", action="store_true", help="build whole hybrid tables (all sensitive columns)")
    ap.add_argument("--data-dir", default=None)
    a = ap.parse_args()
    spec = get_spec(a.dataset)
    frames = spec.frames(resolve_data_dir(a.data_dir))
    support, train, schema = frames["support"], frames["train"], spec.schema
    features = schema.public_columns(schema.public_view(support))
    cols = list(schema.sensitive) if a.hybrid else [c.strip() for c in a.columns.split(",")]
    times: dict[str, list[float]] = {k: [] for k in STACKS}
    scores: dict[str, dict[str, float]] = {}
    for r in range(1 if a.hybrid else a.repeats):
        for name, learners in STACKS.items():
            t0 = time.perf_counter()
            if a.hybrid:
                out = make_hybrid(schema.public_view(train), support, schema, imputer="ensemble", learners=learners,
                                  progress=False)
            else:
                imp = EnsembleImputer(learners=learners, onehot_groups=[]).fit(
                    support[features], support[cols], unlabeled=train[features])
            times[name].append(time.perf_counter() - t0)
            if r == 0:
                out = out if a.hybrid else imp.predict(train[features])
                scores[name] = _scores(train[cols], out[cols], schema, cols)
            print(f"repeat {r} {name}: {times[name][-1]:.1f} s "
                  + ", ".join(f"{c} {v:.4f}" for c, v in scores[name].items()), flush=True)
    print(f"\n# {a.dataset}: {len(support)} support rows -> {len(train)} training rows; "
          f"{'make_hybrid' if a.hybrid else 'EnsembleImputer.fit'}; R² (numeric) / accuracy (categorical)")
    print("| column | " + " | ".join(STACKS) + " | difference |")
    print("|---|" + "---|" * (len(STACKS) + 1))
    for c in cols:
        d, n = scores["default"][c], scores["round 5"][c]
        print(f"| {c} | {d:.4f} | {n:.4f} | {n - d:+.4f} |")
    md, mn = np.median(times["default"]), np.median(times["round 5"])
    print(f"| seconds (median of {len(times['default'])}) | {md:.1f} | {mn:.1f} | ratio {mn / md:.2f} |")


if __name__ == "__main__":
    main()
