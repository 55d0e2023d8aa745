"""Single learners of the default imputer and variants, scored out of fold on the SUPPORT set only (issue 25, round 3).

Exploration behind `EnsembleImputer.BOOSTING` and the learners left out (docs/results/imputer_candidates.md):
each learner is fitted on 2 of 3 support folds and scored on the third (R² for numeric columns, accuracy and
log-loss for categorical ones), on the features the ensemble builds (public columns, contrast features,
quantile-normalised linear view fitted on public rows). The "blend-all" line is optimistic (weights fitted on
the same out-of-fold predictions) and only shows how much a stack could add. No training row's sensitive value
is read; the training rows' public columns feed the feature maps, as in the imputer.

    OMP_NUM_THREADS=1 python benchmarks/imputer_candidates_learners.py sepsis [label]
    OMP_NUM_THREADS=1 python benchmarks/imputer_candidates_learners.py adult [label]
"""
import sys, time, numpy as np, pandas as pd, warnings
warnings.filterwarnings("ignore")
from threadpoolctl import threadpool_limits
_LIMIT = threadpool_limits(1)  # kept alive: OpenMP spin-waiting on a shared machine made boosting 30x slower
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.ensemble import HistGradientBoostingRegressor as HR, HistGradientBoostingClassifier as HC, RandomForestRegressor, RandomForestClassifier
from sklearn.linear_model import RidgeCV, LogisticRegression
from sklearn.svm import SVR, SVC
from sklearn.kernel_ridge import KernelRidge
from sklearn.neural_network import MLPRegressor, MLPClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.compose import TransformedTargetRegressor
from scipy.optimize import nnls
from fusiondp.impute.ensemble import _LinearView
from fusiondp.impute.features import FeatureEncoder
ds = sys.argv[1]; label = len(sys.argv) > 2 and sys.argv[2] == "label"
from fusiondp.bench.datasets import get_spec, resolve_data_dir
SCORED = {"sepsis": ["Age", "Gender"], "adult": ["age", "sex", "marital"]}  # the columns issue 25 names
spec = get_spec(ds); f = spec.frames(resolve_data_dir(None)); sup, tr = f["support"], f["train"]
sens, drop, tgt = list(spec.schema.sensitive), list(spec.schema.drop), spec.schema.target
from fusiondp.impute.targets import column_kind
cols = [(c, "num" if column_kind(sup[c]) == "numeric" else "cat") for c in SCORED[ds]]
pub = [c for c in sup.columns if c not in sens + drop + [tgt]] + ([tgt] if label else [])
enc = FeatureEncoder().fit(pd.concat([sup[pub], tr[pub]]))
Xs = enc.transform(sup[pub]); Xa = np.vstack([Xs, enc.transform(tr[pub])])
lv = _LinearView(Xa, enc.categorical_mask, 0)
L = lv(Xs); T = np.hstack([Xs, lv.contrasts(Xs)])
n = len(sup); leaf = int(np.clip(n//40*3//3, 3, 30))
def regs():
    return {
     "hgb": (T, lambda: HR(learning_rate=0.05, max_iter=200, max_depth=4, min_samples_leaf=leaf, l2_regularization=2.0, random_state=0)),
     "hgb_d2": (T, lambda: HR(learning_rate=0.03, max_iter=400, max_depth=2, min_samples_leaf=20, l2_regularization=5.0, random_state=0)),
     "hgb_slow": (T, lambda: HR(learning_rate=0.02, max_iter=500, max_depth=3, min_samples_leaf=20, l2_regularization=5.0, random_state=0)),
     "forest": (T, lambda: RandomForestRegressor(200, min_samples_leaf=5, max_features=0.33, n_jobs=1, random_state=0)),
     "linear": (L, lambda: RidgeCV(alphas=np.logspace(-1,4,16))),
     "svr1": (L, lambda: TransformedTargetRegressor(SVR(C=1.0, epsilon=0.1), transformer=StandardScaler())),
     "svr03": (L, lambda: TransformedTargetRegressor(SVR(C=0.3, epsilon=0.1), transformer=StandardScaler())),
     "svr3": (L, lambda: TransformedTargetRegressor(SVR(C=3.0, epsilon=0.1), transformer=StandardScaler())),
     "mlp": (L, lambda: TransformedTargetRegressor(MLPRegressor(hidden_layer_sizes=(64,), alpha=1.0, max_iter=500, early_stopping=False, random_state=0), transformer=StandardScaler())),
    }
def clfs():
    return {
     "hgb": (T, lambda: HC(learning_rate=0.05, max_iter=200, max_depth=4, min_samples_leaf=leaf, l2_regularization=2.0, random_state=0)),
     "hgb_slow": (T, lambda: HC(learning_rate=0.02, max_iter=500, max_depth=3, min_samples_leaf=20, l2_regularization=5.0, random_state=0)),
     "forest": (T, lambda: RandomForestClassifier(200, min_samples_leaf=3, max_features="sqrt", n_jobs=1, random_state=0)),
     "linear": (L, lambda: LogisticRegression(C=0.1, max_iter=1000)),
     "linear1": (L, lambda: LogisticRegression(C=1.0, max_iter=1000)),
     "linear003": (L, lambda: LogisticRegression(C=0.03, max_iter=1000)),
     "svc": (L, lambda: SVC(C=1.0, probability=True, random_state=0)),
     "mlp": (L, lambda: MLPClassifier(hidden_layer_sizes=(64,), alpha=1.0, max_iter=500, random_state=0)),
    }
for col, kind in cols:
    y = sup[col]; ok = y.notna().to_numpy()
    if kind == "num":
        yv = y[ok].to_numpy(float); learners = regs()
        splits = list(KFold(3, shuffle=True, random_state=0).split(yv))
    else:
        cls, yv = np.unique(y[ok].astype(str), return_inverse=True); learners = clfs()
        splits = list(StratifiedKFold(3, shuffle=True, random_state=0).split(yv, yv))
    oof = {}
    for nm, (V, mk) in learners.items():
        V = V[ok]; t0 = time.time()
        o = np.zeros(len(yv)) if kind == "num" else np.zeros((len(yv), len(cls)))
        for a, b in splits:
            m = mk().fit(V[a], yv[a]); o[b] = m.predict(V[b]) if kind == "num" else m.predict_proba(V[b])
        oof[nm] = o
        sc = 1 - ((yv-o)**2).mean()/yv.var() if kind == "num" else (o.argmax(1) == yv).mean()
        ll = "" if kind == "num" else f" logloss {-np.mean(np.log(np.clip(o[np.arange(len(yv)), yv],1e-6,1))):.4f}"
        print(f"{ds} label={label} {col} {nm}: {sc:.4f}{ll} ({time.time()-t0:.1f}s)", flush=True)
    # in-sample blend of all (optimistic, exploration only)
    if kind == "num":
        P = np.column_stack(list(oof.values())); w,_ = nnls(P-P.mean(0), yv-yv.mean()); pr = (P-P.mean(0))@w + yv.mean()
        print(f"{ds} {col} blend-all (optimistic) {1-((yv-pr)**2).mean()/yv.var():.4f} w={dict(zip(oof, w.round(2)))}")
    else:
        pr = np.mean([oof[k] for k in oof], axis=0); print(f"{ds} {col} mean-all {(pr.argmax(1)==yv).mean():.4f}")
