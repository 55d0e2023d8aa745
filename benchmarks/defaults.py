"""Defaults rule vs the repository's validation-tuned settings (fusiondp, dpsgd) on the benchmark tables.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/defaults.py --datasets sepsis,adult --epsilons 1,4 \
        --seeds 0 --out docs/results/defaults_runs.jsonl

"default": `TrainConfig(epsilon=ε, delta=1e-5, seed=s)`, every other setting from
`fusiondp.train.defaults.auto_settings`. "tuned": the registry's per-ε validation-selected settings
(`fusiondp.bench.registry.TABULAR_SELECTED`), whose selection cost composes (docs/results/defaults.md).
`sgd_hybrid` (ε = 0, defaults) is the free public baseline. Both use the current default representation
(`fusiondp.data.preprocess.Representation()`); the tuned settings were selected under the earlier one.
The Poisson mask and the noise come from OS entropy, so reruns differ by run-to-run noise.
Also `--time-synthetic 30000`: wall time of one default `fusiondp` run on a make_icu table of that size.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

from fusiondp.bench.registry import get_dataset
from fusiondp.evaluate.metrics import classification_metrics, predict_scores
from fusiondp.train.config import TrainConfig
from fusiondp.train.engine import train

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DELTA = 1e-5


def _auroc(res, xy) -> float:
    return classification_metrics(xy[1].numpy(), predict_scores(res.model, xy[0]))["auroc"]


def compare(datasets, epsilons, seeds, methods, data_dir: Path, out: Path | None) -> list[dict]:
    rows = []
    for name in datasets:
        ds = get_dataset(name)
        for seed in seeds:
            bench = ds.prepare(data_dir, seed)
            base = train("sgd_hybrid", bench.data, config=TrainConfig(epsilon=None, delta=DELTA, seed=seed),
                         progress=False)
            for eps in epsilons:
                for method in methods:
                    for which in ("default", "tuned"):
                        cfg = TrainConfig(epsilon=eps, delta=DELTA, seed=seed) if which == "default" else \
                            replace(ds.config(method, eps), epsilon=eps, delta=DELTA, seed=seed)
                        res = train(method, bench.data, config=cfg, progress=False)
                        c = res.config
                        row = {"dataset": name, "method": method, "settings": which, "epsilon": eps, "seed": seed,
                               "spent": res.epsilon, "val_auroc": _auroc(res, bench.val),
                               "test_auroc": _auroc(res, bench.test), "sgd_hybrid_val": _auroc(base, bench.val),
                               "sgd_hybrid_test": _auroc(base, bench.test), "seconds": round(res.seconds, 1),
                               **{k: getattr(c, k) for k in ("batch_size", "epochs", "lr", "clip", "alpha")}}
                        print(json.dumps(row), flush=True)
                        rows.append(row)
                        if out:
                            out.parent.mkdir(parents=True, exist_ok=True)
                            with out.open("a") as fh:
                                fh.write(json.dumps(row) + "\n")
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| table | ε | method | default: b, C, α | default test AUROC | tuned test AUROC | default − tuned | "
             "`sgd_hybrid` test AUROC |", "|---|---|---|---|---|---|---|---|"]
    key = lambda r: (r["dataset"], r["epsilon"], r["method"], r["seed"])
    by = {}
    for r in rows:
        by.setdefault(key(r), {})[r["settings"]] = r
    for k, pair in sorted(by.items()):
        d, t = pair.get("default"), pair.get("tuned")
        if not (d and t):
            continue
        lines.append(f"| {k[0]} | {k[1]:g} | `{k[2]}` | {d['batch_size']}, {d['clip']:g}, {d['alpha']:g} | "
                     f"{d['test_auroc']:.3f} | {t['test_auroc']:.3f} | {d['test_auroc'] - t['test_auroc']:+.3f} | "
                     f"{d['sgd_hybrid_test']:.3f} |")
    return "\n".join(lines)


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
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", default="sepsis,adult")
    ap.add_argument("--epsilons", default="1,4")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--methods", default="fusiondp,dpsgd")
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--time-synthetic", type=int, default=0)
    a = ap.parse_args(argv)
    if a.time_synthetic:
        print(json.dumps(time_synthetic(a.time_synthetic)))
        return 0
    rows = compare(a.datasets.split(","), [float(e) for e in a.epsilons.split(",")],
                   [int(s) for s in a.seeds.split(",")], a.methods.split(","), a.data, a.out)
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
