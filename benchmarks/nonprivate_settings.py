"""Validation AUROC of the non-private references under candidate settings (issue 26, defaults.json `public`).

Each candidate is a set of overrides of the benchmark's defaults-rule run (`fusiondp.bench.runner._one_run`,
settings "defaults"), trained for `sgd_ori` and `sgd_hybrid` on each seed's split; only the validation split is
scored (the choice is made on validation, never test). Non-private runs spend no budget.

Usage: PYTHONPATH=src python benchmarks/nonprivate_settings.py --dataset sepsis --seeds 0,1,2
           [--candidates sgd_e39,adam_e13_1e-2] [--data-dir ../shared/data] [--out runs.jsonl]
Prints one JSON line per run, then mean ± sd per candidate and method.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CANDIDATES = {
    "sgd_e39": dict(epochs=39, lr=0.3, optimizer="sgd"),  # the round-2 rule
    "sgd_e13": dict(epochs=13, lr=0.3, optimizer="sgd"),
    "sgd_e13_lr0.9": dict(epochs=13, lr=0.9, optimizer="sgd"),
    "sgd_mom0.9_e13_lr0.09": dict(epochs=13, lr=0.09, momentum=0.9, optimizer="sgd"),
    "sgd_mom0.9_e13_lr0.03": dict(epochs=13, lr=0.03, momentum=0.9, optimizer="sgd"),
    "adam_e13_3e-3": dict(epochs=13, lr=3e-3, optimizer="adam"),
    "adam_e13_1e-2": dict(epochs=13, lr=1e-2, optimizer="adam"),
    "adam_e13_1e-3": dict(epochs=13, lr=1e-3, optimizer="adam"),
    "adam_e39_1e-3": dict(epochs=39, lr=1e-3, optimizer="adam"),
    "rule": {},  # whatever the defaults rule gives now
}


def main() -> None:
    import torch

    from fusiondp.bench.registry import get_dataset
    from fusiondp.bench.runner import _one_run

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="sepsis")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--candidates", default="sgd_e39,sgd_e13,sgd_mom0.9_e13_lr0.09,adam_e13_1e-2,rule")
    ap.add_argument("--methods", default="sgd_ori,sgd_hybrid")
    ap.add_argument("--data-dir", default=os.environ.get("FUSIONDP_DATA", str(ROOT.parent / "shared" / "data")))
    ap.add_argument("--out", help="append each run's JSON line to this file")
    args = ap.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    ds = get_dataset(args.dataset)
    got: dict[tuple[str, str], list[float]] = {}
    for seed in (int(s) for s in args.seeds.split(",")):
        bench = ds.prepare(Path(args.data_dir), seed)
        for name in args.candidates.split(","):
            for method in args.methods.split(","):
                t0 = time.perf_counter()
                rec = _one_run(ds, bench, method, None, seed, CANDIDATES[name], with_test=False, settings="defaults")
                key = next(k for k in ("auroc", "macro_f1", "accuracy") if k in rec["val"])
                row = {"dataset": ds.name, "candidate": name, "method": method, "seed": seed, "metric": key,
                       "val": rec["val"][key], "steps": rec.get("steps"), "seconds": time.perf_counter() - t0}
                print(json.dumps(row), flush=True)
                if args.out:
                    with open(args.out, "a") as f:
                        f.write(json.dumps(row) + "\n")
                got.setdefault((name, method), []).append(row["val"])
    for (name, method), vals in got.items():
        sd = statistics.stdev(vals) if len(vals) > 1 else float("nan")
        print(f"{ds.name} {name:24s} {method:10s} val {statistics.mean(vals):.3f} ± {sd:.3f}  (n = {len(vals)})")


if __name__ == "__main__":
    main()
