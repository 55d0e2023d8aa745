"""The blend learner (`--learner blend`) against its parts alone, at equal ε: design share choice, then test.

Every row trains what `fusiondp train --learner blend|trees|mlp --method fusiondp` trains at its defaults (release
guards included; the free baseline `sgd_hybrid` is trained once per seed and reused across ε and learners, as
`benchmarks/trees.py` does):

* ``blend``: `fusiondp.blend.fit_blend` (trees + network on the same records, composed ε = the target);
* ``trees``: the tree learner alone with the whole ε; ``mlp``: the network method `fusiondp` alone with the whole ε.

``--design`` chooses the trees' share of ε (``tree_share`` in src/fusiondp/blend/defaults.json) on design data
only: adult's validation split and the sepsis design holdout (20 % of the training records,
`benchmarks/learner_design.py`'s `design_data`). Without it, the table's fixed splits as `benchmarks/trees.py`
loads them, scored on val and test.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/blend.py --design --datasets adult,sepsis --epsilons 2,8 \\
        --seeds 0,1,2 --shares 0.3,0.7 --learners blend --out bench_out/blend_design.jsonl
    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/blend.py --datasets adult,sepsis --epsilons 0.5,1,2,4,8 \\
        --seeds 0,1,2,3,4 --out bench_out/blend_runs.jsonl
    # both in one process (the imputed hybrid tables are built once): design, the share with the best mean
    # design AUROC (datasets weighted equally), then the test grid with it
    ... --then-test --test-epsilons 0.5,1,2,4,8 --test-seeds 0,1,2 --test-out bench_out/blend_runs.jsonl

Prints a markdown table per dataset: mean ± std AUROC of each learner per ε (and share), on the scored split.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def load(name: str, data_dir: str | None, design: bool):
    """(prepared, encoded labelled support, scored split names): the design data or the table's fixed splits."""
    from learner_design import design_data

    if design:
        p, support = design_data(name, data_dir, 0, 0.2)
        return p, support, ("design",)
    from trees import spec_of

    from fusiondp.pipeline import prepare

    spec = spec_of(name, Path("bench_out"))
    fr = spec.load(data_dir, 0)
    p = prepare(fr["train"], fr["hybrid"], spec.schema, eval_frames={"val": fr["val"], "test": fr["test"]},
                support_df=fr["support"])
    target = p.pre.schema.target
    support = (p.pre.transform(fr["support"], what="support"), p.labels.transform(fr["support"][target], "support"))
    return p, support, ("val", "test")


def run_dataset(name: str, epsilons: list[float], seeds: list[int], shares: list[float | None], learners: list[str],
                data_dir: str | None, design: bool, out) -> list[dict]:
    from fusiondp.blend import fit_blend
    from fusiondp.evaluate.metrics import evaluate_splits
    from fusiondp.pipeline import support_tensors
    from fusiondp.privacy.accounting import epsilon_by_relation
    from fusiondp.train.config import TrainConfig
    from fusiondp.train.engine import train
    from fusiondp.trees import fit_trees
    from fusiondp.trees.guard import tree_release_guard
    from fusiondp.tune.baseline import release_guard, train_public_baseline

    p, support, splits = load(name, data_dir, design)
    mask = p.pre.sensitive_mask()
    cache: dict = {}
    rows = []
    for seed in seeds:
        baseline = train_public_baseline(p.data, TrainConfig(seed=seed))
        for eps in epsilons:
            cfg = TrainConfig(epsilon=eps, seed=seed)
            todo = [(lr, None) for lr in learners if lr != "blend"] + [("blend", s) for s in shares if "blend" in learners]
            for learner, share in todo:
                t = time.perf_counter()
                extra: dict = {}
                if learner == "blend":
                    result, section = fit_blend(p.data, mask, cfg, support=support, tree_share=share,
                                                baseline=baseline, public_stage=cache)
                    b = section
                    extra = {"tree_share": b["tree_share"], "weight": b["weight"], "tree_sigma": b["tree_sigma"],
                             "network_sigma": b["network_sigma"], "scale": b["scale"],
                             "epsilon_replace": b["epsilon_by_relation"]["replace"]["epsilon"],
                             "epsilon_parts_alone": b["epsilon_parts_alone"], "support_auroc": b["support_auroc"],
                             "released": {k: v["released"] for k, v in (b["release_guards"] or {}).items()}}
                elif learner == "trees":
                    result, _ = fit_trees("fusiondp", p.data, mask, cfg, support=support, public_stage=cache)
                    result, g, _ = tree_release_guard(result, p.data, support, baseline=baseline)
                    extra = {"released": g["released"]}
                else:
                    result = train("fusiondp", p.data, config=cfg, progress=False)
                    result, g, _ = release_guard(result, p.data, support_tensors(*support), baseline=baseline)
                    extra = {"released": g["released"]}
                if learner != "blend":
                    extra["epsilon_replace"] = epsilon_by_relation(result.plan, ("replace",))["replace"]["epsilon"]
                metrics = evaluate_splits(result.model, {k: p.eval_sets[k] for k in splits})
                row = {"dataset": name, "design": design, "learner": learner, "epsilon_target": eps, "seed": seed,
                       "epsilon": result.epsilon, **extra, **{k: metrics[k] for k in splits},
                       "seconds": time.perf_counter() - t, "n_train": p.data.n}
                rows.append(row)
                out.write(json.dumps(row) + "\n")
                out.flush()
                print(f"{name} {learner}{'' if share is None else f' share={share}'} eps={eps} seed={seed} "
                      + " ".join(f"{k} AUROC {metrics[k]['auroc']:.4f}" for k in splits)
                      + (f" w={extra['weight']}" if learner == "blend" else "") + f" {row['seconds']:.0f}s", flush=True)
    return rows


def table(rows: list[dict], split: str) -> str:
    """Markdown: ε | learner (share) | ε spent (remove) | ε (replace) | weight | `split` AUROC | seeds."""
    ms = lambda v: f"{statistics.mean(v):.4f} ± {statistics.stdev(v) if len(v) > 1 else 0.0:.4f}"
    out = [f"| ε | learner | ε spent (remove) | ε (replace) | weight on trees | {split} AUROC | seeds |",
           "|---|---|---|---|---|---|---|"]
    keys = sorted({(r["epsilon_target"], r["learner"], r.get("tree_share")) for r in rows},
                  key=lambda k: (k[0], k[1], k[2] or 0))
    for eps, learner, share in keys:
        g = [r for r in rows if (r["epsilon_target"], r["learner"], r.get("tree_share")) == (eps, learner, share)]
        w = f"{statistics.mean(r['weight'] for r in g):.2f}" if learner == "blend" else "–"
        name = f"blend (tree share {share:g})" if learner == "blend" else learner
        out.append(f"| {eps:g} | {name} | {max(r['epsilon'] for r in g):.3f} | "
                   f"{max(r['epsilon_replace'] for r in g):.3f} | {w} | {ms([r[split]['auroc'] for r in g])} | "
                   f"{len(g)} |")
    return "\n".join(out)


def gains(rows: list[dict], split: str) -> str:
    """Per ε: mean over seeds of blend − trees and blend − mlp (paired by seed), when all three ran."""
    out = []
    for eps in sorted({r["epsilon_target"] for r in rows}):
        by = lambda lr: {r["seed"]: r[split]["auroc"] for r in rows if r["epsilon_target"] == eps and r["learner"] == lr}
        b, t, m = by("blend"), by("trees"), by("mlp")
        seeds = sorted(set(b) & set(t) & set(m))
        if seeds:
            dt = statistics.mean(b[s] - t[s] for s in seeds)
            dm = statistics.mean(b[s] - m[s] for s in seeds)
            out.append(f"ε = {eps:g}: blend − trees {dt:+.4f}, blend − mlp {dm:+.4f} ({split}, {len(seeds)} seeds, paired)")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="adult,sepsis")
    ap.add_argument("--epsilons", default="0.5,1,2,4,8")
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--shares", default=None, help="trees' shares of ε to compare (default: defaults.json's)")
    ap.add_argument("--learners", default="blend,trees,mlp")
    ap.add_argument("--design", action="store_true", help="score on design data (adult val, sepsis holdout)")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--out", type=Path, default=Path("bench_out/blend_runs.jsonl"))
    ap.add_argument("--summarize", type=Path, default=None, help="print the tables of a runs .jsonl and exit")
    ap.add_argument("--then-test", action="store_true", help="after --design: the test grid with the chosen share")
    ap.add_argument("--test-epsilons", default="0.5,1,2,4,8")
    ap.add_argument("--test-seeds", default="0,1,2,3,4")
    ap.add_argument("--test-out", type=Path, default=Path("bench_out/blend_runs.jsonl"))
    args = ap.parse_args()
    if args.summarize:
        rows = [json.loads(line) for line in args.summarize.read_text().splitlines() if line.strip()]
        for name in dict.fromkeys(r["dataset"] for r in rows):
            g = [r for r in rows if r["dataset"] == name]
            for split in ("design",) if g[0]["design"] else ("val", "test"):
                print(f"\n### {name} ({split})\n\n" + table(g, split) + "\n" + gains(g, split))
        return
    shares = [float(s) for s in args.shares.split(",")] if args.shares else [None]
    floats = lambda v: [float(e) for e in v.split(",")]
    ints = lambda v: [int(e) for e in v.split(",")]
    design_rows = {}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("a") as out:
        for name in args.datasets.split(","):
            rows = design_rows[name] = run_dataset(name, floats(args.epsilons), ints(args.seeds), shares,
                                                   args.learners.split(","), args.data_dir, args.design, out)
            for split in ("design",) if args.design else ("val", "test"):
                print(f"\n### {name} ({split})\n\n" + table(rows, split) + "\n", flush=True)
    if not (args.design and args.then_test):
        return
    score = {s: statistics.mean(statistics.mean(r["design"]["auroc"] for r in rows
                                                 if r["learner"] == "blend" and r["tree_share"] == s)
                                 for rows in design_rows.values()) for s in shares}
    share = max(score, key=lambda s: (score[s], -shares.index(s)))
    print("design AUROC by tree share (mean over datasets): "
          + ", ".join(f"{s:g}: {v:.4f}" for s, v in score.items()) + f" -> {share:g}", flush=True)
    args.test_out.parent.mkdir(parents=True, exist_ok=True)
    with args.test_out.open("a") as out:
        for name in args.datasets.split(","):
            rows = run_dataset(name, floats(args.test_epsilons), ints(args.test_seeds), [share],
                               ["blend", "trees", "mlp"], args.data_dir, False, out)
            for split in ("val", "test"):
                print(f"\n### {name} ({split})\n\n" + table(rows, split) + "\n", flush=True)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
