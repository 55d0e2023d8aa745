"""Lever beyond the paper: warm-start on the (public) hybrid rows before the private steps.

Trains `fusiondp` (defaults rule settings) with and without `warm_start_epochs` noise-free hybrid
epochs on a benchmark dataset, and prints validation and test AUROC. The warm phase reads only the
hybrid table (public), so both runs have the same ε.

    OMP_NUM_THREADS=1 python benchmarks/warm_start.py --dataset sepsis --epsilons 1,4 --seeds 0,1 --warm 2
"""

from __future__ import annotations

import argparse

import torch

from fusiondp.bench.registry import get_dataset
from fusiondp.evaluate.metrics import classification_metrics, predict_scores
from fusiondp.train.config import TrainConfig
from fusiondp.train.engine import train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="sepsis")
    ap.add_argument("--method", default="fusiondp")
    ap.add_argument("--epsilons", default="1,4")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--warm", type=float, default=2.0)
    a = ap.parse_args()
    torch.set_num_threads(1)
    ds = get_dataset(a.dataset)
    print("| dataset | ε | seed | warm-start epochs | val AUROC | test AUROC |\n|---|---|---|---|---|---|")
    for seed in map(int, a.seeds.split(",")):
        bench = ds.prepare(None, seed)
        for eps in map(float, a.epsilons.split(",")):
            for warm in (0.0, a.warm):
                cfg = TrainConfig(epsilon=eps, seed=seed, warm_start_epochs=warm)
                res = train(a.method, bench.data, config=cfg, progress=False)
                v = classification_metrics(bench.val[1].numpy(), predict_scores(res.model, bench.val[0]))["auroc"]
                t = classification_metrics(bench.test[1].numpy(), predict_scores(res.model, bench.test[0]))["auroc"]
                print(f"| {a.dataset} | {eps:g} | {seed} | {warm:g} | {v:.4f} | {t:.4f} |", flush=True)


if __name__ == "__main__":
    main()
