"""One-run canary audit of the feature-level guarantee (Steinke, Nasr, Jagielski, NeurIPS 2023).

Design (everything except the secrets S is fixed before they are drawn):

1. m canary records are appended to the training tensors. Canary i gets
   random public features (N(0, public_scale²) per encoded public feature, so
   canaries are far from each other and from real rows and do not interfere;
   ``public_scale=0`` copies a real row's public features instead), a random
   label, and two candidate sensitive parts:

   * ``x⁺``: planted values, ``±magnitude`` (random signs; ``pattern="gaussian"``:
     magnitude × N(0, 1)) on every encoded sensitive feature: far outside the
     data, so a model that reads them can memorise them;
   * ``x⁻``: the value the accountant's neighbouring relation compares against.
     For the feature-level methods (`fdp`, `fdp_fm`, `fusiondp`, relation
     ``remove``) that is the row's x̃ (the hybrid row, or the noise row for `fdp`),
     which makes the canary's private term exactly zero. For every other method
     it is the hybrid row, so x⁺ vs x⁻ is a change of one record's sensitive
     features (the feature-level ``replace`` relation for record-level `dpsgd`).

2. A secret S_i ∈ {−1, +1} per canary, uniform and independent, picks x⁺ or x⁻
   as the canary's *original* row. The hybrid, noise and reference rows of a
   canary, its label and its public features do not depend on S_i: S_i = ±1 are
   neighbouring datasets under the audited relation.
3. The model is trained once with the engine's own `train` (the real step).
4. Score_i = ℓ(w; x⁻_i, y_i) − ℓ(w; x⁺_i, y_i): how much better the final model
   fits the planted values. The auditor guesses +1 for the highest scores and
   −1 for the lowest, abstaining on the rest, for a few guess counts r fixed in
   advance, and converts (m, r, correct, δ) into an ε lower bound with
   `fusiondp.audit.bounds` (Bonferroni over the r's).

The bound is compared with the ε the accountant certifies for the relation the
canaries realise (`accounted_epsilon`), computed by `fusiondp.privacy.accounting`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from fusiondp._validate import in_open_interval, one_of, positive
from fusiondp.audit.bounds import best_lower_bound
from fusiondp.errors import ConfigError
from fusiondp.privacy import accounting
from fusiondp.train.config import TrainConfig
from fusiondp.train.engine import TrainData, TrainResult, train
from fusiondp.train.methods import MethodSpec, get_method
from fusiondp.train.persample import row_loss_for

#: Fractions of m used as guess counts r; each is tried with symmetric guesses (top r/2 → +1,
#: bottom r/2 → −1) and top-only guesses (top r → +1). All are fixed before training.
GUESS_FRACTIONS = (0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
#: How planted values are drawn: magnitude × N(0, 1) per encoded sensitive feature (a distinct direction per
#: canary), or magnitude × a random sign.
PATTERNS = ("gaussian", "sign")


def neighbour_view(spec: MethodSpec) -> str:
    """The view whose sensitive part a canary takes when S_i = −1 (see module doc)."""
    return spec.private_view if spec.private_term == "diff" else "hybrid"


@dataclass
class Canaries:
    """The planted records (rows `rows` of the augmented data) and their secrets."""

    rows: np.ndarray
    secrets: np.ndarray
    x_plus: torch.Tensor
    x_minus: torch.Tensor
    y: torch.Tensor
    source: np.ndarray
    magnitude: float

    @property
    def m(self) -> int:
        return int(len(self.rows))


def plant_canaries(data: TrainData, sensitive: np.ndarray, spec: MethodSpec, *, m: int, magnitude: float,
                   rng: np.random.Generator, pattern: str = "sign", public_scale: float = 3.0
                   ) -> tuple[TrainData, Canaries]:
    """Append m canaries to `data` (see module doc); returns the augmented data and the canaries.

    Args:
        data: the training views.
        sensitive: boolean mask over encoded features, True where a sensitive column is encoded.
        spec: the method to be audited (decides x⁻).
        m: number of canaries; magnitude: |planted value| on each encoded sensitive feature.
        rng: draws sources, labels, planted signs and the secrets.
    """
    positive(m=m, magnitude=magnitude)
    one_of("canary pattern", pattern, PATTERNS)
    sensitive = np.asarray(sensitive, dtype=bool)
    if sensitive.shape != (data.x.shape[1],) or not sensitive.any():
        raise ConfigError(f"The sensitive mask must flag at least one of the {data.x.shape[1]} encoded features.")
    if data.x_hybrid is None:
        raise ConfigError("The canary audit needs the hybrid view (x⁻ of non-'diff' methods and the canaries' "
                          "public rows).")
    n = data.n
    source = rng.choice(n, size=m, replace=m > n)
    public = torch.from_numpy(~sensitive)
    pub = None
    if public_scale > 0:  # isolated canaries: random public features, identical in both worlds
        pub = torch.from_numpy(public_scale * rng.standard_normal((m, int(public.sum())))).to(data.x.dtype)

    def rows(view: torch.Tensor | None) -> torch.Tensor | None:
        """The canaries' rows of a public view (same in both worlds)."""
        if view is None:
            return None
        out = view[source].clone()
        if pub is not None:
            out[:, public] = pub
        return out

    views = {"hybrid": rows(data.x_hybrid), "noise": rows(data.x_noise), "reference": rows(data.x_reference)}
    x_minus = views[neighbour_view(spec)]
    if x_minus is None:
        raise ConfigError(f"Method {spec.name!r} needs the {neighbour_view(spec)!r} view for its canaries.")
    x_plus = x_minus.clone()
    mask = torch.from_numpy(sensitive)
    shape = (m, int(sensitive.sum()))
    draw = rng.standard_normal(shape) if pattern == "gaussian" else rng.choice([-1.0, 1.0], size=shape)
    x_plus[:, mask] = magnitude * torch.from_numpy(draw).to(x_plus.dtype)
    if data.n_classes == 2:
        y = torch.from_numpy(rng.integers(0, 2, m)).to(data.y.dtype)
    else:
        y = torch.from_numpy(rng.integers(0, data.n_classes, m)).to(data.y.dtype)
    secrets = rng.choice([-1, 1], size=m)
    x_canary = torch.where(torch.from_numpy(secrets == 1)[:, None], x_plus, x_minus)
    cat = lambda a, extra: None if a is None else torch.cat([a, extra])  # noqa: E731
    augmented = TrainData(x=torch.cat([data.x, x_canary]), x_hybrid=cat(data.x_hybrid, views["hybrid"]),
                          y=torch.cat([data.y, y]), x_noise=cat(data.x_noise, views["noise"]),
                          x_reference=cat(data.x_reference, views["reference"]), n_classes=data.n_classes)
    return augmented, Canaries(np.arange(n, n + m), secrets, x_plus, x_minus, y, source, float(magnitude))


@torch.no_grad()
def canary_scores(model: nn.Module, canaries: Canaries, n_classes: int) -> np.ndarray:
    """ℓ(w; x⁻, y) − ℓ(w; x⁺, y) per canary (model in eval mode): high means "trained on x⁺"."""
    was = model.training
    model.eval()
    loss = row_loss_for(n_classes)
    try:
        score = loss(model(canaries.x_minus), canaries.y) - loss(model(canaries.x_plus), canaries.y)
    finally:
        model.train(was)
    return score.double().numpy()


def guess_counts(scores: np.ndarray, secrets: np.ndarray, rng: np.random.Generator,
                 fractions: tuple[float, ...] = GUESS_FRACTIONS) -> dict[str, int]:
    """Correct guesses for each guess rule: ``"sym:r"`` (top r/2 → +1, bottom r/2 → −1) and ``"top:r"``.

    Ties in the scores are broken at random (`rng`), never by the secrets.
    """
    m = len(scores)
    perm = rng.permutation(m)
    order = perm[np.argsort(-scores[perm], kind="stable")]  # most "planted-looking" first
    s = secrets[order]
    plus_hits = np.cumsum(s == 1)  # correct +1 guesses among the first k
    minus_hits = np.cumsum((s == -1)[::-1])  # correct −1 guesses among the last k
    out: dict[str, int] = {}
    for r in sorted({max(2, int(round(f * m))) for f in fractions if round(f * m) <= m}):
        k_plus = r // 2
        out[f"sym:{r}"] = int(plus_hits[k_plus - 1] + minus_hits[r - k_plus - 1])
        out[f"top:{r}"] = int(plus_hits[r - 1])
    return out


def accounted_epsilon(result: TrainResult) -> tuple[float | None, str]:
    """The accountant's ε for the relation the canaries realise, and that relation's name.

    * feature-level methods: the run's own ε (relation ``remove``, or ``replace`` if trained so;
      a remove-neighbour is also a replace-neighbour);
    * record-level `dpsgd`: x⁺ vs x⁻ changes one record's features while the record stays, i.e. the
      ``replace`` relation; its ε for the run's σ, q and steps is computed by dp-accounting's PLD
      accountant (the RDP accountant cannot analyse it). `naive_fusion` is accounted under ``replace``
      already (feature-level, see `MethodSpec.relation`);
    * non-private methods: 0 when the original rows are never read, else None (no guarantee).
    """
    spec, acct = result.method, result.plan
    if acct is None:
        return (None, "none (no formal guarantee)") if "original" in spec.views else (0.0, "never read (ε = 0)")
    if acct.relation == "add_remove":
        eps = accounting.epsilon(noise_multiplier=acct.noise_multiplier, sample_rate=acct.sample_rate,
                                 steps=acct.steps, delta=acct.delta, relation="replace", accountant="pld")
        return float(eps), "replace"
    return float(result.epsilon), acct.relation


def budget_text(epsilon_trained: float | None, relation: str | None, delta: float) -> str:
    """What a canary audit costs: it trains a new model on the training rows, so it spends budget again."""
    if epsilon_trained is None:
        return ("This audit retrained the method on the training rows (with canaries added); the method has no "
                "formal guarantee, so the audit run has none either.")
    return (f"This audit retrained the method on the training rows (with canaries added): that run spent "
            f"ε = {epsilon_trained:.4g} (δ = {delta:g}, {relation} relation) of the training rows' budget, on top "
            "of every other run on the same rows (the costs compose). Its outputs are post-processing of that "
            "run and may be released as such.")


@dataclass
class CanaryAudit:
    """The outcome of `canary_audit`; `to_dict` is the JSON result."""

    method: str
    m: int
    magnitude: float
    relation: str
    epsilon_accounted: float | None
    epsilon_trained: float | None
    trained_relation: str | None
    delta: float
    confidence: float
    bound: dict
    scores_auc: float
    seconds: float
    train_result: TrainResult = field(repr=False)
    design: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "kind": "canary",
            "method": self.method,
            "canaries": self.m,
            "magnitude": self.magnitude,
            **self.design,
            "relation": self.relation,
            "epsilon_accounted": self.epsilon_accounted,
            "epsilon_trained": self.epsilon_trained,
            "trained_relation": self.trained_relation,
            "delta": self.delta,
            "confidence": self.confidence,
            "epsilon_lower_bound": self.bound["epsilon_lower_bound"],
            "guesses": self.bound["guesses"],
            "correct": self.bound["correct"],
            "guess_rule": self.bound["rule"],
            "per_rule": self.bound["per_guess_count"],
            "per_test_confidence": self.bound["per_test_confidence"],
            "score_auc": self.scores_auc,
            "steps": self.train_result.steps,
            "budget_spent": budget_text(self.epsilon_trained, self.trained_relation, self.delta),
            "seconds": self.seconds,
            "method_text": ("Steinke, Nasr & Jagielski (NeurIPS 2023) one-run audit: m canaries whose sensitive "
                            "values are planted (±magnitude on every encoded sensitive feature) or set to the "
                            "neighbouring value with probability 1/2 each; score = loss at the neighbouring value "
                            "minus loss at the planted value on the final model; guesses on the top/bottom scores; "
                            "Bonferroni over the guess rules."),
        }


def _auc(scores: np.ndarray, secrets: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    if len(np.unique(secrets)) < 2:
        return float("nan")
    return float(roc_auc_score(secrets == 1, scores))


def canary_audit(data: TrainData, sensitive: np.ndarray, method: str, config: TrainConfig | None = None, *,
                 m: int = 1000, magnitude: float = 8.0, pattern: str = "sign", public_scale: float = 3.0,
                 seed: int = 0,
                 confidence: float = 0.95,
                 model: nn.Module | None = None, progress: bool = False) -> CanaryAudit:
    """Plant m canaries, train once with `method`, and bound ε from below.

    Args:
        data: the training views (e.g. `fusiondp.pipeline.prepare(...).data`).
        sensitive: boolean mask of encoded sensitive features (`Preprocessor.sensitive_mask()`).
        method: a method name; config: its settings (ε, δ, ...); the audit trains with
            `config.seed = seed`.
        m, magnitude: number of canaries and the planted magnitude (standardised units).
        seed: seeds the canaries, the secrets and training.
        confidence: 1 − β of the lower bound.
        model: optional model to train (default: the engine's MLP).
    """
    in_open_interval("confidence", confidence, 0.0, 1.0)
    spec = get_method(method)
    cfg = config or TrainConfig()
    from dataclasses import replace

    cfg = replace(cfg, seed=seed)
    rng = np.random.default_rng([seed, 7919])
    t0 = time.perf_counter()
    augmented, canaries = plant_canaries(data, sensitive, spec, m=m, magnitude=magnitude, rng=rng,
                                        pattern=pattern, public_scale=public_scale)
    result = train(spec, augmented, config=cfg, model=model, progress=progress)
    scores = canary_scores(result.model, canaries, data.n_classes)
    counts = guess_counts(scores, canaries.secrets, rng)
    rules = {rule: (int(rule.split(":")[1]), v) for rule, v in counts.items()}
    eps_acc, relation = accounted_epsilon(result)
    delta = cfg.delta if result.plan is None else result.plan.delta
    best = best_lower_bound(rules, m, delta, confidence)
    return CanaryAudit(method=spec.name, m=m, magnitude=float(magnitude), relation=relation,
                       epsilon_accounted=eps_acc, epsilon_trained=float(result.epsilon) if result.plan else None,
                       trained_relation=result.relation, delta=float(delta), confidence=confidence, bound=best,
                       scores_auc=_auc(scores, canaries.secrets), seconds=time.perf_counter() - t0,
                       train_result=result, design={"pattern": pattern, "public_scale": float(public_scale)})

