"""Privacy accounting: describe the run as a dp-accounting event and let the library compute ε.

Nothing here re-derives privacy maths. A training run is a Poisson-subsampled
Gaussian mechanism composed over T steps (docs/method.md §5); we build that
`DpEvent`, pick an accountant and a neighbouring relation, and ask
dp-accounting for ε or for the noise multiplier that meets a target.

Neighbouring relations (docs/method.md §2):

* ``remove``: feature-level zero-out relation (dp-accounting's REPLACE_SPECIAL):
  one record's sensitive values replaced by their imputed public values, which
  zeroes its private term. Sensitivity C.
* ``replace``: feature-level replace-one: two arbitrary values of one record's
  sensitive features. Only the PLD accountant analyses it under Poisson sampling.
* ``add_remove``: record-level add/remove of a whole record (standard DP-SGD).

>>> eps = epsilon(noise_multiplier=1.0474, sample_rate=128 / 14293, steps=1451, delta=1e-5,
...               relation="remove", accountant="rdp")
>>> round(eps, 2)
1.99
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import dp_accounting as dpa
from dp_accounting import pld, rdp
from dp_accounting.mechanism_calibration import NoBracketIntervalFoundError

from fusiondp._validate import in_open_interval, one_of, positive
from fusiondp.errors import BudgetError, ConfigError, UnsupportedError

RELATIONS: dict[str, dpa.NeighboringRelation] = {
    "remove": dpa.NeighboringRelation.REPLACE_SPECIAL,
    "replace": dpa.NeighboringRelation.REPLACE_ONE,
    "add_remove": dpa.NeighboringRelation.ADD_OR_REMOVE_ONE,
}

RELATION_TEXT: dict[str, str] = {
    "remove": ("feature-level, zero-out ('remove'): an observer cannot tell a record's true sensitive values "
               "from their imputed, public values"),
    "replace": ("feature-level, replace-one ('replace'): an observer cannot tell any two values of one "
                "record's sensitive features apart"),
    "add_remove": "record-level add/remove: an observer cannot tell whether a whole record was in the training set",
}

# What the zero-out relation compares a record's true sensitive values with, per private view of a method.
_ZERO_OUT_REFERENCE = {"hybrid": "their imputed, public values",
                       "noise": "the data-independent noise values that stand in for them (the method's noise view)"}


def relation_text(relation: str, *, private_view: str | None = None, level: str = "feature") -> str:
    """One sentence on what `relation` protects, for the method that was run.

    >>> relation_text("remove", private_view="noise").endswith("(the method's noise view)")
    True
    """
    if relation == "remove" and private_view in _ZERO_OUT_REFERENCE:
        return ("feature-level, zero-out ('remove'): an observer cannot tell a record's true sensitive values "
                f"from {_ZERO_OUT_REFERENCE[private_view]}")
    if relation == "replace" and level == "record":
        return ("replace-one of a whole record ('replace'): an observer cannot tell any two values of one "
                "record (sensitive features, public features and label) apart; this covers the feature-level "
                "replace relation for the sensitive columns")
    return RELATION_TEXT[relation]


def training_rows_text(n: int, level: str) -> str:
    """What releasing N (the number of training rows) means: N is treated as public (docs/privacy.md).

    Every report, model file and checkpoint carries N exactly (and q = b/N, the step count and σ depend
    on it), as Opacus and dp-accounting do. Under add/remove neighbours N itself differs by one, so
    for `dpsgd` an observer who knows every other record learns a record's membership from N alone;
    the guarantee that holds with N public is the one between datasets of the same size, the
    replace-one ε the report prints beside the add/remove one.
    """
    base = (f"N = {n} training rows is released exactly and treated as public (as in Opacus and dp-accounting); "
            "q = b/N, the step count and σ depend on it.")
    if level == "record":
        return base + (" Under add/remove, N alone tells an observer who knows every other record whether a "
                       "record was in: with N public, the guarantee that holds is the replace-one ε (datasets of "
                       "the same size), reported beside the add/remove ε.")
    return base + " Feature-level DP does not hide membership, so N reveals nothing it protects."


ACCOUNTANTS = ("pld", "rdp")

# The PLD accountant's default discretisation (1e-4) is used for reported ε. Calibration and
# per-epoch ε use a coarser grid: with pessimistic estimates (dp-accounting's default) a coarser
# grid only *over*-states ε, so a σ calibrated on it also meets the target on the fine grid.
_FINE = 1e-4
_COARSE = 1e-3
# Below this σ the PLD grid gets very large (seconds per evaluation) and ε is far beyond any useful budget.
_SIGMA_MIN = 0.2
# The PLD accountant's memory grows with the number of composed steps (about 2.7 GiB for 1e5 steps at q = 0.16
# and sigma = 0.2, measured): more steps are refused before anything is allocated (RDP is cheap at any count).
MAX_PLD_STEPS = 100_000
MAX_STEPS = 1_000_000


def _accountant(name: str, relation: str, coarse: bool = False) -> dpa.PrivacyAccountant:
    one_of("accountant", name, ACCOUNTANTS)
    one_of("neighbouring relation", relation, RELATIONS)
    rel = RELATIONS[relation]
    if name == "rdp":
        if relation == "replace":
            raise UnsupportedError(
                "The RDP accountant cannot analyse Poisson sampling under the 'replace' relation "
                "(dp-accounting refuses it); use --accountant pld.")
        return rdp.RdpAccountant(neighboring_relation=rel)
    return pld.PLDAccountant(neighboring_relation=rel,
                             value_discretization_interval=_COARSE if coarse else _FINE)


def training_event(noise_multiplier: float, sample_rate: float, steps: int) -> dpa.DpEvent:
    """The DpEvent of `steps` Poisson-sampled Gaussian steps (clip norm C, noise std σ·C)."""
    return dpa.SelfComposedDpEvent(
        dpa.PoissonSampledDpEvent(sample_rate, dpa.GaussianDpEvent(noise_multiplier)), int(steps))


def _check(sample_rate: float, steps: int, delta: float, accountant: str | None = None) -> None:
    in_open_interval("sample_rate", sample_rate, 0.0, 1.0 + 1e-12)
    positive(steps=steps)
    in_open_interval("delta", delta, 0.0, 1.0)
    if steps > MAX_STEPS:
        raise ConfigError(f"The run would take {int(steps):,} noisy steps, more than fusiondp accepts "
                          f"({MAX_STEPS:,}).", hint="use fewer --epochs or a larger --batch-size")
    if accountant == "pld" and steps > MAX_PLD_STEPS:
        raise ConfigError(f"The PLD accountant cannot account for {int(steps):,} steps here (more than "
                          f"{MAX_PLD_STEPS:,} would need tens of GiB of memory).",
                          hint="use fewer --epochs, a larger --batch-size, or --accountant rdp")


def epsilon(*, noise_multiplier: float, sample_rate: float, steps: int, delta: float,
            relation: str = "remove", accountant: str = "pld", coarse: bool = False) -> float:
    """ε spent by `steps` DP-SGD steps, computed by dp-accounting.

    Args:
        noise_multiplier: σ, the noise std divided by the clipping norm C.
        sample_rate: Poisson sampling rate q = b / N.
        steps: number of noisy steps T.
        delta: target δ.
        relation: 'remove', 'replace' or 'add_remove' (see module docstring).
        accountant: 'pld' (default, tighter) or 'rdp' (the paper's).
        coarse: PLD only; a faster, slightly pessimistic grid (an upper bound of the fine value).
    """
    # Cached on the values alone (positional key): callers that name the same run with other keyword orders
    # or with a default left out share one dp-accounting computation (seconds each for PLD).
    return _epsilon(noise_multiplier, sample_rate, steps, delta, relation, accountant, coarse)


@functools.lru_cache(maxsize=4096)
def _epsilon(noise_multiplier: float, sample_rate: float, steps: int, delta: float, relation: str,
             accountant: str, coarse: bool) -> float:
    _check(sample_rate, steps, delta, accountant)
    if noise_multiplier == 0:
        return math.inf
    positive(noise_multiplier=noise_multiplier)
    if accountant == "pld" and coarse:
        # The per-epoch ε of a run: the one-step PLD is built once per (σ, q, relation) and self-composed for
        # each step count, which is what dp-accounting's PLDAccountant does for this event (it composes the
        # same self-composed PLD with its empty start); building it was half the cost of each evaluation.
        return float(_step_pld(float(noise_multiplier), float(sample_rate), relation).self_compose(int(steps))
                     .get_epsilon_for_delta(delta))
    acc = _accountant(accountant, relation, coarse)
    acc.compose(training_event(noise_multiplier, sample_rate, steps))
    return float(acc.get_epsilon(delta))


@functools.lru_cache(maxsize=64)
def _step_pld(noise_multiplier: float, sample_rate: float, relation: str):
    """The PLD of one Poisson-sampled Gaussian step on the coarse grid (dp-accounting builds it)."""
    one_of("neighbouring relation", relation, RELATIONS)
    return pld.privacy_loss_distribution.from_gaussian_mechanism(
        standard_deviation=noise_multiplier, value_discretization_interval=_COARSE, sampling_prob=sample_rate,
        neighboring_relation=RELATIONS[relation])


#: Relative tolerance of every noise calibration (a single run's σ and a search's per-candidate σ alike).
CALIBRATION_TOL = 1e-4


def calibrate(make_accountant: Callable[[], dpa.PrivacyAccountant], make_event: Callable[[float], dpa.DpEvent], *,
              target_epsilon: float, delta: float, spent: Callable[[float], float] | None = None,
              what: str = "the run") -> float:
    """The smallest noise multiplier σ (to :data:`CALIBRATION_TOL`) whose accounted ε is at most `target_epsilon`.

    The one noise calibration of fusiondp: dp-accounting's ``calibrate_dp_mechanism`` over
    ``make_event(σ)`` (one run, or a whole hyperparameter search as one event) from σ = 0.2 up, then a
    check that `spent(σ)` (the ε that will be reported; default: `make_accountant`'s) meets the budget.

    Raises:
        ConfigError: no σ ≥ 0.2 reaches the target, or the target is larger than σ = 0.2 already gives.
        BudgetError: the reported ε of the calibrated σ is above the target (never expected).
    """
    positive(target_epsilon=target_epsilon)

    def accounted(sigma: float) -> float:
        acc = make_accountant()
        acc.compose(make_event(sigma))
        return float(acc.get_epsilon(delta))

    try:
        sigma = float(dpa.calibrate_dp_mechanism(make_accountant, make_event, target_epsilon, delta,
                                                 bracket_interval=dpa.LowerEndpointAndGuess(_SIGMA_MIN, 1.0),
                                                 tol=CALIBRATION_TOL))
    except (NoBracketIntervalFoundError, ValueError):
        at_min = accounted(_SIGMA_MIN)
        if at_min <= target_epsilon:
            raise ConfigError(f"epsilon={target_epsilon:g} is larger than calibration can target: the smallest "
                              f"noise multiplier it searches ({_SIGMA_MIN}) already spends only epsilon="
                              f"{at_min:.4g} for {what}.", hint="give a smaller --epsilon, or fix the noise with "
                              "--noise-multiplier") from None
        raise ConfigError(f"No noise multiplier reaches epsilon={target_epsilon:g} at delta={delta:g} for {what}.",
                          hint="give a larger --epsilon or fewer --epochs") from None
    total = (spent or accounted)(sigma)
    if total > target_epsilon * (1 + 1e-9):  # never let calibration exceed the budget
        raise BudgetError(f"Calibrated sigma={sigma:.5f} spends epsilon={total:.4f} > target {target_epsilon} "
                          f"for {what}.")
    return sigma


def calibrate_noise(*, target_epsilon: float, sample_rate: float, steps: int, delta: float,
                    relation: str = "remove", accountant: str = "pld") -> float:
    """Smallest noise multiplier σ whose accounted ε for one run is at most `target_epsilon` (:func:`calibrate`).

    The search runs on the PLD accountant's coarse grid (pessimistic: a σ that meets the target there
    meets it on the fine grid); the check uses the fine grid that reports ε. Cached on the values alone,
    like :func:`epsilon`.
    """
    return _calibrate_noise(target_epsilon, sample_rate, steps, delta, relation, accountant)


@functools.lru_cache(maxsize=1024)
def _calibrate_noise(target_epsilon: float, sample_rate: float, steps: int, delta: float, relation: str,
                     accountant: str) -> float:
    positive(target_epsilon=target_epsilon)
    _check(sample_rate, steps, delta, accountant)
    _accountant(accountant, relation)  # validate names and support before searching
    return calibrate(lambda: _accountant(accountant, relation, coarse=True),
                     functools.partial(training_event, sample_rate=sample_rate, steps=steps),
                     target_epsilon=target_epsilon, delta=delta,
                     spent=lambda sigma: epsilon(noise_multiplier=sigma, sample_rate=sample_rate, steps=steps,
                                                 delta=delta, relation=relation, accountant=accountant),
                     what=f"q={sample_rate:.4g}, steps={steps}")


@dataclass(frozen=True)
class AccountingPlan:
    """Everything that defines the guarantee of one run, fixed before training starts."""

    noise_multiplier: float
    sample_rate: float
    steps: int
    delta: float
    relation: str
    accountant: str
    target_epsilon: float | None

    def spent(self, steps_done: int | None = None, *, coarse: bool = False) -> float:
        """ε after `steps_done` steps (all planned steps by default)."""
        steps = self.steps if steps_done is None else steps_done
        if steps <= 0:
            return 0.0
        return epsilon(noise_multiplier=self.noise_multiplier, sample_rate=self.sample_rate, steps=steps,
                       delta=self.delta, relation=self.relation, accountant=self.accountant, coarse=coarse)

    def event_json(self) -> dict:
        """The run's DpEvent in a JSON-friendly form."""
        return {"SelfComposedDpEvent": {"count": self.steps, "event": {"PoissonSampledDpEvent": {
            "sampling_probability": self.sample_rate,
            "event": {"GaussianDpEvent": {"noise_multiplier": self.noise_multiplier}}}}}}

    def to_dict(self) -> dict:
        return {"noise_multiplier": self.noise_multiplier, "sample_rate": self.sample_rate, "steps": self.steps,
                "delta": self.delta, "relation": self.relation, "accountant": self.accountant,
                "target_epsilon": self.target_epsilon}


def epsilon_by_relation(p: AccountingPlan, relations: tuple[str, ...], *, private_view: str | None = None,
                        level: str = "feature") -> dict[str, dict]:
    """ε of the same run (σ, q, steps, δ) under each relation in `relations`, plus the accounted one.

    The run's own relation keeps its accountant; the others use PLD (the RDP accountant cannot analyse
    Poisson sampling under replace-one). Each entry is ``{"epsilon", "accountant", "text"}``, the text
    from :func:`relation_text` for the method's `private_view` and `level`.
    """
    out = {p.relation: {"epsilon": p.spent(), "accountant": p.accountant}}
    for r in relations:
        if r == p.relation:
            continue
        out[r] = {"epsilon": epsilon(noise_multiplier=p.noise_multiplier, sample_rate=p.sample_rate,
                                     steps=p.steps, delta=p.delta, relation=r, accountant="pld"),
                  "accountant": "pld"}
    for r, entry in out.items():
        entry["text"] = relation_text(r, private_view=private_view, level=level)
    return out


def plan(*, sample_rate: float, steps: int, delta: float, relation: str, accountant: str,
         target_epsilon: float | None = None, noise_multiplier: float | None = None) -> AccountingPlan:
    """Fix σ for a run: calibrated to `target_epsilon`, or given explicitly and checked against it."""
    _check(sample_rate, steps, delta, accountant)
    if noise_multiplier is None:
        if target_epsilon is None:
            raise ConfigError("Give a target epsilon or an explicit noise multiplier.")
        noise_multiplier = calibrate_noise(target_epsilon=target_epsilon, sample_rate=sample_rate, steps=steps,
                                           delta=delta, relation=relation, accountant=accountant)
    p = AccountingPlan(float(noise_multiplier), float(sample_rate), int(steps), float(delta), relation,
                       accountant, target_epsilon)
    if target_epsilon is not None and p.spent() > target_epsilon * (1 + 1e-9):
        raise BudgetError(f"noise_multiplier={noise_multiplier} over {steps} steps spends epsilon="
                          f"{p.spent():.4f}, above the budget {target_epsilon}.")
    return p
