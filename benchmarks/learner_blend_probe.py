"""Probe (design holdout only): would averaging the tree release with the MLP `fusiondp` release help?

An upper bound, not an admissible method: both models get the WHOLE ε (an accounted blend would have to
split it), and the blend weight is scanned. If even this adds little, an accounted split cannot add more.
Scores on the sepsis design holdout of `benchmarks/learner_design.py` (20 % of training records, never
test) and on the support set (what a public weight choice would read).

    python benchmarks/learner_blend_probe.py --epsilon 2 --seed 0 \\
        --tree-settings '{"structure_row_fraction": 0.5, "structure_col_fraction": 0.5, "public_features": "public",
        "private_start_trees": 10000}'   # the settings of the run quoted in docs/results/learners.md
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epsilon", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seeds", default=None, help="comma list; overrides --seed (one data load for all)")
    ap.add_argument("--tree-epsilon", type=float, default=None,
                    help="the trees' ε (default --epsilon); with --mlp-epsilon a stand-in for a budget split")
    ap.add_argument("--mlp-epsilon", type=float, default=None, help="the MLP's ε (default --epsilon)")
    ap.add_argument("--mlp-method", default="fusiondp", choices=("fusiondp", "sgd_hybrid"),
                    help="sgd_hybrid: the free MLP on the hybrid rows (ε = 0), a blend that costs no budget")
    ap.add_argument("--tree-settings", default="{}")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--dataset", default="sepsis", help="sepsis (design holdout) or adult (validation split)")
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import torch
    from learner_design import design_data
    from sklearn.metrics import roc_auc_score

    from fusiondp.evaluate.metrics import predict_scores
    from fusiondp.train.config import TrainConfig
    from fusiondp.train.engine import train
    from fusiondp.trees import fit_trees

    p, (xs, ys) = design_data(args.dataset, args.data_dir, 0, 0.2)
    x, y = p.eval_sets["design"]
    xs = torch.as_tensor(xs, dtype=torch.float32)
    ys = ys.numpy() if hasattr(ys, "numpy") else np.asarray(ys)
    te = args.tree_epsilon if args.tree_epsilon is not None else args.epsilon
    me = args.mlp_epsilon if args.mlp_epsilon is not None else args.epsilon
    logit = lambda s: np.log(np.clip(s, 1e-7, 1 - 1e-7) / np.clip(1 - s, 1e-7, 1))
    weights = (0, .2, .4, .5, .6, .7, .8, .9, 1)
    seeds = [int(v) for v in args.seeds.split(",")] if args.seeds else [args.seed]
    for seed in seeds:
        t = time.perf_counter()
        if args.mlp_method == "sgd_hybrid":
            from fusiondp.tune.baseline import train_public_baseline

            mlp, me = train_public_baseline(p.data, TrainConfig(seed=seed)), 0.0
        else:
            mlp = train("fusiondp", p.data, config=TrainConfig(epsilon=me, seed=seed), progress=False)
        print(f"seed {seed}: MLP {args.mlp_method} (ε = {me:g}) trained in {time.perf_counter() - t:.0f} s", flush=True)
        trees, _ = fit_trees("fusiondp", p.data, p.pre.sensitive_mask(), TrainConfig(epsilon=te, seed=seed),
                             support=(xs.numpy(), ys), settings=json.loads(args.tree_settings))
        if trees.plan is not None and mlp.plan is not None:  # what one accountant says of both runs together
            from fusiondp.privacy.accounting import _accountant, training_event

            acc = _accountant("pld", trees.plan.relation)
            for pl in (trees.plan, mlp.plan):
                acc.compose(training_event(pl.noise_multiplier, pl.sample_rate, pl.steps))
            print(f"seed {seed}: trees ε {trees.epsilon:.3f} + MLP ε {mlp.epsilon:.3f}, composed in one PLD "
                  f"accountant: ε {acc.get_epsilon(trees.plan.delta):.3f} at δ = {trees.plan.delta:g}", flush=True)
        a, b = logit(predict_scores(trees.model, x)), logit(predict_scores(mlp.model, x))
        sa, sb = logit(predict_scores(trees.model, xs)), logit(predict_scores(mlp.model, xs))
        design = [roc_auc_score(y.numpy(), w * a + (1 - w) * b) for w in weights]
        sup = [roc_auc_score(ys, w * sa + (1 - w) * sb) for w in weights]
        print(f"seed {seed}, trees ε = {te:g}: weight on trees | design AUROC | support AUROC")
        for w, d, s_ in zip(weights, design, sup):
            print(f"{w:.1f} | {d:.4f} | {s_:.4f}")
        k = int(np.argmax(sup))
        print(f"seed {seed}: trees alone {design[-1]:.4f}; weight chosen on support {weights[k]:.1f} -> design "
              f"{design[k]:.4f} ({design[k] - design[-1]:+.4f})", flush=True)

if __name__ == "__main__":
    main()
