"""Probe of the tree learner's private-prefix guard (issue 25 item 2): every private prefix scored, per variant.

For each table, ε, seed and settings variant, `fit_trees` runs with every private tree kept (the prefix choice
is replaced by "keep all" here only), and the support, validation and test AUROC of every prefix 0..rounds
(0 = the public stage) are recorded; the network's free baseline `sgd_hybrid` is trained per seed beside them.
The summary then shows what each choice rule would release: `pub` (no private tree), `all`, `argmin` (the
default: least support log-loss), `binary` (all or none, by support log-loss), and the MLP. Choose on the
validation columns, never on test.

    python benchmarks/trees_guard_probe.py --datasets fair --epsilons 0.5,2 --seeds 0,1,2 \\
        --variants '{"none": {"private_shrinkage": "none"}, "js": {"private_shrinkage": "james_stein"}}'
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="fair")
    ap.add_argument("--epsilons", default="0.5,2")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--variants", default='{"js": {"private_shrinkage": "james_stein"}}')
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--tables-dir", type=Path, default=Path("bench_out"))
    args = ap.parse_args()

    from sklearn.metrics import roc_auc_score

    import fusiondp.trees.guard as guard
    import fusiondp.trees.learner as learner
    from fusiondp.evaluate.metrics import predict_scores
    from fusiondp.pipeline import encode_support, prepare
    from fusiondp.train.config import TrainConfig
    from fusiondp.trees.booster import log_loss
    from fusiondp.tune.baseline import train_public_baseline
    from trees import spec_of

    captured = {}
    model_cls = learner.TreeEnsembleModel

    def capture(bins, trees, base):
        captured.update(bins=bins, trees=list(trees), base=base)
        return model_cls(bins, trees, base)

    learner.TreeEnsembleModel = capture
    guard.private_prefix = lambda losses: len(losses) - 1  # keep every private tree (this probe only)

    agg = defaultdict(list)
    for name in args.datasets.split(","):
        spec = spec_of(name, args.tables_dir)
        fr = spec.load(args.data_dir, 0)
        p = prepare(fr["train"], fr["hybrid"], spec.schema, eval_frames={"val": fr["val"], "test": fr["test"]},
                    support_df=fr["support"])
        sup = encode_support(p, fr["support"])
        splits = {"support": (sup[0], np.asarray(sup[1]))}
        splits.update({k: (p.eval_sets[k][0].numpy().astype(np.float64), p.eval_sets[k][1].numpy())
                       for k in ("val", "test")})
        seeds = [int(s) for s in args.seeds.split(",")]
        mlp = {}
        for s in seeds:
            m = train_public_baseline(p.data, TrainConfig(seed=s)).model
            mlp[s] = {k: roc_auc_score(y, predict_scores(m, torch.from_numpy(np.ascontiguousarray(x)).float()))
                      for k, (x, y) in splits.items()}
        for vname, settings in json.loads(args.variants).items():
            cache: dict = {}
            for eps in [float(e) for e in args.epsilons.split(",")]:
                for s in seeds:
                    _, info = learner.fit_trees("fusiondp", p.data, p.pre.sensitive_mask(),
                                                TrainConfig(epsilon=eps, seed=s), support=sup, public_stage=cache,
                                                settings=settings)
                    k_pub, auc, ll = info["public_trees"], {}, None
                    for k, (x, y) in splits.items():
                        b = captured["bins"].transform(x)
                        m = np.full(len(x), captured["base"])
                        ms = []
                        for i, (t, lr) in enumerate(captured["trees"]):
                            m = m + lr * t.predict(b)
                            if i + 1 >= k_pub:
                                ms.append(m.copy())
                        if k_pub == 0:
                            ms.insert(0, np.full(len(x), captured["base"]))
                        auc[k] = [roc_auc_score(y, q) for q in ms]
                        if k == "support":
                            ll = [log_loss(q, y.astype(float)) for q in ms]
                    n = len(ll) - 1
                    rules = {"pub": 0, "all": n, "argmin": int(np.argmin(ll)), "binary": n if ll[n] < ll[0] else 0}
                    for rule, k in rules.items():
                        for sp in ("val", "test"):
                            agg[(name, vname, eps, rule, sp)].append(auc[sp][k])
                    for sp in ("val", "test"):
                        agg[(name, vname, eps, "sgd_hybrid (MLP)", sp)].append(mlp[s][sp])
                    print(f"{name} {vname} eps={eps:g} seed={s}: kept by argmin {rules['argmin']}/{n}, test AUROC "
                          f"pub {auc['test'][0]:.4f} all {auc['test'][n]:.4f} argmin {auc['test'][rules['argmin']]:.4f}",
                          flush=True)
    print("\n| table | variant | ε | rule | val AUROC | test AUROC | seeds |\n|---|---|---|---|---|---|---|")
    for key in sorted({k[:4] for k in agg}):
        v, t = agg[key + ("val",)], agg[key + ("test",)]
        print(f"| {key[0]} | {key[1]} | {key[2]:g} | {key[3]} | {statistics.mean(v):.4f} | {statistics.mean(t):.4f} "
              f"| {len(v)} |")


if __name__ == "__main__":
    main()
