"""Round 5 of issue 25: the `kernel_ridge` learner, chosen (or not) on SUPPORT folds only.

Same protocol as `benchmarks/imputer_round4.py` (whose blend scorers it imports): every candidate learner, built by
`EnsembleImputer._make` on the view it reads, is fitted on 2 of 3 support folds and predicts the third, for two fold
seeds; stacks are scored on rows that did not choose their blend weights. No training row's sensitive value is read;
the training rows' public columns feed the feature maps (quantile map, contrasts), as in the imputer.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/imputer_round5.py                      # sepsis: Age, Gender
    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/imputer_round5.py --columns HospAdmTime,ICULOS
    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/imputer_round5.py --dataset adult --columns age,sex,marital
    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/imputer_round5.py --transductive --columns Age
    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/imputer_round5.py --relevance-power 0   # no relevance weights

``--transductive`` scores two uses of the training rows' PUBLIC columns (free under the feature-level claim) on
the same support folds, single learners, numeric columns: (a) k-means on the linear view of all public rows
(support + training), the distances to its centres appended as features; (b) self-training: a teacher (mean of the
boosting and kernel-ridge learners, fitted on the fold's support rows) labels a seeded sample of training rows from
their public columns, and a student boosting learner fitted on support + pseudo-labelled rows joins the teacher
(equal weights). Neither reads a training row's sensitive value.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.cluster import MiniBatchKMeans
from sklearn.model_selection import KFold, StratifiedKFold
from threadpoolctl import threadpool_limits

from fusiondp.bench.datasets import get_spec, resolve_data_dir
from fusiondp.impute import EnsembleImputer
from fusiondp.impute import ensemble
from fusiondp.impute.ensemble import _LinearView, constants
from fusiondp.impute.features import FeatureEncoder
from fusiondp.impute.targets import Task, column_kind
from imputer_round4 import _cat_blend, _num_blend

CANDIDATES = ("hgb", "forest", "forest_linear", "linear", "kernel", "spline", "kernel_ridge")
STACKS = {
    "default (hgb, forest, linear, kernel)": ["hgb", "forest", "linear", "kernel"],
    "default + kernel_ridge": ["hgb", "forest", "linear", "kernel", "kernel_ridge"],
    "default + kernel_ridge, no SVR kernel": ["hgb", "forest", "linear", "kernel_ridge"],
    "round-4 option (hgb, forest, forest_linear, linear, kernel, spline)": ["hgb", "forest", "forest_linear",
                                                                           "linear", "kernel", "spline"],
    "round-4 option + kernel_ridge": ["hgb", "forest", "forest_linear", "linear", "kernel", "spline", "kernel_ridge"],
}


TRANSDUCTIVE_CLUSTERS = 24
PSEUDO_ROWS = 4000


def _r2(y: np.ndarray, p: np.ndarray) -> float:
    return float(1 - np.mean((y - p) ** 2) / np.var(y))


def transductive(imp: EnsembleImputer, Xs: np.ndarray, Xtrain: np.ndarray, y: np.ndarray, task: Task,
                 seeds: list[int]) -> dict[str, list[float]]:
    """Single-learner out-of-fold R² with and without the two transductive uses of training rows' public columns."""
    V, H = imp._view("kernel_ridge", Xs), imp._view("hgb", Xs)
    Vt, Ht = imp._view("kernel_ridge", Xtrain), imp._view("hgb", Xtrain)
    km = MiniBatchKMeans(TRANSDUCTIVE_CLUSTERS, random_state=0, n_init=3).fit(np.vstack([V, Vt]))
    D = km.transform(V)  # distances to centres learnt from all public rows
    pseudo = np.random.default_rng(0).choice(len(Vt), min(PSEUDO_ROWS, len(Vt)), replace=False)
    out: dict[str, list[float]] = {}
    for seed in seeds:
        o = {k: np.zeros(len(y)) for k in ("hgb", "hgb + k-means distances", "kernel_ridge",
                                           "kernel_ridge + k-means distances", "teacher (hgb + kernel_ridge)",
                                           "teacher + self-trained student")}
        for tr, te in KFold(3, shuffle=True, random_state=seed).split(y):
            hgb = imp._make("hgb", task, len(tr), 0).fit(H[tr], y[tr])
            kr = imp._make("kernel_ridge", task, len(tr), 0).fit(V[tr], y[tr])
            o["hgb"][te], o["kernel_ridge"][te] = hgb.predict(H[te]), kr.predict(V[te])
            HD, VD = np.hstack([H, D]), np.hstack([V, D])
            o["hgb + k-means distances"][te] = imp._make("hgb", task, len(tr), 0).fit(HD[tr], y[tr]).predict(HD[te])
            kr_d = imp._make("kernel_ridge", task, len(tr), 0)
            kr_d.set_params(nystroem__gamma=kr_d.named_steps["nystroem"].gamma * V.shape[1] / VD.shape[1])
            o["kernel_ridge + k-means distances"][te] = kr_d.fit(VD[tr], y[tr]).predict(VD[te])
            teacher = 0.5 * (o["hgb"][te] + o["kernel_ridge"][te])
            labels = 0.5 * (hgb.predict(Ht[pseudo]) + kr.predict(Vt[pseudo]))
            student = imp._make("hgb", task, len(tr), 0).fit(np.vstack([H[tr], Ht[pseudo]]),
                                                             np.concatenate([y[tr], labels]))
            o["teacher (hgb + kernel_ridge)"][te] = teacher
            o["teacher + self-trained student"][te] = 0.5 * teacher + 0.5 * student.predict(H[te])
        for k, p in o.items():
            out.setdefault(f"{task.name}: {k}", []).append(_r2(y, p))
            print(f"{task.name} seed {seed} {k}: {out[f'{task.name}: {k}'][-1]:.4f}", flush=True)
    return out


def main() -> None:
    warnings.filterwarnings("ignore", category=UserWarning)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="sepsis")
    ap.add_argument("--columns", default="Age,Gender")
    ap.add_argument("--fold-seeds", default="0,1")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--transductive", action="store_true", help="score the transductive features (numeric columns)")
    ap.add_argument("--contrast-min-corr", type=float, default=None,
                    help="override ensemble.CONTRAST_MIN_CORR (which numeric pairs get a contrast feature)")
    ap.add_argument("--relevance-power", type=float, default=None,
                    help="override kernel_ridge's relevance_power (ensemble.json); 0 weighs every column the same")
    a = ap.parse_args()
    if a.contrast_min_corr is not None:
        ensemble.CONTRAST_MIN_CORR = a.contrast_min_corr
    if a.relevance_power is not None:
        constants()["kernel_ridge"] = {**constants()["kernel_ridge"], "relevance_power": a.relevance_power}
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
    imp = EnsembleImputer(n_jobs=1)
    imp.encoder_ = enc
    imp._linear = _LinearView(Xall, enc.categorical_mask, imp.random_state, contrasts=imp.contrasts)
    imp._hgb_categorical = np.concatenate([enc.categorical_mask & (np.nan_to_num(
        np.nanmax(Xall, axis=0, initial=0)) < 250), np.zeros(len(imp._linear.pairs), dtype=bool)])
    results: dict[str, list[float]] = {}
    for col in [c.strip() for c in a.columns.split(",")]:
        kind = column_kind(support[col], categorical=schema.categorical)
        task = Task(col, (col,), kind)
        known = support[col].notna().to_numpy()
        if kind == "numeric":
            y, k = support[col][known].to_numpy(dtype=float), 0
        else:
            classes, y = np.unique(support[col][known].astype(str), return_inverse=True)
            k = len(classes)
        if a.transductive:
            if kind == "numeric":
                results.update(transductive(imp, Xs[known], Xall[len(Xs):], y, task, seeds))
            continue
        names = [n for n in CANDIDATES if not (n == "kernel" and kind == "categorical")]
        views = {n: imp._view(n, Xs[known]) for n in names}
        for seed in seeds:
            oof, secs = {}, {}
            for name in names:
                splits = (StratifiedKFold(3, shuffle=True, random_state=seed).split(y, y) if kind == "categorical"
                          else KFold(3, shuffle=True, random_state=seed).split(y))
                o = np.zeros(len(y)) if kind == "numeric" else np.zeros((len(y), k))
                t0 = time.perf_counter()
                for tr, te in splits:
                    model = imp._make(name, task, len(tr), k).fit(views[name][tr], y[tr])
                    o[te] = imp._out(model, task, views[name][te], k)
                oof[name], secs[name] = o, time.perf_counter() - t0
                score = (1 - np.mean((y - o) ** 2) / np.var(y) if kind == "numeric"
                         else float(np.mean(o.argmax(1) == y)))
                results.setdefault(f"{col}: {name} (single)", []).append(score)
                print(f"{col} seed {seed} {name}: {score:.4f} ({secs[name]:.1f} s)", flush=True)
            for stack, members in STACKS.items():
                members = [m for m in members if m in oof]
                score = (_num_blend(np.column_stack([oof[m] for m in members]), y) if kind == "numeric"
                         else _cat_blend([oof[m] for m in members], y))
                results.setdefault(f"{col}: {stack}", []).append(score)
                print(f"{col} seed {seed} stack {stack}: {score:.4f}", flush=True)
    print()
    print("| " + " | ".join(["candidate (support folds only)"] + [f"fold seed {s}" for s in seeds] + ["mean"]) + " |")
    print("|---|" + "---|" * (len(seeds) + 1))
    for name, r in results.items():
        print(f"| {name} | " + " | ".join(f"{v:.4f}" for v in r) + f" | {np.mean(r):.4f} |")


if __name__ == "__main__":
    main()
