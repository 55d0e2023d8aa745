"""The search of `fusiondp tune`: candidates trained under one accounted plan, the best kept by validation score.

Candidates share the expected batch b, the step count T and the noise multiplier σ (from the defaults rule
and :func:`fusiondp.tune.accounting.plan_tuning`), so they are runs of one DP event, and differ only in
α, C, lr, β, which do not enter the accounting. Three modes:

* ``repeat`` (default): Papernot–Steinke random repetition; a secret random number of candidates, each a random
  grid point; only the best candidate's settings, score and model are released (not the count, not the others);
* ``compose``: every grid point once; the k-fold composition is accounted; all scores may be shown;
* ``public``: candidates train on a public proxy (the support set as training rows, with its own imputation),
  never on the private rows: the selection costs no training-record budget, but is only as good as the proxy.
"""

from __future__ import annotations

import math
import secrets
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import numpy as np

from fusiondp.errors import BudgetError, ConfigError
from fusiondp.evaluate.metrics import classification_metrics, predict_scores
from fusiondp.train.config import TrainConfig
from fusiondp.train.defaults import auto_settings
from fusiondp.train.engine import TrainData, TrainResult, train
from fusiondp.train.methods import get_method
from fusiondp.tune.accounting import TuningPlan, draw_repetitions, plan_tuning

MODES = ("repeat", "compose", "public")
#: Settings a candidate may vary: they do not change the DP event (σ, q, T).
TUNABLE = ("alpha", "clip", "lr", "beta")


def default_grid(method: str, n_rows: int, n_features: int, sigma: float, delta: float) -> list[dict]:
    """A small grid around the defaults rule at noise σ: α (feature-level) or C (dpsgd) × {½, 1, 2}, two lrs."""
    spec = get_method(method)
    rule = auto_settings(n_rows, n_features, None, delta, method, noise_multiplier=sigma)
    lrs = (rule["lr"], rule["lr"] / 3)
    if spec.private_term == "diff":  # fdp, fdp_fm, fusiondp (naive_fusion is feature-level too, but no α)
        return [dict(alpha=min(1.0, rule["alpha"] * f), clip=rule["clip"], lr=lr) for f in (0.5, 1.0, 2.0)
                for lr in lrs]
    if spec.name == "dpsgd":
        return [dict(clip=rule["clip"] * f, lr=lr) for f in (0.5, 1.0, 2.0) for lr in lrs]
    return [dict(beta=b, clip=rule["clip"], lr=lr) for b in (0.5, 0.75) for lr in lrs]


@dataclass
class TuneResult:
    """What a search releases: the chosen settings, its validation score, the model, and the plan."""

    method: str
    mode: str
    settings: dict
    score: float
    metric: str
    result: TrainResult | None
    plan: TuningPlan | None
    base: dict
    scores: list[dict] = field(default_factory=list)  # every candidate's score: compose and public modes only

    def selection(self) -> dict:
        """The record written into the settings file and the report."""
        rec = {"mode": self.mode, "metric": self.metric, "split": "validation", "score": self.score,
               "base": self.base}
        if self.plan is not None:
            rec.update({"total_epsilon": self.plan.total_epsilon, "delta": self.plan.delta,
                        "privacy": self.plan.to_dict(),
                        "note": "The total ε covers every candidate and the released best one. Training again "
                                "with these settings on the same rows spends a further ε: the costs compose."})
        else:
            rec.update({"total_epsilon": 0.0, "note": "Selected on a public proxy (the support set); the "
                        "private training rows were not read. The choice is only as good as the proxy."})
        if self.scores:
            rec["candidates"] = self.scores
        return rec


def _score(res: TrainResult, val) -> tuple[str, float]:
    m = classification_metrics(val[1].numpy(), predict_scores(res.model, val[0]))
    key = "auroc" if "auroc" in m else "macro_f1"
    return key, float(m[key])


@contextmanager
def _search_bar(enabled: bool, mean: float):
    """One indeterminate bar (a spinner) for a search whose candidate count is secret.

    No elapsed time is shown: the search's duration grows with the count (docs/privacy.md).
    """
    from rich.progress import Progress, SpinnerColumn, TextColumn

    with Progress(SpinnerColumn(finished_text="✓"), TextColumn("[bold]{task.description}"),
                  disable=not enabled, transient=False) as bar:
        task = bar.add_task(f"searching: a secret number of candidates (mean {mean:g}), each trained in full",
                            total=1)
        yield
        bar.update(task, completed=1)  # the last frame is the same whatever the count and the time


def tune(method: str, data: TrainData, val, *, epsilon: float, delta: float, mode: str = "repeat",
         candidates: float = 4.0, shape: float = 1.0, grid: list[dict] | None = None, relation: str = "remove",
         accountant: str = "pld", seed: int = 0, progress: bool = False,
         rng: np.random.Generator | None = None) -> TuneResult:
    """Search settings for `method` at a TOTAL budget `epsilon` (ignored in mode 'public' for the search itself:
    the candidates then train on public proxy data, each calibrated to `epsilon` as a real run would be).

    Args:
        data, val: training views and validation tensors (for 'public': the proxy's views).
        candidates: the mean number of candidates ('repeat'); ignored by 'compose' (the grid size) and 'public'.
        shape: distribution of the count for 'repeat' (1: geometric, inf: Poisson, 0: logarithmic, else
            truncated negative binomial).
        grid: candidate overrides over :data:`TUNABLE` (default :func:`default_grid`).
        rng: source of the random count and draws; default: OS entropy (required for the guarantee).
    """
    if mode not in MODES:
        raise ConfigError(f"Unknown tuning mode {mode!r}; choose one of {', '.join(MODES)}.")
    spec = get_method(method)
    if not spec.is_private:
        raise ConfigError(f"Method {method!r} is not private; tune it on validation data with any search.")
    n, d = data.n, int(np.prod(data.x.shape[1:]))
    base = TrainConfig(epsilon=epsilon, delta=delta, relation=relation, accountant=accountant, seed=seed)
    base = base.resolve(n_rows=n, n_features=d, method=method)
    steps = max(1, int(base.epochs * n / base.batch_size))
    q = base.batch_size / n
    plan = None
    if mode == "public":
        sigma = auto_settings(n, d, epsilon, delta, method, relation=relation,
                              accountant=accountant)["noise_multiplier_estimate"]
    else:
        count = len(grid) if (mode == "compose" and grid) else candidates
        if mode == "compose" and not grid:
            count = len(default_grid(method, n, d, 1.0, delta))
        plan = plan_tuning(target_epsilon=epsilon, sample_rate=q, steps=steps, delta=delta, mode=mode,
                           candidates=count, shape=shape, relation=spec.relation(relation), accountant=accountant)
        sigma = plan.noise_multiplier
    grid = grid or default_grid(method, n, d, sigma, delta)
    bad = sorted({k for g in grid for k in g if k not in TUNABLE})
    if bad:
        raise ConfigError(f"Grid varies {', '.join(bad)}, which would change the accounted event; only "
                          f"{', '.join(TUNABLE)} may vary between candidates.")
    if mode == "compose" and plan is not None and len(grid) != int(plan.candidates):
        raise ConfigError(f"Mode 'compose' accounts {int(plan.candidates)} candidates but the grid has {len(grid)}.")
    if mode == "repeat":
        rng = rng or np.random.default_rng(secrets.randbits(128))
        k = draw_repetitions(candidates, shape, rng)
        chosen = [grid[int(i)] for i in rng.integers(0, len(grid), k)]
    else:
        chosen = list(grid)
    best: tuple[float, dict, TrainResult, str] | None = None
    scores = []
    # In 'repeat' mode the count is secret: one bar for the whole search, without a total or a per-candidate
    # step (a bar per candidate, or a count, would publish K). The other modes' counts are public.
    with _search_bar(progress and mode == "repeat", candidates):
        for cand in chosen:
            cfg = replace(base, **cand, epsilon=None, noise_multiplier=sigma)
            res = train(method, data, config=cfg, progress=progress and mode != "repeat")
            key, s = _score(res, val)
            if not math.isfinite(s):
                s = -math.inf
            if mode != "repeat":
                scores.append({**cand, key: s, "epsilon": res.epsilon})
            if best is None or s > best[0]:
                best = (s, cand, res, key)
    if best is None:
        raise BudgetError("The random number of candidates was 0: the search released nothing (its ε is spent). "
                          "Use shape 1 (geometric) or a larger mean.")
    s, cand, res, key = best
    base_rec = {k: getattr(base, k) for k in ("epochs", "batch_size", "public_batch_size", "lr", "clip", "alpha",
                                               "beta")}
    settings = {**({} if mode == "public" else {k: base_rec[k] for k in ("epochs", "batch_size")}), **cand}
    return TuneResult(method=spec.name, mode=mode, settings=settings, score=s, metric=key,
                      result=None if mode == "public" else res, plan=plan, base=base_rec, scores=scores)


__all__ = ["MODES", "TUNABLE", "TuneResult", "default_grid", "tune"]
