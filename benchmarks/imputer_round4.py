"""Round 4 of issue 25 (item 3): which learners the default ensemble stacks, chosen on SUPPORT folds only.

For each scored sensitive column, every candidate learner (built by `EnsembleImputer._make` on the view it reads,
so the settings are the imputer's own) is fitted on 2 of 3 support folds and predicts the third; this is repeated
for two fold seeds. Single learners are scored on their out-of-fold predictions (R² for numeric columns, accuracy
for categorical ones). A *stack* is scored honestly: its blend (the imputer's rule: non-negative least squares with
an intercept for numeric columns, the lowest-log-loss convex combination on a 0.1 grid for categorical ones) is
fitted on two thirds of the out-of-fold rows and scores the remaining third, over 3 splits (5 repeats for numeric
columns), so no stack is scored on the rows that chose its weights. No training row's sensitive value is read; the
training rows' public columns feed the feature maps (quantile map, contrasts), as in the imputer.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/imputer_round4.py                  # sepsis: Age, Gender
    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/imputer_round4.py --dataset adult --columns age,sex,marital
"""

from __future__ import annotations

import argparse
import itertools
import time
import warnings

import numpy as np
import pandas as pd
from scipy.optimize import nnls
from sklearn.model_selection import KFold, StratifiedKFold
from threadpoolctl import threadpool_limits

from fusiondp.bench.datasets import get_spec, resolve_data_dir
from fusiondp.impute import EnsembleImputer
from fusiondp.impute.ensemble import _LinearView
from fusiondp.impute.features import FeatureEncoder
from fusiondp.impute.targets import Task, column_kind

# candidate -> the imputer's learner name: "forest/raw" is the forest on the raw columns (round 3), "forest/linear"
# the same forest on the linear view (round 4's `forest_linear`).
CANDIDATES = {"hgb": "hgb", "forest/raw": "forest", "forest/linear": "forest_linear", "linear": "linear",
              "kernel": "kernel", "spline": "spline"}
STACKS = {
    "round-3 default (hgb, forest/raw, linear, kernel)": ["hgb", "forest/raw", "linear", "kernel"],
    "forest on the linear view": ["hgb", "forest/linear", "linear", "kernel"],
    "+ spline (forest/raw)": ["hgb", "forest/raw", "linear", "kernel", "spline"],
    "forest/linear + spline (hgb, forest/linear, linear, kernel, spline)": ["hgb", "forest/linear", "linear",
                                                                             "kernel", "spline"],
    "both forests (hgb, forest/raw, forest/linear, linear, kernel)": ["hgb", "forest/raw", "forest/linear", "linear",
                                                                      "kernel"],
    "both forests + spline": ["hgb", "forest/raw", "forest/linear", "linear", "kernel", "spline"],
}


def _num_blend(P: np.ndarray, y: np.ndarray, reps: int = 5) -> float:
    scores = []
    for r in range(reps):
        pred = np.zeros(len(y))
        for a, b in KFold(3, shuffle=True, random_state=100 + r).split(y):
            mu = P[a].mean(axis=0)
            w, _ = nnls(P[a] - mu, y[a] - y[a].mean())
            pred[b] = (P[b] - mu) @ w + y[a].mean()
        scores.append(1 - np.mean((y - pred) ** 2) / np.var(y))
    return float(np.mean(scores))


def _cat_weights(Ps: list[np.ndarray], y: np.ndarray) -> np.ndarray:
    best, best_loss = None, np.inf
    for g in itertools.product(range(11), repeat=len(Ps)):
        if sum(g) != 10:
            continue
        p = sum(gi / 10 * P for gi, P in zip(g, Ps))
        loss = -np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-6, 1.0)))
        if loss < best_loss - 1e-12:
            best, best_loss = np.array(g) / 10, loss
    return best


def _cat_blend(Ps: list[np.ndarray], y: np.ndarray, reps: int = 3) -> float:
    scores = []
    for r in range(reps):
        pred = np.zeros(len(y), dtype=int)
        for a, b in KFold(3, shuffle=True, random_state=100 + r).split(y):
            w = _cat_weights([P[a] for P in Ps], y[a])
            pred[b] = sum(wi * P[b] for wi, P in zip(w, Ps)).argmax(axis=1)
        scores.append(float(np.mean(pred == y)))
    return float(np.mean(scores))


def main() -> None:
    warnings.filterwarnings("ignore", category=UserWarning)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="sepsis")
    ap.add_argument("--columns", default="Age,Gender")
    ap.add_argument("--fold-seeds", default="0,1")
    ap.add_argument("--data-dir", default=None)
    a = ap.parse_args()
    spec = get_spec(a.dataset)
    frames = spec.frames(resolve_data_dir(a.data_dir))
    support, train, schema = frames["support"], frames["train"], spec.schema
    features = schema.public_columns(schema.public_view(support))
    enc = FeatureEncoder().fit(pd.concat([support[features], train[features]], ignore_index=True))
    Xs = enc.transform(support[features])
    Xall = np.vstack([Xs, enc.transform(train[features])])  # public columns only
    seeds = [int(s) for s in a.fold_seeds.split(",")]
    print(f"# {a.dataset}: {len(support)} support rows, {len(features)} public features, 3 folds, fold seeds {seeds}; "
          "support rows only")
    _limit = threadpool_limits(1)  # noqa: F841 (kept alive: one BLAS/OpenMP thread, as in the imputer)
    results: dict[str, dict[str, list[float]]] = {}
    for col in [c.strip() for c in a.columns.split(",")]:
        kind = column_kind(support[col], categorical=schema.categorical)
        task = Task(col, (col,), kind)
        known = support[col].notna().to_numpy()
        if kind == "numeric":
            y = support[col][known].to_numpy(dtype=float)
            k = 0
        else:
            classes, y = np.unique(support[col][known].astype(str), return_inverse=True)
            k = len(classes)
        names = [n for n in CANDIDATES if not (n == "kernel" and kind == "categorical")]
        for seed in seeds:
            oof = {}
            for name in names:
                learner = CANDIDATES[name]
                imp = EnsembleImputer(n_jobs=1)
                imp.encoder_ = enc
                imp._linear = _LinearView(Xall, enc.categorical_mask, imp.random_state, contrasts=imp.contrasts)
                imp._hgb_categorical = np.concatenate([enc.categorical_mask & (np.nan_to_num(
                    np.nanmax(Xall, axis=0, initial=0)) < 250), np.zeros(len(imp._linear.pairs), dtype=bool)])
                V = imp._view(learner, Xs[known])
                splits = (StratifiedKFold(3, shuffle=True, random_state=seed).split(y, y) if kind == "categorical"
                          else KFold(3, shuffle=True, random_state=seed).split(y))
                o = np.zeros(len(y)) if kind == "numeric" else np.zeros((len(y), k))
                t0 = time.perf_counter()
                for tr, te in splits:
                    model = imp._make(learner, task, len(tr), k).fit(V[tr], y[tr])
                    o[te] = imp._out(model, task, V[te], k)
                oof[name] = o
                score = (1 - np.mean((y - o) ** 2) / np.var(y) if kind == "numeric"
                         else float(np.mean(o.argmax(1) == y)))
                results.setdefault(f"{col}: {name} (single)", {}).setdefault("s", []).append(score)
                print(f"{col} seed {seed} {name}: {score:.4f} ({time.perf_counter() - t0:.1f} s)", flush=True)
            for stack, members in STACKS.items():
                members = [m for m in members if m in oof]
                score = (_num_blend(np.column_stack([oof[m] for m in members]), y) if kind == "numeric"
                         else _cat_blend([oof[m] for m in members], y))
                results.setdefault(f"{col}: {stack}", {}).setdefault("s", []).append(score)
                print(f"{col} seed {seed} stack {stack}: {score:.4f}", flush=True)
    print()
    print("| " + " | ".join(["candidate (support folds only)"] + [f"fold seed {s}" for s in seeds] + ["mean"]) + " |")
    print("|---|" + "---|" * (len(seeds) + 1))
    for name, r in results.items():
        print(f"| {name} | " + " | ".join(f"{v:.4f}" for v in r["s"]) + f" | {np.mean(r['s']):.4f} |")


if __name__ == "__main__":
    main()
