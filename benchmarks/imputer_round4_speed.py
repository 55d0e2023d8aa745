"""Fitting time of the round-4 default ensemble against the round-3 one, side by side (issue 25, item 3).

Both ensembles are fitted on the sepsis support set (val.csv) for Age and Gender, alternating (round 3, round 4,
round 3, round 4, ...) in one process, so a machine whose load drifts slows both alike; the script prints each
fit's seconds and the ratio of the medians. One `fit` is what the hybrid build repeats per task and procedure
(5-fold blend + final refit of every learner); the whole build (`make_hybrid`, fallback skill cross-fitting and
chaining included) repeats it about four times per column.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/imputer_round4_speed.py [--repeats 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from fusiondp.bench.datasets import get_spec, resolve_data_dir
from fusiondp.impute import EnsembleImputer

ROUND3 = dict(learners=("hgb", "forest", "linear", "kernel"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--columns", default="Age,Gender")
    ap.add_argument("--data-dir", default=None)
    a = ap.parse_args()
    spec = get_spec("sepsis")
    frames = spec.frames(resolve_data_dir(a.data_dir))
    support, train, schema = frames["support"], frames["train"], spec.schema
    features = schema.public_columns(schema.public_view(support))
    cols = [c.strip() for c in a.columns.split(",")]
    times: dict[str, list[float]] = {"round 3": [], "round 4": []}
    for r in range(a.repeats):
        for name, kw in (("round 3", ROUND3), ("round 4", {})):
            t0 = time.perf_counter()
            EnsembleImputer(onehot_groups=[], **kw).fit(support[features], support[cols],
                                                        unlabeled=train[features])
            times[name].append(time.perf_counter() - t0)
            print(f"repeat {r} {name}: {times[name][-1]:.1f} s", flush=True)
    m3, m4 = np.median(times["round 3"]), np.median(times["round 4"])
    print(f"median fit ({', '.join(cols)}): round 3 {m3:.1f} s, round 4 {m4:.1f} s, ratio {m4 / m3:.2f}")


if __name__ == "__main__":
    main()
