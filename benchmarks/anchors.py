"""External anchors (issue 16 item 7): interpret's EBM and DP-EBM on the benchmark's splits.

Appends one record per (anchor, ε, seed) to a JSONL file in the bench runner's record shape (phase "bench";
`ebm` is non-private and runs once per seed), skipping the keys already in the file, so a killed run resumes.
Needs the benchmark-only extra: ``pip install "fusiondp[anchors]"``.

    OMP_NUM_THREADS=1 python benchmarks/anchors.py --dataset sepsis --data-dir ../shared/data \
        --seeds 0,1,2,3,4 --epsilons 0.5,1,2,4,8 --out bench_out/anchors_sepsis.jsonl

See `fusiondp.bench.anchors` for what each anchor reads (DP-EBM: the record-level encoding fitted on the
public support set, feature bounds from the support set only) and the neighbouring relation DP-EBM is
calibrated for.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import time
from importlib.metadata import version
from pathlib import Path

from fusiondp.bench.anchors import ANCHORS, anchor_inputs, run_anchor
from fusiondp.bench.runner import EPSILONS, load_records


def _key(rec: dict) -> tuple:
    eps = rec.get("epsilon")
    return (rec.get("phase", "bench"), rec["dataset"], rec["method"], None if eps is None else float(eps),
            int(rec["seed"]))


def _append(path: Path, rec: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fh.write(json.dumps(rec, default=float) + "\n")


def run(dataset: str, data_dir: str | None, seeds: list[int], epsilons: list[float], anchors: list[str],
        out: Path, command: str) -> list[dict]:
    """Run every missing (anchor, ε, seed) of the grid; returns the new records."""
    done = {_key(r) for r in load_records(out)}
    new = []
    for seed in seeds:
        todo = [(a, e) for a in anchors for e in ([None] if a == "ebm" else epsilons)
                if ("bench", dataset, a, e, seed) not in done]
        if not todo:
            continue
        bench, public = anchor_inputs(dataset, data_dir, seed)
        for name, eps in todo:
            rec = run_anchor(name, bench, eps, seed, dataset=dataset, public=public)
            view = bench.record_level if name == "dp_ebm" else bench
            rec.update(phase="bench", info=view.info, command=command, fusiondp_version=version("fusiondp"),
                       finished=time.strftime("%Y-%m-%dT%H:%M:%S"))
            _append(out, rec)
            new.append(rec)
            label = f"{name} ε={eps:g}" if eps is not None else name
            print(f"seed {seed} {label}: test AUROC {rec['test'].get('auroc', float('nan')):.4f} "
                  f"({rec['seconds']:.1f} s)", flush=True)
    return new


def summary(records: list[dict], metric: str = "auroc") -> str:
    """Mean ± std of test `metric` per (dataset, anchor, ε), as a markdown table."""
    groups: dict[tuple, list[float]] = {}
    for r in records:
        if r.get("phase", "bench") == "bench" and r["method"] in ANCHORS and metric in r.get("test", {}):
            groups.setdefault((r["dataset"], r["method"], r["epsilon"]), []).append(r["test"][metric])
    lines = [f"| dataset | anchor | ε | n | test {metric} |", "|---|---|---|---|---|"]
    for (ds, m, e), v in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or 0)):
        sd = statistics.stdev(v) if len(v) > 1 else 0.0
        lines.append(f"| {ds} | `{m}` | {'—' if e is None else f'{e:g}'} | {len(v)} | "
                     f"{statistics.mean(v):.4f} ± {sd:.4f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", help="a registered tabular dataset with a support set (sepsis, adult)")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--epsilons", default=",".join(f"{e:g}" for e in EPSILONS))
    ap.add_argument("--anchors", default=",".join(ANCHORS))
    ap.add_argument("--out", type=Path, help="the JSONL results file (appended to)")
    ap.add_argument("--summary", nargs="*", type=Path, help="print the summary table of these files and exit")
    args = ap.parse_args(argv)
    if args.summary:
        print(summary([r for p in args.summary for r in load_records(p)]))
        return
    if not args.dataset or not args.out:
        ap.error("--dataset and --out are required (or --summary FILES)")
    import torch

    torch.set_num_threads(1)
    command = "python benchmarks/anchors.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    run(args.dataset, args.data_dir, [int(s) for s in args.seeds.split(",")],
        [float(e) for e in args.epsilons.split(",")], args.anchors.split(","), args.out, command)
    print(summary(load_records(args.out)))


if __name__ == "__main__":
    main()
