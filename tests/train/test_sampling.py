"""O(batch) sampling (fusiondp.train.sampling) has the law of Poisson subsampling / a uniform subset.

Each check below is a statistical test that a wrong sampler fails: the last tests run the same
checks on deliberately wrong samplers and expect AssertionError. Every draw is seeded, so each test
is deterministic; the thresholds are set so that a correct sampler fails with probability < 1e-4
on a fresh seed.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Callable

import numpy as np
import pytest
import torch
from scipy import stats

from fusiondp.errors import ConfigError
from fusiondp.train.sampling import poisson_subset, uniform_subset

Sampler = Callable[[torch.Generator], torch.Tensor]
P_MIN = 1e-4  # a correct sampler fails a check with at most this probability


def _draws(sample: Sampler, reps: int, seed: int = 0) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [sample(gen) for _ in range(reps)]


# ---- the checks (each raises AssertionError on a wrong sampler) --------------------------------

def _two_sided_binomial_p(counts: torch.Tensor, reps: int, p: float):
    """Two-sided exact tail probability of each count under Binomial(reps, p)."""
    c = counts.numpy()
    return (2 * np.minimum(stats.binom.cdf(c, reps, p), stats.binom.sf(c - 1, reps, p))).clip(max=1.0)


def check_valid_indices(draws: list[torch.Tensor], n: int) -> None:
    """int64 indices in range(n), ascending, no duplicates."""
    for s in draws:
        assert s.dtype == torch.int64 and s.dim() == 1
        assert s.numel() == 0 or (0 <= int(s.min()) and int(s.max()) < n), "index out of range"
        assert s.unique().numel() == s.numel(), "duplicate index in a batch"
        assert bool((s[1:] > s[:-1]).all()), "indices not ascending"


def check_inclusion_frequency(draws: list[torch.Tensor], n: int, q: float) -> None:
    """Every record's inclusion count ~ Binomial(reps, q): chi-square over records, and each record's z."""
    reps = len(draws)
    counts = torch.zeros(n, dtype=torch.float64)
    for s in draws:
        counts[s] += 1
    expected, var = reps * q, reps * q * (1 - q)
    z = (counts - expected) / math.sqrt(var)
    chi2 = float((z**2).sum())
    p = min(stats.chi2.sf(chi2, n), stats.chi2.cdf(chi2, n)) * 2
    assert p > P_MIN, f"per-record inclusion counts do not fit Binomial(reps, q): chi2={chi2:.1f}, df={n}"
    p_each = _two_sided_binomial_p(counts, reps, q)
    assert p_each.min() > P_MIN / n, f"a record's inclusion frequency is off: min p={p_each.min():.2g}"


def check_size_distribution(sizes: list[int], n: int, q: float) -> None:
    """Batch sizes ~ Binomial(n, q): mean, variance, and a binned chi-square goodness of fit."""
    x = torch.tensor(sizes, dtype=torch.float64)
    reps, mean, var = len(sizes), n * q, n * q * (1 - q)
    z_mean = (float(x.mean()) - mean) / math.sqrt(var / reps)
    assert abs(z_mean) < 4.5, f"mean batch size {float(x.mean()):.3f}, expected {mean:.3f} (z={z_mean:.1f})"
    # Sample variance: its standard error is about var·sqrt(2/(reps-1)) plus the excess-kurtosis term.
    kurt = (1 - 6 * q * (1 - q)) / (n * q * (1 - q)) if 0 < q < 1 else 0.0
    se = var * math.sqrt(2 / (reps - 1) + kurt / reps)
    z_var = (float(x.var()) - var) / se
    assert abs(z_var) < 4.5, f"batch size variance {float(x.var()):.3f}, expected {var:.3f} (z={z_var:.1f})"
    # Goodness of fit over bins of the Binomial(n, q) pmf, each bin with expected count >= 20.
    dist = stats.binom(n, q)
    edges, acc = [], dist.cdf(int(dist.ppf(1e-12)) - 1) * reps
    for k in range(int(dist.ppf(1e-12)), int(dist.isf(1e-12)) + 1):
        acc += dist.pmf(k) * reps
        if acc >= 20 and dist.sf(k) * reps >= 20:
            edges.append(k)
            acc = 0.0
    bins = [-1, *edges, n]
    observed = [sum(lo < s <= hi for s in sizes) for lo, hi in itertools.pairwise(bins)]
    expected = [(dist.cdf(hi) - dist.cdf(lo)) * reps for lo, hi in itertools.pairwise(bins)]
    chi2 = sum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True))
    p = stats.chi2.sf(chi2, len(bins) - 2)
    assert p > P_MIN, f"batch sizes do not fit Binomial({n}, {q}): chi2={chi2:.1f}, p={p:.2g}"


def check_pairwise_inclusion(draws: list[torch.Tensor], n: int, pair_prob: float) -> None:
    """Every pair of records is in the batch together with probability `pair_prob` (q² for Poisson)."""
    reps = len(draws)
    ind = torch.zeros(reps, n, dtype=torch.float64)
    for r, s in enumerate(draws):
        ind[r, s] = 1
    co = ind.T @ ind  # co[i, j]: batches holding both i and j
    iu = torch.triu_indices(n, n, offset=1)
    pairs = co[iu[0], iu[1]]
    p_each = _two_sided_binomial_p(pairs, reps, pair_prob)  # exact tails, Bonferroni over pairs
    assert p_each.min() > P_MIN / pairs.numel(), f"a pair's co-inclusion is off: min p={p_each.min():.2g}"


def check_exact_law(draws: list[torch.Tensor], n: int, prob: Callable[[frozenset], float]) -> None:
    """Chi-square of the observed subsets against the exact probability of every subset of range(n)."""
    seen = Counter(frozenset(s.tolist()) for s in draws)
    subsets = [frozenset(c) for k in range(n + 1) for c in itertools.combinations(range(n), k)]
    support = [s for s in subsets if prob(s) > 0]
    assert set(seen) <= set(support), "a subset outside the support was drawn"
    if len(support) == 1:
        return
    reps = len(draws)
    chi2 = sum((seen[s] - reps * prob(s)) ** 2 / (reps * prob(s)) for s in support)
    p = stats.chi2.sf(chi2, len(support) - 1)
    assert p > P_MIN, f"subsets do not follow the expected law: chi2={chi2:.1f}, df={len(support) - 1}, p={p:.2g}"


def check_generator_only(sample: Sampler) -> None:
    """Same generator state ⇒ same sample; the generator is consumed; the global torch RNG is untouched."""
    global_state = torch.get_rng_state()
    g1, g2 = torch.Generator().manual_seed(123), torch.Generator().manual_seed(123)
    a = [sample(g1) for _ in range(5)]
    torch.manual_seed(999)  # a different global state must not change anything
    b = [sample(g2) for _ in range(5)]
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True)), "same generator state gave another sample"
    assert len({tuple(x.tolist()) for x in a}) > 1, "successive draws are identical: the generator is not used"
    torch.set_rng_state(global_state)
    sample(torch.Generator().manual_seed(5))
    assert torch.equal(torch.get_rng_state(), global_state), "the global torch RNG was used"


def poisson_law(n: int, q: float) -> Callable[[frozenset], float]:
    return lambda s: q ** len(s) * (1 - q) ** (n - len(s))


def uniform_law(n: int, k: int) -> Callable[[frozenset], float]:
    return lambda s: 1 / math.comb(n, k) if len(s) == k else 0.0


def check_poisson(sample: Sampler, n: int, q: float, reps: int, seed: int = 0) -> None:
    """Every check of Poisson subsampling with rate q on range(n)."""
    draws = _draws(sample, reps, seed)
    check_valid_indices(draws, n)
    check_size_distribution([s.numel() for s in draws], n, q)
    check_inclusion_frequency(draws, n, q)
    check_pairwise_inclusion(draws, n, q * q)


# ---- the real samplers pass --------------------------------------------------------------------

@pytest.mark.parametrize(("n", "q"), [(20, 0.3), (40, 0.05), (12, 0.8)])
def test_poisson_subset_has_the_poisson_law(n, q):
    check_poisson(lambda g: poisson_subset(n, q, g), n, q, reps=6000)


def test_poisson_subset_on_a_large_table_has_binomial_sizes_and_even_inclusion():
    n, q = 1_000_000, 128 / 1_000_000
    draws = _draws(lambda g: poisson_subset(n, q, g), 3000, seed=1)
    check_valid_indices(draws, n)
    check_size_distribution([s.numel() for s in draws], n, q)
    # Inclusion is even over the table: the fraction of sampled indices in each of 10 equal blocks.
    blocks = torch.bincount(torch.cat(draws) // (n // 10), minlength=10).double()
    chi2 = float(((blocks - blocks.mean()) ** 2 / blocks.mean()).sum())
    assert stats.chi2.sf(chi2, 9) > P_MIN, blocks


@pytest.mark.parametrize(("n", "q"), [(4, 0.3), (5, 0.6)])
def test_poisson_subset_matches_the_exact_probability_of_every_subset(n, q):
    check_exact_law(_draws(lambda g: poisson_subset(n, q, g), 8000), n, poisson_law(n, q))


@pytest.mark.parametrize(("n", "k"), [(6, 2), (6, 3), (6, 4), (7, 6), (5, 5), (5, 0)])
def test_uniform_subset_gives_every_k_subset_the_same_probability(n, k):
    # k > n/2 goes through the complement branch; small n makes the refill rounds frequent.
    draws = _draws(lambda g: uniform_subset(n, k, g), 6000)
    check_valid_indices(draws, n)
    check_exact_law(draws, n, uniform_law(n, k))


def test_uniform_subset_on_larger_tables_is_uniform_per_record_and_per_pair():
    n, k = 30, 9
    draws = _draws(lambda g: uniform_subset(n, k, g), 6000, seed=2)
    check_valid_indices(draws, n)
    assert {s.numel() for s in draws} == {k}
    check_inclusion_frequency(draws, n, k / n)
    check_pairwise_inclusion(draws, n, k * (k - 1) / (n * (n - 1)))


@pytest.mark.parametrize(("n", "k"), [(1_000_000, 4096), (10_000, 4096), (10_000, 9_000), (1, 1)])
def test_uniform_subset_sizes_and_ranges(n, k):
    draws = _draws(lambda g: uniform_subset(n, k, g), 3)
    check_valid_indices(draws, n)
    assert all(s.numel() == k for s in draws)


def test_draws_come_only_from_the_given_generator():
    check_generator_only(lambda g: poisson_subset(50, 0.2, g))
    check_generator_only(lambda g: uniform_subset(50, 7, g))
    check_generator_only(lambda g: uniform_subset(50, 40, g))


def test_edge_rates_and_bad_arguments():
    g = torch.Generator().manual_seed(0)
    assert poisson_subset(10, 0.0, g).numel() == 0
    assert torch.equal(poisson_subset(10, 1.0, g), torch.arange(10))
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ConfigError):
            poisson_subset(10, bad, g)
    with pytest.raises(ConfigError):
        uniform_subset(10, 11, g)


# ---- the checks fail on wrong samplers ---------------------------------------------------------

def _fixed_size(n: int, q: float) -> Sampler:
    """Wrong: a batch of exactly round(qn) rows (sampling without replacement, not Poisson)."""
    return lambda g: torch.sort(torch.randperm(n, generator=g)[:round(q * n)]).values


def _contiguous_block(n: int, q: float) -> Sampler:
    """Wrong: Binomial size, every record in with probability q, but the batch is a cyclic block of rows."""
    def sample(g: torch.Generator) -> torch.Tensor:
        k = int(torch.binomial(torch.tensor(float(n)), torch.tensor(q), generator=g))
        start = int(torch.randint(0, n, (1,), generator=g))
        return torch.sort((start + torch.arange(k)) % n).values
    return sample


def _biased_rate(n: int, q: float) -> Sampler:
    """Wrong: the first record is left out more often (rate q/2) than the others."""
    def sample(g: torch.Generator) -> torch.Tensor:
        rates = torch.full((n,), q)
        rates[0] = q / 2
        return (torch.rand(n, generator=g) < rates).nonzero().squeeze(1)
    return sample


def test_the_checks_reject_a_fixed_size_batch():
    n, q = 20, 0.3
    with pytest.raises(AssertionError, match="batch size variance"):
        check_poisson(_fixed_size(n, q), n, q, reps=6000)
    with pytest.raises(AssertionError, match="expected law"):
        check_exact_law(_draws(_fixed_size(4, 0.5), 2000), 4, poisson_law(4, 0.5))


def test_the_checks_reject_a_non_uniform_subset_of_the_right_size():
    n, q = 20, 0.3
    draws = _draws(_contiguous_block(n, q), 6000)
    check_size_distribution([s.numel() for s in draws], n, q)  # size and per-record rate are right ...
    check_inclusion_frequency(draws, n, q)
    with pytest.raises(AssertionError, match="pair's co-inclusion"):  # ... but pairs are not independent
        check_pairwise_inclusion(draws, n, q * q)


def test_the_checks_reject_an_uneven_inclusion_rate():
    n, q = 20, 0.3
    with pytest.raises(AssertionError, match="inclusion"):
        check_inclusion_frequency(_draws(_biased_rate(n, q), 6000), n, q)


def test_the_checks_reject_a_wrong_law_on_small_tables():
    # The right support (all 3-subsets of 6) but the subsets holding record 0 twice as likely.
    def skewed(g: torch.Generator) -> torch.Tensor:
        while True:
            s = uniform_subset(6, 3, g)
            if 0 in s.tolist() or float(torch.rand(1, generator=g)) < 0.5:
                return s
    with pytest.raises(AssertionError, match="expected law"):
        check_exact_law(_draws(skewed, 6000), 6, uniform_law(6, 3))


def test_the_checks_reject_duplicates_and_the_global_rng():
    with pytest.raises(AssertionError, match="duplicate"):
        check_valid_indices(_draws(lambda g: torch.sort(torch.randint(0, 5, (4,), generator=g)).values, 50), 5)
    with pytest.raises(AssertionError):
        check_generator_only(lambda g: (torch.rand(50) < 0.2).nonzero().squeeze(1))
    with pytest.raises(AssertionError, match="global torch RNG"):
        check_generator_only(lambda g: poisson_subset(50, 0.2, g) if float(torch.rand(1)) < 2 else None)


# ---- secure mode: the OS CSPRNG sampler (geometric skipping) passes the same checks -------------
# It cannot be seeded: each check fails a correct sampler with probability at most P_MIN at every run.

def test_secure_poisson_subset_has_the_poisson_law():
    from fusiondp.privacy.randomness import SecureRandom

    check_poisson(lambda g: SecureRandom.poisson_subset(20, 0.3), 20, 0.3, reps=6000)


def test_secure_poisson_subset_matches_the_exact_probability_of_every_subset():
    from fusiondp.privacy.randomness import SecureRandom

    check_exact_law(_draws(lambda g: SecureRandom.poisson_subset(4, 0.3), 8000), 4, poisson_law(4, 0.3))
