"""Build time of a default hybrid with the round-3 boosting shape vs the round-2 one, side by side.

One process, the two shapes alternating (`--reps` times each), on the small generated table of the imputer
tests (public hr/lab/ward; sensitive age, sex and a one-hot pair): what a default `make_hybrid` costs when
only `EnsembleImputer.BOOSTING` differs. Prints the wall seconds of every build.

    OMP_NUM_THREADS=1 python benchmarks/imputation_boosting_speed.py [--train 400 --support 200 --reps 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from fusiondp.data.schema import Schema
from fusiondp.impute import EnsembleImputer, make_hybrid

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "impute"))
from conftest import synth  # noqa: E402  (the imputer tests' generated table)

ROUND2 = ({"max_depth": 4, "l2": 2.0, "min_leaf": 3, "shrinkage": 10.0}, 200)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", type=int, default=400)
    ap.add_argument("--support", type=int, default=200)
    ap.add_argument("--reps", type=int, default=2)
    a = ap.parse_args()
    schema = Schema(target="y", sensitive=["age", "sex", "u1", "u2"], drop=["rowid"])
    train, support = synth(a.train, 1), synth(a.support, 2)
    for _ in range(a.reps):
        for name in ("round 3 (default)", "round 2"):
            imp = EnsembleImputer(random_state=0)
            if name == "round 2":
                imp.BOOSTING, imp.boosting_rounds = ROUND2
            t0 = time.perf_counter()
            make_hybrid(train, support, schema, imputer=imp, progress=False)
            print(f"{name}: {time.perf_counter() - t0:.1f} s", flush=True)


if __name__ == "__main__":
    main()
