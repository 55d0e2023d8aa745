"""Numeric encodings (standard / quantile / ple) and non-private settings on the bench tables.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/encodings.py --datasets sepsis,adult --seeds 0,1,2 \
        --encodings standard,quantile,ple --methods sgd_ori,dpsgd,fusiondp --epsilons 1,4
    PYTHONPATH=src python benchmarks/encodings.py --table --datasets adult --seeds 0,1   # tables of the runs file

Data: the bench's own preparation (`fusiondp.bench.tabular.tabular_dataset` over the spec of
`fusiondp.bench.datasets`, i.e. what `get_dataset(name).prepare` does), with the encoding set through
`fusiondp.data.preprocess.use_representation`; each seed's frames (and Adult's imputation) are loaded once
and encoded three times. Feature-level methods get preprocessing fitted on the hybrid table (sensitive
columns on support ∪ hybrid), `dpsgd` on the support set only, as in the bench.

Settings: the defaults rule (`TrainConfig()` resolved by `fusiondp.train.defaults.auto_settings`) with the
bench runner's batch caps, δ = 1e-5; `--candidates` adds overrides for the non-private methods only (item 3
of issue 16: their settings are public and may be selected on validation). Every run is scored on
validation (which decides) and test (reported). One JSON line per run is appended to `--out`; finished
runs are skipped, so an interrupted command can be rerun.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from fusiondp.bench.datasets import get_spec, resolve_data_dir
from fusiondp.bench.tabular import tabular_dataset
from fusiondp.data.preprocess import Representation, use_representation
from fusiondp.evaluate.metrics import evaluate_splits
from fusiondp.train.config import TrainConfig
from fusiondp.train.engine import train
from fusiondp.train.methods import get_method

ROOT = Path(__file__).resolve().parents[1]
DATA = resolve_data_dir()  # $FUSIONDP_DATA or ../shared/data
OUT = ROOT / "docs" / "results" / "encodings_runs.jsonl"
DELTA = 1e-5
#: Overrides tried for the non-private methods ('rule' = the defaults rule as it stands).
CANDIDATES = {
    "rule": {},
    "pb128": {"public_batch_size": 128},
    "pb512": {"public_batch_size": 512},
    "adam": {"optimizer": "adam", "lr": 1e-3},
    "adam_pb512": {"optimizer": "adam", "lr": 1e-3, "public_batch_size": 512},
    "e4": {"epochs": 4},
}


class _Cached:
    """A bench spec whose `load` is computed once per (data dir, seed) (the encodings share the frames)."""

    def __init__(self, spec) -> None:
        self.spec, self.name, self.schema = spec, spec.name, spec.schema
        self.description = getattr(spec, "description", "")

    @functools.lru_cache(maxsize=1)
    def load(self, data_dir, seed):
        return self.spec.load(data_dir, seed)


@functools.lru_cache(maxsize=None)
def _entry(name: str):

    return tabular_dataset(_Cached(get_spec(name)))


def _key(r: dict) -> tuple:
    return (r["dataset"], r["encoding"], r.get("bins"), r["method"], r["epsilon"], r["seed"], r["candidate"])


def _one(bench, method: str, epsilon: float | None, seed: int, overrides: dict) -> dict:
    """As `fusiondp.bench.runner._one_run`: defaults rule, batch caps, val and test scores."""
    if get_method(method).needs_public_preprocessing:
        bench = bench.record_level
    cfg = TrainConfig(**overrides, seed=seed, delta=DELTA, epsilon=epsilon)
    n = bench.data.n
    cfg = cfg.resolve(n_rows=n, n_features=int(bench.data.x.shape[1]), method=method)
    cfg = replace(cfg, batch_size=min(cfg.batch_size, max(1, n // 4)), public_batch_size=min(cfg.public_batch_size, n))
    res = train(method, bench.data, config=cfg, val=bench.val if not get_method(method).is_private else None,
                progress=False)
    scores = evaluate_splits(res.model, {"val": bench.val, "test": bench.test})
    return {"n_features": int(bench.data.x.shape[1]), "steps": res.steps, "seconds": round(res.seconds, 1),
            "config": {k: v for k, v in res.config.to_dict().items()
                       if k in ("epochs", "batch_size", "public_batch_size", "lr", "optimizer", "clip", "alpha")},
            "val_auroc": scores["val"]["auroc"], "test_auroc": scores["test"]["auroc"],
            "val_curve": [round(h["val"]["auroc"], 4) for h in res.history if "val" in h]}


def run(args) -> None:
    torch.set_num_threads(1)
    out = Path(args.out)
    done = {_key(json.loads(line)) for line in out.read_text().splitlines() if line.strip()} if out.exists() else set()
    for name in args.datasets.split(","):
        for seed in map(int, args.seeds.split(",")):
            for enc in args.encodings.split(","):
                rep = Representation(numeric=enc, bins=args.bins)
                bins = args.bins if enc == "ple" else None
                todo = []
                for method in args.methods.split(","):
                    private = get_method(method).is_private
                    for eps in (map(float, args.epsilons.split(",")) if private else [None]):
                        for cand in (["rule"] if private else args.candidates.split(",")):
                            rec = {"dataset": name, "encoding": enc, "bins": bins, "method": method, "epsilon": eps,
                                   "seed": seed, "candidate": cand}
                            if _key(rec) not in done:
                                todo.append(rec)
                if not todo:
                    continue
                with use_representation(rep):
                    bench = _entry(name).prepare(DATA, seed)
                for rec in todo:
                    t0 = time.perf_counter()
                    rec.update(_one(bench, rec["method"], rec["epsilon"], seed, CANDIDATES[rec["candidate"]]))
                    rec["wall"] = round(time.perf_counter() - t0, 1)
                    with out.open("a") as f:
                        f.write(json.dumps(rec) + "\n")
                    print(json.dumps({k: v for k, v in rec.items() if k != "val_curve"}), flush=True)


def table(args) -> None:
    """Mean ± std over seeds of validation and test AUROC, per dataset, method, ε, encoding, candidate."""
    seeds, names = set(map(int, args.seeds.split(","))), set(args.datasets.split(","))
    rows = [r for line in Path(args.out).read_text().splitlines() if line.strip()
            for r in [json.loads(line)] if r["seed"] in seeds and r["dataset"] in names]
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        enc = r["encoding"] + (f"({r['bins']})" if r.get("bins") else "")
        groups.setdefault((r["dataset"], r["method"], r["epsilon"] or 0.0, r["candidate"], enc), []).append(r)

    def ms(v: list[float]) -> str:
        return f"{statistics.mean(v):.3f} ± {statistics.stdev(v):.3f}" if len(v) > 1 else f"{v[0]:.3f}"

    print("| dataset | method | ε | settings | encoding | features | seeds | val AUROC | test AUROC |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (ds, m, eps, cand, enc), rs in sorted(groups.items()):
        print(f"| {ds} | `{m}` | {format(eps, 'g') if eps else '—'} | {cand} | {enc} | {rs[0]['n_features']} | {len(rs)} | "
              f"{ms([r['val_auroc'] for r in rs])} | {ms([r['test_auroc'] for r in rs])} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="sepsis,adult")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--encodings", default="standard,quantile,ple")
    ap.add_argument("--bins", type=int, default=16)
    ap.add_argument("--methods", default="sgd_ori,dpsgd,fusiondp")
    ap.add_argument("--epsilons", default="1,4")
    ap.add_argument("--candidates", default="rule", help=f"non-private overrides: {', '.join(CANDIDATES)}")
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--table", action="store_true", help="print the tables of --out and exit")
    args = ap.parse_args(argv)
    table(args) if args.table else run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
