"""The tree learner on a 3-class target (docs/method.md §9, "Multiclass targets"): a small ad-hoc check.

No benchmark table has a multiclass target, so this generates one (not a claim about real data): public
columns x1…x4, a sensitive continuous `s1` and a sensitive binary `s2`; the class comes from a softmax of
class-specific linear scores in all six. The hybrid rows replace s1, s2 by a public guess (s1's
conditional mean given x1 and x2's threshold for s2: the kind of imputation a public model gives), so the
private rounds have something to correct. Train / labelled public support / test rows are independent
draws of the same generator.

For each seed (a fresh table and fresh secret noise) it runs the tree learner at its defaults rule, exactly
as `fusiondp train --learner trees` fits (prepare → fit_trees; the network's release guard is not run: this
compares the trees' own public stage and private release):

* `hybrid_trees` (the public stage alone, ε = 0),
* for reference only (not a release, no privacy): the same public-stage boosting on the TRUE training rows,
  an upper line for what imputation loses;
* `fusiondp_trees` at each ε (support-grown structures, one joint release per round of 3 trees,
  support-set prefix selection and the guard_z bar),

and prints the test macro AUROC mean ± std over seeds, with how many private trees were released.

    python benchmarks/trees_multiclass.py --epsilons 1,4,8 --seeds 0,1,2
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import numpy as np
import pandas as pd


def make_table(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(true rows, hybrid rows) of the generated 3-class table."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    s1 = 0.6 * x[:, 0] + 0.8 * rng.normal(size=n)
    s2 = (x[:, 1] + rng.normal(size=n) > 0).astype(int)
    w = np.array([[0.8, -0.5, 0.3, 0.0, 1.2, 0.9],
                  [-0.4, 0.6, 0.0, 0.5, -1.0, -0.8],
                  [0.0, 0.0, -0.4, -0.4, 0.2, 0.0]])
    scores = np.column_stack([x, s1, s2]) @ w.T
    p = np.exp(scores - scores.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    y = (rng.random(n)[:, None] > p.cumsum(1)).sum(1)
    true = pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "x3": x[:, 2], "x4": x[:, 3], "s1": s1, "s2": s2, "y": y})
    hybrid = true.assign(s1=0.6 * x[:, 0], s2=(x[:, 1] > 0).astype(int))
    return true, hybrid


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epsilons", default="1,4,8")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--train-rows", type=int, default=4000)
    ap.add_argument("--support-rows", type=int, default=1000)
    ap.add_argument("--test-rows", type=int, default=4000)
    args = ap.parse_args()

    import torch

    from fusiondp.data.schema import Schema
    from fusiondp.evaluate.metrics import classification_metrics, predict_scores
    from fusiondp.pipeline import encode_support, prepare
    from fusiondp.train.config import TrainConfig
    from fusiondp.trees import fit_trees

    epsilons = [float(e) for e in args.epsilons.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    schema = Schema("y", ["s1", "s2"])
    rows: dict[str, list[float]] = {}
    released: dict[str, list[int]] = {}
    for seed in seeds:
        n_tr, n_sup = args.train_rows, args.support_rows
        true, hybrid = make_table(n_tr + n_sup + args.test_rows, 1000 + seed)
        train, hyb = true.iloc[:n_tr].reset_index(drop=True), hybrid.iloc[:n_tr].reset_index(drop=True)
        support = true.iloc[n_tr:n_tr + n_sup].reset_index(drop=True)
        test = true.iloc[n_tr + n_sup:].reset_index(drop=True)
        p = prepare(train, hyb, schema, seed=seed, support_df=support)
        sup = encode_support(p, support)
        xt = torch.from_numpy(p.pre.transform(test, what="test", public_rows=True))
        yt = p.labels.transform(test["y"], "test")
        cache: dict = {}
        # reference only, not a release: the public stage's boosting on the TRUE training rows (no privacy)
        ceiling = dataclasses.replace(p.data, x_hybrid=p.data.x)
        runs = [("sgd_hybrid", None, p.data), ("sgd_hybrid", "true", ceiling)] + \
            [("fusiondp", e, p.data) for e in epsilons]
        for method, eps, data in runs:
            t0 = time.perf_counter()
            cfg = TrainConfig(epsilon=None if eps in (None, "true") else eps, seed=seed, accountant="rdp")
            r, info = fit_trees(method, data, p.pre.sensitive_mask(), cfg, support=sup,
                                public_stage=cache if data is p.data else None)
            m = classification_metrics(yt, predict_scores(r.model, xt))
            key = ("public stage (ε = 0)" if eps is None else
                   "reference: the same boosting on the true rows (no privacy, not a release)" if eps == "true" else
                   f"fusiondp_trees ε = {eps:g}")
            rows.setdefault(key, []).append(m["macro_auroc"])
            released.setdefault(key, []).append(info["private_trees_released"])
            print(f"seed {seed} {key}: test macro AUROC {m['macro_auroc']:.4f}, accuracy {m['accuracy']:.4f}, "
                  f"ε spent {r.epsilon:.4g}, private trees released {info['private_trees_released']} "
                  f"({time.perf_counter() - t0:.1f} s)", flush=True)
    print(f"\n| run | test macro AUROC (mean ± std, {len(seeds)} seeds) | private trees released per seed |")
    print("|---|---|---|")
    for key, vals in rows.items():
        sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
        print(f"| {key} | {statistics.mean(vals):.4f} ± {sd:.4f} | {', '.join(map(str, released[key]))} |")


if __name__ == "__main__":
    main()
