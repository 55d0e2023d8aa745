"""Issue 16 items 5-6: does the per-column fallback (and the chained imputation) help the hybrid?

For each table the hybrid is built twice from the same public support set:

- ``off``: ``make_hybrid(fallback="off", joint="off")``: every column imputed on its own and kept (the
  behaviour before issue 16);
- ``auto``: the defaults, ``fallback="auto", joint="auto"``: chained imputation, skill cross-fitted on
  the support set, columns no better than their marginal replaced by support-marginal draws.

Each hybrid is encoded with `fusiondp.pipeline.prepare` (as `fusiondp bench` does) and trained with
`sgd_hybrid`, `sgd_pub` and `fusiondp` (defaults rule, ε ∈ {1, 4}) for 3 seeds; test AUROC is recorded.
The unseen-combination rate (share of hybrid rows whose imputed categorical combination never occurs in
the support set) is recorded for both hybrids. Tables:

- ``adult``: `fusiondp.bench.datasets.get_spec("adult")` (512 support rows, 20,755 training rows);
- ``icu_noise``: `fusiondp.data.synthetic.make_icu(seed=0)` (800 support rows, 6,000 training rows) with two
  extra sensitive columns that no public column predicts: ``score`` (N(0, 1)) and ``flag`` (3 levels),
  independent of everything else, the label included.

Usage: OMP_NUM_THREADS=1 python benchmarks/imputer_fallback.py run --only icu_noise --out docs/results/imputer_fallback_icu.jsonl
       OMP_NUM_THREADS=1 python benchmarks/imputer_fallback.py run --only adult --seeds 0 --out docs/results/imputer_fallback_adult.jsonl
       python benchmarks/imputer_fallback.py report docs/results/imputer_fallback_*.jsonl
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from fusiondp.bench.datasets import get_spec, resolve_data_dir
from fusiondp.data.schema import Schema
from fusiondp.data.synthetic import make_icu
from fusiondp.evaluate.metrics import classification_metrics, predict_scores
from fusiondp.impute import impute_hybrid
from fusiondp.pipeline import prepare
from fusiondp.train.config import TrainConfig
from fusiondp.train.engine import train

SEEDS = (0, 1, 2)
EPSILONS = (1.0, 4.0)
VARIANTS = {"off": dict(fallback="off", joint="off"), "auto": dict(fallback="auto", joint="auto")}
DATA = resolve_data_dir()  # $FUSIONDP_DATA or ../shared/data


def tables() -> dict[str, tuple[dict[str, pd.DataFrame], Schema]]:
    spec = get_spec("adult")
    out = {"adult": (spec.frames(DATA, 0), spec.schema)}
    icu = make_icu(seed=0)
    frames = {}
    for k, f in icu.frames.items():
        rng = np.random.default_rng(100 + len(f))
        frames[k] = f.assign(score=rng.normal(size=len(f)), flag=rng.choice(["p", "q", "r"], len(f), p=[.5, .3, .2]))
    sch = icu.schema
    out["icu_noise"] = (frames, Schema(sch.target, [*sch.sensitive, "score", "flag"], list(sch.drop)))
    return out


def unseen_rate(hybrid: pd.DataFrame, support: pd.DataFrame, cols: list[str]) -> float:
    """Share of hybrid rows whose combination of `cols` never occurs in the support set (public data only)."""
    seen = set(map(tuple, support[cols].astype(str).to_numpy()))
    return float(np.mean([tuple(r) not in seen for r in hybrid[cols].astype(str).to_numpy()]))


def run(out: Path, only: list[str] | None, seeds: tuple[int, ...] = SEEDS,
        variants: tuple[str, ...] = tuple(VARIANTS)) -> None:
    torch.set_num_threads(1)
    out.parent.mkdir(parents=True, exist_ok=True)
    for name, (f, schema) in tables().items():
        if only and name not in only:
            continue
        cat = [c for c in schema.sensitive if f["support"][c].dtype == object or str(f["support"][c].dtype)
               .startswith("str") or f["support"][c].nunique() <= 3]
        for variant, kw in VARIANTS.items():
            if variant not in variants:
                continue
            t0 = time.perf_counter()
            made = impute_hybrid(f["train"], f["support"], schema, random_state=0, progress=False, **kw)
            hyb = made.frame
            meta = {"kind": "hybrid", "dataset": name, "variant": variant, "seconds": time.perf_counter() - t0,
                    "categorical": cat, "unseen_combinations": unseen_rate(hyb, f["support"], cat),
                    "imputation": made.provenance}
            _write(out, meta)
            for seed in seeds:
                p = prepare(f["train"], hyb, schema, seed=seed, eval_frames={"val": f["val"], "test": f["test"]},
                            support_df=f["support"])
                xt, yt = p.eval_sets["test"]
                for method, eps in [("sgd_hybrid", None), ("sgd_pub", None)] + [("fusiondp", e) for e in EPSILONS]:
                    cfg = TrainConfig(seed=seed) if eps is None else TrainConfig(epsilon=eps, delta=1e-5, seed=seed)
                    res = train(method, p.data, config=cfg, val=p.eval_sets["val"], progress=False)
                    m = classification_metrics(yt.numpy(), predict_scores(res.model, xt))
                    _write(out, {"kind": "run", "dataset": name, "variant": variant, "method": method,
                                 "epsilon": eps, "seed": seed, "test_auroc": m["auroc"]})


def _write(path: Path, row: dict) -> None:
    with path.open("a") as fh:
        fh.write(json.dumps(row) + "\n")
    print(json.dumps(row)[:300], flush=True)


def report(paths: list[Path]) -> str:
    rows = [json.loads(x) for p in paths for x in p.read_text().splitlines() if x.strip()]
    lines = []
    for name in dict.fromkeys(r["dataset"] for r in rows):
        hy = {r["variant"]: r for r in rows if r["kind"] == "hybrid" and r["dataset"] == name}
        lines += [f"### {name}", "", "Skill cross-fitted on the support set (`auto` hybrid; "
                  f"{hy['auto']['imputation']['joint']}):", "",
                  "| task | kind | metric | imputer | marginal | skill | log-loss skill | hybrid holds |",
                  "|---|---|---|---|---|---|---|---|"]
        f = lambda v: "—" if v is None else f"{v:.3f}"  # noqa: E731
        for t in hy["auto"]["imputation"]["tasks"]:
            lines.append(f"| {t['task']} | {t['kind']} | {t['metric']} | {f(t['score'])} | {f(t['baseline'])} | "
                         f"{f(t['skill'])} | {f(t['logloss_skill'])} | "
                         f"{'support draws' if t['fallback'] else 'imputations'} |")
        cat = ", ".join(hy["auto"]["categorical"])
        lines += ["", f"Hybrid rows whose imputed combination of ({cat}) never occurs in the support set: "
                  f"off {hy['off']['unseen_combinations']:.1%}, auto {hy['auto']['unseen_combinations']:.1%}. "
                  f"Hybrid build time: off {hy['off']['seconds']:.0f} s, auto {hy['auto']['seconds']:.0f} s.", "",
                  "Test AUROC, mean ± sd over the seeds run under both variants:", "",
                  "| method | ε | off | auto | auto − off | seeds |", "|---|---|---|---|---|---|"]
        runs = [r for r in rows if r["kind"] == "run" and r["dataset"] == name]
        for method, eps in dict.fromkeys((r["method"], r["epsilon"]) for r in runs):
            by = {(r["variant"], r["seed"]): r["test_auroc"] for r in runs
                  if r["method"] == method and r["epsilon"] == eps}
            seeds = [s for s in sorted({r["seed"] for r in runs}) if all((v, s) in by for v in VARIANTS)]  # seeds run under both variants
            cell = {v: [by[(v, s)] for s in seeds] for v in VARIANTS}
            d = np.array(cell["auto"]) - np.array(cell["off"])
            ms = lambda a: f"{np.mean(a):.4f} ± {np.std(a, ddof=1) if len(a) > 1 else 0:.4f}"  # noqa: E731
            lines.append(f"| {method} | {'—' if eps is None else f'{eps:g}'} | {ms(cell['off'])} | "
                         f"{ms(cell['auto'])} | {np.mean(d):+.4f} | {len(seeds)} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--only", nargs="*")
    r.add_argument("--seeds", type=int, nargs="*", default=list(SEEDS))
    r.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    rep = sub.add_parser("report")
    rep.add_argument("paths", type=Path, nargs="+")
    a = ap.parse_args()
    if a.cmd == "run":
        run(a.out, a.only, tuple(a.seeds), tuple(a.variants))
    else:
        print(report(a.paths))
