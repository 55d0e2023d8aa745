"""Where the tree learner's accuracy limit lies (issue 25): non-private ceilings of the same core, and the
tree pipeline with the noise switched off, next to the private default run.

Rows (test AUROC; every model is early-stopped on the public support set where one is named):

* ``GBDT original rows, all columns`` -- our booster, non-private, on the *original* training rows (reads
  every true sensitive value: a ceiling, never a release);
* ``GBDT hybrid rows, all columns`` / ``public columns`` -- the free public stage with and without the
  imputed sensitive columns;
* ``GBDT support rows only`` -- the labelled public support set alone (no early stopping: nothing left);
* ``fusiondp_trees, no noise`` -- the default tree pipeline with noise multiplier 0 (ε = ∞): what the
  design reaches at all;
* ``fusiondp_trees, ε = E`` -- the default release, seed 0.

    python benchmarks/trees_ceiling.py --datasets sepsis,adult --data-dir ../shared/data

The same defaults rule and the same `fusiondp.pipeline.prepare` as `fusiondp train --learner trees`.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def rows_for(name: str, data_dir: str | None, epsilon: float):
    """Yield (model, test AUROC, trees) rows as they are computed."""
    from fusiondp.evaluate.metrics import evaluate_splits
    from fusiondp.pipeline import prepare
    from fusiondp.train.config import TrainConfig
    from fusiondp.trees import fit_trees
    from trees import spec_of

    spec = spec_of(name, Path("bench_out"))
    fr = spec.load(data_dir, 0)
    p = prepare(fr["train"], fr["hybrid"], spec.schema, eval_frames={"val": fr["val"], "test": fr["test"]},
                support_df=fr["support"])
    target = p.pre.schema.target
    xs = p.pre.transform(fr["support"], what="support")
    ys = p.labels.transform(fr["support"][target], "support")
    support = (xs, ys)
    mask = p.pre.sensitive_mask()
    test = lambda r: evaluate_splits(r.model, p.eval_sets)["test"]["auroc"]
    free = TrainConfig(epsilon=None)

    def public_stage(data, features, sup, label):
        r, info = fit_trees("sgd_hybrid", data, mask, free, support=sup, settings={"public_features": features})
        return label, test(r), f"{info['public_trees']} trees"

    original = dataclasses.replace(p.data, x_hybrid=p.data.x)  # the 'public' stage fed the true rows
    yield public_stage(original, "all", support, "GBDT original rows, all columns (non-private ceiling)")
    yield public_stage(p.data, "all", support, "GBDT hybrid rows, all columns (free)")
    yield public_stage(p.data, "public", support, "GBDT hybrid rows, public columns only (free)")
    import numpy as np
    import torch

    xs_t = torch.tensor(np.asarray(xs), dtype=p.data.x.dtype)
    sup_only = dataclasses.replace(p.data, x=xs_t, x_hybrid=xs_t, x_noise=None, x_reference=None,
                                   y=torch.tensor(np.asarray(ys), dtype=p.data.y.dtype))
    yield public_stage(sup_only, "all", None, "GBDT support rows only, all columns (free, no early stopping)")
    for label, cfg in [("fusiondp_trees, no noise (σ = 0, ε = ∞)", TrainConfig(epsilon=None, noise_multiplier=0.0)),
                       (f"fusiondp_trees, ε = {epsilon:g} (seed 0)", TrainConfig(epsilon=epsilon, seed=0))]:
        r, info = fit_trees("fusiondp", p.data, mask, cfg, support=support)
        yield (label, test(r), f"{info['public_trees']} public + {info['private_trees_released']}/"
                               f"{info['private_trees_trained']} private trees")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="sepsis,adult")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--epsilon", type=float, default=2.0)
    args = ap.parse_args()
    for name in args.datasets.split(","):
        print(f"\n### {name}\n\n| model | test AUROC | trees |\n|---|---|---|")
        for label, auc, trees in rows_for(name, args.data_dir, args.epsilon):
            print(f"| {label} | {auc:.3f} | {trees} |", flush=True)


if __name__ == "__main__":
    main()
