"""Design probe for the tree learner's private stage: variants scored on a DESIGN holdout, never on test.

Sepsis's val.csv is its public support set (the method reads it), so it cannot judge a design: here a fixed
20 % of sepsis's training records (permutation `numpy.random.default_rng(--split-seed)`) is held out, the
rest (with their aligned hybrid rows) trains, and the variants are scored on the held-out records' original
rows. Adult is scored on its own validation split (independent of its support set). Test is never loaded
into a score here.

    python benchmarks/learner_design.py --datasets sepsis,adult --epsilons 2,8 --seeds 0,1 \\
        --variants '{"base": {}, "k4": {"structure_candidates": 4}}'

Prints design AUROC mean ± std per variant and ε (and appends JSON rows to --out).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path


def design_data(name: str, data_dir: str | None, split_seed: int, holdout: float):
    """(prepared, support, design-eval name): sepsis with a held-out slice of train, adult with its val split."""
    import numpy as np

    from fusiondp.bench.datasets import get_spec
    from fusiondp.pipeline import prepare

    spec = get_spec(name)
    fr = spec.load(data_dir, 0)
    train, hybrid = fr["train"], fr["hybrid"]
    if name == "sepsis":
        perm = np.random.default_rng(split_seed).permutation(len(train))
        k = int(round(holdout * len(train)))
        held, keep = np.sort(perm[:k]), np.sort(perm[k:])
        evals = {"design": train.iloc[held].reset_index(drop=True)}
        train, hybrid = train.iloc[keep].reset_index(drop=True), hybrid.iloc[keep].reset_index(drop=True)
    else:
        evals = {"design": fr["val"]}
    p = prepare(train, hybrid, spec.schema, eval_frames=evals, support_df=fr["support"])
    target = p.pre.schema.target
    support = (p.pre.transform(fr["support"], what="support"), p.labels.transform(fr["support"][target], "support"))
    return p, support


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="sepsis")
    ap.add_argument("--epsilons", default="2")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--variants", default='{"base": {}}', help="JSON: name -> tree settings over the defaults")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--split-seed", type=int, default=0)
    ap.add_argument("--holdout", type=float, default=0.2)
    ap.add_argument("--out", type=Path, default=Path("bench_out/learner_design.jsonl"))
    ap.add_argument("--keep-all", action="store_true",
                    help="probe only: the guard keeps every private tree (prefix choice off; guard_z still applies)")
    ap.add_argument("--noise-free", action="store_true",
                    help="σ = 0 (ε = ∞): what the structures alone allow; not a private run")
    args = ap.parse_args()

    from fusiondp.evaluate.metrics import evaluate_splits
    from fusiondp.train.config import TrainConfig
    from fusiondp.trees import fit_trees

    variants = json.loads(args.variants)
    if args.keep_all:  # probe of the guard's prefix choice: release every private tree
        import fusiondp.trees.learner as tl

        tl.private_prefix = lambda losses: len(losses) - 1
    cfg = lambda e, seed: (TrainConfig(epsilon=None, noise_multiplier=0.0, seed=seed) if args.noise_free
                           else TrainConfig(epsilon=e, seed=seed))
    eps = [float("inf")] if args.noise_free else [float(e) for e in args.epsilons.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for name in args.datasets.split(","):
        p, support = design_data(name, args.data_dir, args.split_seed, args.holdout)
        cache: dict = {}
        scores: dict = {}
        for vname, settings in variants.items():
            for e in eps:
                for seed in seeds:
                    t = time.perf_counter()
                    res, info = fit_trees("fusiondp", p.data, p.pre.sensitive_mask(), cfg(e, seed),
                                          support=support, settings=settings or None, public_stage=cache)
                    m = evaluate_splits(res.model, p.eval_sets)["design"]
                    scores.setdefault((vname, e), []).append(m["auroc"])
                    row = {"dataset": name, "variant": vname, "settings": settings, "epsilon": e, "seed": seed,
                           "design_auroc": m["auroc"], "kept": info["private_trees_released"],
                           "noise_std": info["noise_std"], "seconds": time.perf_counter() - t}
                    with args.out.open("a") as f:
                        f.write(json.dumps(row) + "\n")
                    print(f"{name} {vname} eps={e:g} seed={seed} design AUROC {m['auroc']:.4f} "
                          f"kept {info['private_trees_released']} σC {info['noise_std']:.2f} {row['seconds']:.0f}s",
                          flush=True)
        print(f"\n{name}: design AUROC (mean ± sd over seeds {args.seeds})")
        for (vname, e), v in scores.items():
            sd = statistics.stdev(v) if len(v) > 1 else 0.0
            print(f"  {vname:>12} ε={e:<4g} {statistics.mean(v):.4f} ± {sd:.4f}")


if __name__ == "__main__":
    main()
