"""Empirical lower bounds on ε from canary guesses (one-run auditing).

Reference: T. Steinke, M. Nasr, M. Jagielski, "Privacy Auditing with One (1)
Training Run", NeurIPS 2023 (arXiv:2305.08846), Theorem 3.1 and the p-value
procedure of its appendix (Algorithm "estimate ε lower bound").

Setting: m canaries, each with an independent uniform secret S_i ∈ {−1, +1}
(here: canary i's sensitive values are the planted ones, or their neighbouring
value). The auditor looks at the trained model and makes r guesses (abstaining
on the other m − r canaries); v of them are correct. If training is (ε, δ)-DP
with respect to flipping one S_i, Theorem 3.1 gives, for every v,

    P[#correct ≥ v] ≤ f(v) + 2·m·δ · max_{i=1..v} (f(v − i) − f(v)) / i,
    f(x) = P[W ≥ x],  W ~ Binomial(r, e^ε / (1 + e^ε)).

The right-hand side is a p-value for the null hypothesis "training is
(ε, δ)-DP". It grows with ε, so the largest ε that the observed v rejects at
level β is an empirical lower bound: with probability ≥ 1 − β over the secrets
and the training randomness, the true ε is at least that value. Here
f(v − i) − f(v) = P[v − i ≤ W < v] is accumulated from the binomial pmf.

>>> round(epsilon_lower_bound(m=1000, r=100, v=100, delta=0.0, confidence=0.95), 3)
3.493
>>> epsilon_lower_bound(m=1000, r=100, v=50, delta=1e-5)
0.0
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from fusiondp._validate import in_open_interval
from fusiondp.errors import ConfigError


def _check_counts(m: int, r: int, v: int) -> None:
    if not all(isinstance(k, (int, np.integer)) for k in (m, r, v)):
        raise ConfigError(f"m, r and v must be integers, got m={m!r}, r={r!r}, v={v!r}.")
    if not 0 <= v <= r <= m:
        raise ConfigError(f"Expected 0 <= correct guesses v <= guesses r <= canaries m, got v={v}, r={r}, m={m}.")


def p_value(m: int, r: int, v: int, epsilon: float, delta: float) -> float:
    """P-value of ≥ v correct guesses out of r under the null "(ε, δ)-DP" (Steinke et al. 2023, Thm 3.1).

    Args:
        m: canaries (each secret uniform in {−1, +1}, independent).
        r: guesses made (abstentions excluded).
        v: correct guesses.
        epsilon, delta: the DP guarantee under test.

    >>> round(p_value(10, 10, 10, 0.0, 0.0), 6) == round(0.5 ** 10, 6)
    True
    """
    _check_counts(m, r, v)
    if not (epsilon >= 0 and math.isfinite(epsilon)):
        raise ConfigError(f"Expected a finite epsilon >= 0, got epsilon={epsilon!r}.")
    if not 0 <= delta <= 1:
        raise ConfigError(f"Expected 0 <= delta <= 1, got delta={delta!r}.")
    q = 1.0 / (1.0 + math.exp(-epsilon))  # accuracy of ε-DP randomised response
    tail = float(stats.binom.sf(v - 1, r, q))  # f(v) = P[Binomial(r, q) >= v]
    alpha = 0.0
    if v > 0 and delta > 0:
        # sums[i-1] = P[v - i <= W < v] = f(v - i) - f(v), i = 1..v
        sums = np.cumsum(stats.binom.pmf(np.arange(v - 1, -1, -1), r, q))
        alpha = float(np.max(sums / np.arange(1, v + 1)))
    return min(1.0, tail + 2.0 * m * delta * alpha)


def epsilon_lower_bound(m: int, r: int, v: int, delta: float, confidence: float = 0.95, *,
                        tol: float = 1e-6) -> float:
    """The largest ε rejected at level 1 − `confidence` by `v` correct of `r` guesses on `m` canaries.

    Returns 0 when even ε = 0 is not rejected. Never negative; monotone non-decreasing in v.

    >>> epsilon_lower_bound(m=100, r=20, v=20, delta=0.0) > epsilon_lower_bound(m=100, r=20, v=19, delta=0.0)
    True
    """
    _check_counts(m, r, v)
    in_open_interval("confidence", confidence, 0.0, 1.0)
    beta = 1.0 - confidence
    if p_value(m, r, v, 0.0, delta) >= beta:
        return 0.0
    lo, hi = 0.0, 1.0
    while p_value(m, r, v, hi, delta) < beta:
        lo, hi = hi, hi * 2
        if hi > 1e3:  # v = r with δ = 0 and a vanishing p-value: astronomically large, report the cap
            return hi
    while hi - lo > tol:
        mid = (lo + hi) / 2
        if p_value(m, r, v, mid, delta) < beta:
            lo = mid
        else:
            hi = mid
    return lo


def best_lower_bound(rules: dict[str, tuple[int, int]], m: int, delta: float, confidence: float = 0.95) -> dict:
    """The best bound over several guess rules fixed before training, Bonferroni-corrected.

    Args:
        rules: rule name → (guesses r, correct guesses v).
        m, delta, confidence: as in `epsilon_lower_bound`; each rule is tested at level
            (1 − confidence) / len(rules), so the maximum over rules holds at `confidence`.

    Returns:
        ``{"rule", "guesses", "correct", "epsilon_lower_bound", "per_test_confidence", "per_guess_count"}``
        for the rule with the largest bound (``per_guess_count`` lists every rule).

    >>> best_lower_bound({"a": (10, 5), "b": (20, 20)}, m=100, delta=0.0)["rule"]
    'b'
    """
    if not rules:
        raise ConfigError("No guess rule to evaluate.")
    in_open_interval("confidence", confidence, 0.0, 1.0)
    level = 1.0 - (1.0 - confidence) / len(rules)
    rows = [{"rule": name, "guesses": int(r), "correct": int(v),
             "epsilon_lower_bound": epsilon_lower_bound(m, int(r), int(v), delta, level)}
            for name, (r, v) in rules.items()]
    best = max(rows, key=lambda d: (d["epsilon_lower_bound"], -d["guesses"]))
    return {**best, "per_test_confidence": level, "per_guess_count": rows}
