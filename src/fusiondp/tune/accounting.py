"""The privacy cost of a hyperparameter search, computed by dp-accounting.

Every candidate of a search trains on the same private rows, so releasing the best one is post-processing of
*all* of them: their costs compose. Two analyses are offered, both for candidates that share one DP event
(same σ, sampling rate q and step count T; candidates differ only in settings that do not enter the
accounting: α, C, lr, β):

* ``compose``: a fixed number k of candidates, ε of the k-fold composition (PLD or RDP accountant);
* ``repeat``: Papernot & Steinke (2022, "Hyperparameter tuning with Renyi differential privacy",
  arXiv:2110.03620): the number of candidates K is random (Poisson, shape=inf; geometric, shape=1; truncated
  negative binomial, 0<shape<inf; logarithmic, shape=0) with mean `mean`, each candidate a random draw from
  the grid, and only the best is released. dp-accounting analyses it as ``RepeatAndSelectDpEvent`` under its
  RDP accountant; the cost grows roughly with log of the mean instead of linearly. K must be drawn from
  secret randomness (see :func:`draw_repetitions`), and neither K nor the other candidates' scores may
  be released.

:func:`plan_tuning` calibrates the per-candidate noise so the *total* meets the user's budget.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass

import dp_accounting as dpa
import numpy as np
from dp_accounting import dp_event, rdp

from fusiondp._validate import in_open_interval, one_of, positive
from fusiondp.errors import ConfigError
from fusiondp.privacy.accounting import RELATIONS, _accountant, calibrate, training_event

MODES = ("repeat", "compose")


def _quiet():
    absl = logging.getLogger("absl")
    level = absl.level
    absl.setLevel(logging.ERROR)  # RDP logs harmless convergence warnings for small orders
    return absl, level


def repeat_select_event(noise_multiplier: float, sample_rate: float, steps: int, mean: float,
                        shape: float) -> dpa.DpEvent:
    """The DpEvent of a random-repetition search over runs of one training event."""
    return dp_event.RepeatAndSelectDpEvent(training_event(noise_multiplier, sample_rate, steps), float(mean), float(shape))


def _search_event(mode: str, sigma: float, q: float, steps: int, candidates: float, shape: float) -> dpa.DpEvent:
    """The whole search as one DpEvent: random repetition, or `candidates` runs composed."""
    if mode == "repeat":
        return repeat_select_event(sigma, q, steps, candidates, shape)
    return dpa.SelfComposedDpEvent(training_event(sigma, q, steps), int(candidates))


def _search_accountant(mode: str, relation: str, accountant: str) -> dpa.PrivacyAccountant:
    """RDP for random repetition (the only accountant of dp-accounting that analyses it), else as asked."""
    if mode != "repeat":
        return _accountant(accountant, relation)
    one_of("neighbouring relation", relation, RELATIONS)
    if relation == "replace":
        raise ConfigError("The random-repetition analysis runs on dp-accounting's RDP accountant, which cannot "
                          "analyse Poisson sampling under 'replace'; use mode 'compose' with the PLD accountant.")
    return rdp.RdpAccountant(neighboring_relation=RELATIONS[relation])


def _search_epsilon(mode: str, sigma: float, q: float, steps: int, delta: float, candidates: float, shape: float,
                    relation: str, accountant: str) -> float:
    absl, level = _quiet()
    try:
        acc = _search_accountant(mode, relation, accountant)
        acc.compose(_search_event(mode, sigma, q, steps, candidates, shape))
        return float(acc.get_epsilon(delta))
    finally:
        absl.setLevel(level)


def repeat_select_epsilon(*, noise_multiplier: float, sample_rate: float, steps: int, delta: float, mean: float,
                          shape: float = math.inf, relation: str = "remove") -> float:
    """Total ε of a Papernot–Steinke search (RDP accountant of dp-accounting)."""
    if mean < 1:
        raise ConfigError(f"Expected a mean number of candidates >= 1, got {mean!r}.")
    return _search_epsilon("repeat", noise_multiplier, sample_rate, steps, delta, mean, shape, relation, "rdp")


def compose_epsilon(*, noise_multiplier: float, sample_rate: float, steps: int, delta: float, count: int,
                    relation: str = "remove", accountant: str = "pld") -> float:
    """Total ε of `count` candidates composed (each `steps` Poisson-sampled Gaussian steps)."""
    positive(count=count)
    return _search_epsilon("compose", noise_multiplier, sample_rate, steps, delta, int(count), math.inf, relation,
                           accountant)


@dataclass(frozen=True)
class TuningPlan:
    """The accounted privacy of a whole search, fixed before it starts."""

    mode: str
    noise_multiplier: float
    sample_rate: float
    steps: int
    delta: float
    relation: str
    accountant: str
    target_epsilon: float
    total_epsilon: float
    candidates: float  # the fixed count (compose) or the mean of the random count (repeat)
    shape: float | None  # distribution of the count (repeat only)
    per_candidate_epsilon: float  # ε of one candidate alone, for comparison

    def to_dict(self) -> dict:
        d = asdict(self)
        if d["shape"] is not None and math.isinf(d["shape"]):
            d["shape"] = "inf"
        return d


def plan_tuning(*, target_epsilon: float, sample_rate: float, steps: int, delta: float, mode: str,
                candidates: float, shape: float = math.inf, relation: str = "remove",
                accountant: str = "pld") -> TuningPlan:
    """The smallest per-candidate σ whose *total* search ε is at most `target_epsilon`.

    The search is one DpEvent (:func:`_search_event`), calibrated by the same function as a single run
    (`fusiondp.privacy.accounting.calibrate`: one tolerance, one lower end of the search, one budget check).
    """
    positive(target_epsilon=target_epsilon, candidates=candidates)
    in_open_interval("delta", delta, 0.0, 1.0)
    one_of("tuning mode", mode, MODES)
    if mode == "compose" and int(candidates) != candidates:
        raise ConfigError(f"Mode 'compose' needs a whole number of candidates, got {candidates!r}.")
    if mode == "repeat":
        if candidates < 1:
            raise ConfigError(f"Expected a mean number of candidates >= 1, got {candidates!r}.")
        accountant = "rdp"
    _search_accountant(mode, relation, accountant)  # validate names and support before searching
    absl, level = _quiet()
    try:
        sigma = calibrate(lambda: _search_accountant(mode, relation, accountant),
                          lambda s: _search_event(mode, s, sample_rate, steps, candidates, shape),
                          target_epsilon=target_epsilon, delta=delta, what=f"this search ({mode})")
    finally:
        absl.setLevel(level)
    spent = _search_epsilon(mode, sigma, sample_rate, steps, delta, candidates, shape, relation, accountant)
    one = compose_epsilon(noise_multiplier=sigma, sample_rate=sample_rate, steps=steps, delta=delta, count=1,
                          relation=relation, accountant=accountant)
    return TuningPlan(mode, sigma, float(sample_rate), int(steps), float(delta), relation, accountant,
                      float(target_epsilon), float(spent), float(candidates), float(shape) if mode == "repeat"
                      else None, float(one))


def draw_repetitions(mean: float, shape: float, rng: np.random.Generator) -> int:
    """A random number of candidates for the repeat analysis (Poisson for shape=inf, geometric for shape=1,
    truncated negative binomial for 0 < shape < inf; logarithmic for shape=0). `rng` must be secret
    (`fusiondp.privacy.randomness`): the guarantee needs K hidden from the adversary."""
    if math.isinf(shape):
        return int(rng.poisson(mean))  # may be 0: the search then releases nothing (its ε is still spent)
    if shape == 1:
        return int(rng.geometric(1.0 / mean))
    if shape == 0:
        # logarithmic with mean `mean`: solve for its parameter p, then sample
        lo, hi = 1e-12, 1 - 1e-12
        for _ in range(200):
            p = (lo + hi) / 2
            m = -p / ((1 - p) * math.log(1 - p))
            lo, hi = (p, hi) if m < mean else (lo, p)
        return int(rng.logseries(p))
    # truncated negative binomial (k >= 1) with shape r and the gamma that gives `mean`
    r = shape
    lo, hi = 1e-12, 1 - 1e-12
    for _ in range(200):
        g = (lo + hi) / 2  # success probability gamma; mean of truncated NB: r(1-g)/(g(1-g^r))
        m = r * (1 - g) / (g * (1 - g ** r))
        lo, hi = (g, hi) if m > mean else (lo, g)
    while True:
        k = int(rng.negative_binomial(r, g))
        if k >= 1:
            return k
