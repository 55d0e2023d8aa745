"""Levers beyond the paper, measured: projection onto a public subspace, α schedules, warm start.

Trains a method (default `fusiondp`, defaults-rule settings) on benchmark datasets once per
(dataset, ε, seed, variant) and records validation AUROC (the selection metric) and test AUROC. Every
variant spends the same ε: the levers change only public choices (docs/results/levers.md).

Variants: `baseline`; `proj:K` (TrainConfig.projection_rank = K); `sched:NAME`
(TrainConfig.alpha_schedule = NAME); `warm:E` (TrainConfig.warm_start_epochs = E); `alphax:F` (α = F times
the defaults rule's α); parts join with '+', e.g. `proj:32+alphax:4`.

    # 1. choose among candidates on validation (ε = 2, seed 0)
    OMP_NUM_THREADS=1 python benchmarks/levers.py --datasets sepsis,adult --epsilons 2 --seeds 0 \
        --variants baseline,proj:32,proj:128,sched:linear_up,sched:cosine_up --out select.jsonl
    # 2. the grid with the chosen ones
    OMP_NUM_THREADS=1 python benchmarks/levers.py --datasets sepsis,adult --epsilons 0.5,1,2,4,8 --seeds 0,1,2 \
        --variants baseline,proj:32,sched:linear_up --out grid.jsonl
    # tables from a results file (no training)
    python benchmarks/levers.py --summarise grid.jsonl
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path

import torch

from fusiondp.bench.registry import get_dataset
from fusiondp.evaluate.metrics import classification_metrics, predict_scores
from fusiondp.train.config import TrainConfig
from fusiondp.train.engine import train


def variant_settings(variant: str) -> tuple[dict, float]:
    """TrainConfig fields of one variant name, and the factor on the defaults rule's α ('+' joins parts)."""
    fields, alpha_factor = {}, 1.0
    for part in variant.split("+"):
        kind, _, value = part.partition(":")
        if kind == "baseline":
            continue
        if kind == "proj":
            fields["projection_rank"] = int(value)
        elif kind == "sched":
            fields["alpha_schedule"] = value
        elif kind == "warm":
            fields["warm_start_epochs"] = float(value)
        elif kind == "alphax":
            alpha_factor = float(value)
        else:
            raise SystemExit(f"unknown variant {part!r} (baseline, proj:K, sched:NAME, warm:E, alphax:F)")
    return fields, alpha_factor


def config_for(variant: str, eps: float, seed: int, data, method: str) -> TrainConfig:
    """The defaults rule's settings at (ε, seed) with the variant's levers (and α scaled when asked)."""
    fields, alpha_factor = variant_settings(variant)
    cfg = TrainConfig(epsilon=eps, seed=seed, **fields)
    if alpha_factor != 1.0:
        rule = cfg.resolve(n_rows=data.n, n_features=int(data.x[0].numel()), method=method)
        cfg = TrainConfig(epsilon=eps, seed=seed, alpha=rule.alpha * alpha_factor, **fields)
    return cfg


def auroc(model, split) -> float:
    return float(classification_metrics(split[1].numpy(), predict_scores(model, split[0]))["auroc"])


def run_grid(a: argparse.Namespace) -> None:
    torch.set_num_threads(1)
    out = open(a.out, "a") if a.out else None
    print("| dataset | ε | seed | variant | val AUROC | test AUROC | seconds |\n|---|---|---|---|---|---|---|")
    for name in a.datasets.split(","):
        ds = get_dataset(name)
        for seed in map(int, a.seeds.split(",")):
            bench = ds.prepare(a.data, seed)
            for eps in map(float, a.epsilons.split(",")):
                for variant in a.variants.split(","):
                    cfg = config_for(variant, eps, seed, bench.data, a.method)
                    res = train(a.method, bench.data, config=cfg, progress=False)
                    row = {"dataset": name, "method": a.method, "epsilon": eps, "seed": seed, "variant": variant,
                           "val_auroc": auroc(res.model, bench.val), "test_auroc": auroc(res.model, bench.test),
                           "spent_epsilon": res.epsilon, "sigma": res.plan.noise_multiplier,
                           "alpha": res.config.alpha, "clip": res.config.clip, "seconds": res.seconds}
                    print(f"| {name} | {eps:g} | {seed} | {variant} | {row['val_auroc']:.4f} | "
                          f"{row['test_auroc']:.4f} | {row['seconds']:.1f} |", flush=True)
                    if out:
                        out.write(json.dumps(row) + "\n")
                        out.flush()


def _ms(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def summarise(path: Path) -> None:
    """Mean ± std over seeds per (dataset, ε, variant), and each variant's paired difference to baseline."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    cells: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        cells[(r["dataset"], r["epsilon"], r["variant"])].append(r)
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    print("| dataset | ε | variant | seeds | val AUROC | test AUROC | Δval vs baseline | Δtest vs baseline |")
    print("|---|---|---|---|---|---|---|---|")
    wins: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for (ds, eps, v), rs in sorted(cells.items(), key=lambda kv: (kv[0][0], kv[0][1], variants.index(kv[0][2]))):
        base = {r["seed"]: r for r in cells.get((ds, eps, "baseline"), [])}
        paired = [r for r in rs if r["seed"] in base]
        dv = dt = ""
        if v != "baseline" and paired:
            dvs = [r["val_auroc"] - base[r["seed"]]["val_auroc"] for r in paired]
            dts = [r["test_auroc"] - base[r["seed"]]["test_auroc"] for r in paired]
            dv, dt = f"{statistics.mean(dvs):+.4f}", f"{statistics.mean(dts):+.4f}"
            wins[v][0] += sum(d > 0 for d in dvs)
            wins[v][1] += len(dvs)
        print(f"| {ds} | {eps:g} | {v} | {len(rs)} | {_ms([r['val_auroc'] for r in rs])} | "
              f"{_ms([r['test_auroc'] for r in rs])} | {dv} | {dt} |")
    print()
    for v, (w, n) in wins.items():
        print(f"{v}: validation AUROC above baseline in {w} of {n} paired (dataset, ε, seed) runs")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="sepsis,adult")
    ap.add_argument("--method", default="fusiondp")
    ap.add_argument("--epsilons", default="2")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--variants", default="baseline,proj:32,sched:linear_up")
    ap.add_argument("--data", type=Path, default=None, help="folder of the benchmark tables (default: $FUSIONDP_DATA or ../shared/data)")
    ap.add_argument("--out", help="append one JSON line per run here")
    ap.add_argument("--summarise", type=Path, help="print the tables of a results file and exit")
    a = ap.parse_args()
    if a.summarise:
        summarise(a.summarise)
    else:
        run_grid(a)


if __name__ == "__main__":
    main()
