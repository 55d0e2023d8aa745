"""Representation ablation on sepsis: missingness indicators on/off (and robust numeric encodings).

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/representation.py --epsilon 2 --seed 0 \
        --methods sgd_ori,dpsgd,fusiondp --variants legacy,indicators

Settings: the README's `fusiondp train` flags for every method (expected batch 1024, lr 0.3, C 16, α 0.25,
13 epochs; α is unused by dpsgd, C and ε by sgd_ori). Preprocessing is fitted on the hybrid table
(pipeline.prepare on this branch), for every method. Prints one JSON line per run and a markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd

from fusiondp.data.preprocess import LEGACY, Representation, use_representation
from fusiondp.data.schema import Schema
from fusiondp.pipeline import run
from fusiondp.train.config import TrainConfig

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sepsis"
SCHEMA = dict(target="SepsisLabel", sensitive="Age,Gender,Unit1,Unit2,HospAdmTime,ICULOS", drop="ICULOS_bin,index")
VARIANTS = {
    "legacy": LEGACY,
    "indicators": Representation(indicators=True),
    "indicators+clip": Representation(indicators=True, numeric="clip"),
    "indicators+quantile": Representation(indicators=True, numeric="quantile"),
}
README_SETTINGS = dict(epochs=13, batch_size=1024, lr=0.3, alpha=0.25, clip=16.0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--epsilon", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--methods", default="sgd_ori,dpsgd,fusiondp")
    ap.add_argument("--variants", default="legacy,indicators")
    args = ap.parse_args(argv)
    frames = {k: pd.read_csv(args.data / f"{k}.csv") for k in ("train_ori", "train_hybrid", "val", "test")}
    rows = []
    for variant in args.variants.split(","):
        for method in args.methods.split(","):
            cfg = TrainConfig(epsilon=args.epsilon, seed=args.seed, **README_SETTINGS)
            t0 = time.perf_counter()
            with use_representation(VARIANTS[variant]):
                _, prepared, rep = run(frames["train_ori"], frames["train_hybrid"], Schema(**SCHEMA), method=method,
                                       config=cfg, val_df=frames["val"], test_df=frames["test"], progress=False)
            row = {"variant": variant, "method": method, "epsilon": rep["epsilon"], "seed": args.seed,
                   "n_features": prepared.pre.n_features, "val_auroc": rep["metrics"]["val"]["auroc"],
                   "test_auroc": rep["metrics"]["test"]["auroc"], "seconds": round(time.perf_counter() - t0, 1)}
            print(json.dumps(row), flush=True)
            rows.append(row)
    print("\n| representation | method | features | val AUROC | test AUROC |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['variant']} | `{r['method']}` | {r['n_features']} | {r['val_auroc']:.3f} | {r['test_auroc']:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
