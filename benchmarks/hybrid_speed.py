"""Wall time of a default hybrid build with the light vs the exact skill-scoring copy, side by side.

`make_hybrid(fallback="auto")` measures each column's imputation skill on the support set by cross-fitting
the imputer over 3 folds, then imputes with the full imputer. `skill_scoring="full"` (the default) scores
with an exact copy; `"light"` with `Imputer.scoring_copy(light=True)` (the default ensemble: 3 blending folds
and 100 trees instead of 5 and 200). Both variants run alternately (A, B, A, B, ...) on the same tables in
one process, so the ratio is paired. Printed per table: the wall times, the ratio, each column's skill under
both, whether any fallback decision differs, and the largest difference between the two hybrids' values.

Tables: ``icu30k``: `fusiondp.data.synthetic.make_icu` with 30,000 training and 1,000 support rows;
``icu_noise``: make_icu (6,000 + 800) plus two sensitive columns nothing predicts (so two columns fall back);
``adult``: the Adult benchmark split (20,755 training rows, 512 support rows), skipped without the data.

    OMP_NUM_THREADS=1 python benchmarks/hybrid_speed.py --reps 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import pandas as pd

from fusiondp.data.schema import Schema
from fusiondp.data.synthetic import make_icu
from fusiondp.impute import impute_hybrid

VARIANTS = ("full", "light")


def tables(data_dir: str | None) -> dict[str, tuple[pd.DataFrame, pd.DataFrame, Schema]]:
    """(training rows, support rows, schema) per table."""
    out = {}
    big = make_icu(n_train=30000, n_support=1000, n_val=10, n_test=10, seed=0)
    out["icu30k"] = (big.frames["train"], big.frames["support"], big.schema)
    icu = make_icu(seed=0)
    noisy = {}
    for k in ("train", "support"):
        f = icu.frames[k]
        rng = np.random.default_rng(100 + len(f))
        noisy[k] = f.assign(score=rng.normal(size=len(f)), flag=rng.choice(["p", "q", "r"], len(f), p=[.5, .3, .2]))
    s = icu.schema
    out["icu_noise"] = (noisy["train"], noisy["support"], Schema(s.target, [*s.sensitive, "score", "flag"], list(s.drop)))
    try:
        from fusiondp.bench.datasets import get_spec, resolve_data_dir

        spec = get_spec("adult")
        frames = spec.frames(resolve_data_dir(data_dir), 0)
        out["adult"] = (frames["train"], frames["support"], spec.schema)
    except Exception as e:  # noqa: BLE001 (the data are optional here)
        print(f"# adult skipped: {type(e).__name__}: {e}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=2, help="paired repetitions per table")
    ap.add_argument("--data", default=None, help="data folder (default: $FUSIONDP_DATA or ../shared/data)")
    a = ap.parse_args()
    rows = []
    for name, (train, support, schema) in tables(a.data).items():
        times = {v: [] for v in VARIANTS}
        last = {}
        for _ in range(a.reps):
            for v in VARIANTS:
                t0 = time.perf_counter()
                last[v] = impute_hybrid(train, support, schema, imputer="default", random_state=0, progress=False,
                                      skill_scoring=v)
                times[v].append(time.perf_counter() - t0)
        sk = {v: {t["task"]: (round(t["skill"], 3) if t["skill"] is not None else None, t["fallback"])
                  for t in last[v].provenance["tasks"]} for v in VARIANTS}
        same_decisions = {k: d for k, (_, d) in sk["full"].items()} == {k: d for k, (_, d) in sk["light"].items()}
        numeric = [c for c in schema.sensitive if pd.api.types.is_numeric_dtype(last["full"].frame[c])]
        diff = max((float((last["full"].frame[c] - last["light"].frame[c]).abs().max()) for c in numeric), default=0.0)
        cat_same = all(last["full"].frame[c].astype(str).equals(last["light"].frame[c].astype(str))
                       for c in schema.sensitive if c not in numeric)
        row = {"table": name, "train_rows": len(train), "support_rows": len(support),
               "full_s": round(statistics.median(times["full"]), 1), "light_s": round(statistics.median(times["light"]), 1),
               "ratio_full_over_light": round(statistics.median(times["full"]) / statistics.median(times["light"]), 2),
               "skills_full": sk["full"], "skills_light": sk["light"], "same_decisions": same_decisions,
               "max_numeric_diff": diff, "categorical_equal": cat_same, "reps": a.reps}
        rows.append(row)
        print(json.dumps(row), flush=True)
    print("\n| table | train / support rows | full (s) | light (s) | full / light | same fallback decisions | "
          "largest |Δ| numeric | categorical equal |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['table']} | {r['train_rows']:,} / {r['support_rows']:,} | {r['full_s']} | {r['light_s']} | "
              f"{r['ratio_full_over_light']} | {'yes' if r['same_decisions'] else 'NO'} | {r['max_numeric_diff']:.1e} | "
              f"{'yes' if r['categorical_equal'] else 'NO'} |")


if __name__ == "__main__":
    main()
