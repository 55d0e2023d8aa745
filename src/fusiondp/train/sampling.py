"""Batch index draws in O(batch) time: Poisson subsampling and uniform fixed-size subsets.

The training loop draws two index sets per step: the private batch (Poisson subsampling with rate
q, docs/method.md §4 step 2, from the secret sampler) and the public batch (a uniform subset of P rows,
from the public ``--seed`` generator). Drawing them as ``rand(N) < q`` and ``randperm(N)[:P]``
costs O(N) per step, so an epoch (N / b steps) costs O(N²); here both cost O(batch).

**Why this is the same mechanism as Poisson sampling.** Poisson sampling includes each of the N
records independently with probability q, so a given set s of size k is the batch with
probability q^k (1-q)^(N-k). :func:`poisson_subset` first draws the size k ~ Binomial(N, q),
probability C(N, k) q^k (1-q)^(N-k), then a set uniformly among the C(N, k) sets of that size,
probability 1 / C(N, k). Their product is q^k (1-q)^(N-k) again, for every s: the two
procedures have the same law, hence they are the same randomised mechanism, and the accountant's
``PoissonSampledDpEvent(q, ...)`` applies unchanged. (Bit for bit the streams differ, so runs
with ``insecure_noise_seed`` draw other batches than before this module.)

**Why the fixed-size subset is uniform.** Of an endless sequence of iid uniform draws from
range(N), take the first k distinct values. Relabelling the records by any permutation π of
range(N) maps the sequence to one with the same law, and maps the set to its image under π, so
every k-set has the same probability. The set depends only on the sequence, not on how many
draws are made at a time, so drawing in chunks (and more chunks when too few distinct values
came out) changes nothing. The expected number of draws is Σ_{i<k} N / (N - i) ≤ 2k for
k ≤ N / 2; for k > N / 2 the complement of a uniform (N - k)-subset is drawn instead (also
uniform). Each uniform integer is a 62-bit draw kept only below the largest multiple of N
(rejection), so there is no modulo bias.

Every draw comes from the generator passed in (never the global RNG): in a torch.distributed
group every rank calls these functions with the same secret sampler state and gets the same set.
The size draw uses ``torch.binomial`` in double precision.
"""

from __future__ import annotations

import torch

from fusiondp.errors import ConfigError

_SPAN = 1 << 62  # 62-bit draws: torch.randint takes a 64-bit word for ranges of 2**32 and up


def _uniform_ints(n: int, m: int, generator: torch.Generator) -> torch.Tensor:
    """About `m` iid uniform integers in range(n), exactly uniform (rejection of the few top draws)."""
    raw = torch.randint(0, _SPAN, (m,), generator=generator, dtype=torch.int64)
    return raw[raw < (_SPAN // n) * n] % n


def _first_distinct(draws: torch.Tensor, k: int) -> torch.Tensor:
    """The first `k` distinct values of `draws` in draw order (fewer if `draws` has fewer)."""
    values, inverse = torch.unique(draws, return_inverse=True)
    first = torch.full((values.numel(),), draws.numel(), dtype=torch.int64)
    first.scatter_reduce_(0, inverse, torch.arange(draws.numel()), reduce="amin")
    return values[torch.argsort(first)[:k]]


def uniform_subset(n: int, k: int, generator: torch.Generator) -> torch.Tensor:
    """A uniformly random k-subset of range(n), sorted ascending, in O(k) expected time.

    Args:
        n: population size (rows).
        k: subset size, 0 <= k <= n.
        generator: the only source of randomness used (a CPU torch.Generator).

    Returns:
        int64 tensor of k distinct indices, ascending.
    """
    if not 0 <= k <= n:
        raise ConfigError(f"A subset of {k} rows out of {n}: expected 0 <= k <= n.")
    if 2 * k > n:
        keep = torch.ones(n, dtype=torch.bool)
        keep[uniform_subset(n, n - k, generator)] = False
        return keep.nonzero().squeeze(1)
    draws = torch.empty(0, dtype=torch.int64)
    chosen = draws
    while chosen.numel() < k:
        # The expected number of draws still needed is at most (k - found) · n / (n - k + 1).
        need = k - chosen.numel()
        draws = torch.cat([draws, _uniform_ints(n, -(-need * n // (n - k + 1)) + 8, generator)])
        chosen = _first_distinct(draws, k)
    return torch.sort(chosen).values


def poisson_subset(n: int, q: float, generator: torch.Generator) -> torch.Tensor:
    """Poisson subsampling of range(n) with rate q (each index independently with probability q).

    Drawn as k ~ Binomial(n, q), then :func:`uniform_subset` (n, k): the same law (module docstring),
    in O(k) expected time instead of O(n).

    Returns:
        int64 tensor of the sampled indices, ascending (possibly empty).
    """
    if not 0.0 <= q <= 1.0:
        raise ConfigError(f"Sampling rate q={q!r}: expected 0 <= q <= 1.")
    if not isinstance(generator, torch.Generator):  # the OS CSPRNG (fusiondp.privacy.randomness.SecureRandom)
        return generator.poisson_subset(n, q)
    size = torch.binomial(torch.tensor(float(n), dtype=torch.float64), torch.tensor(float(q), dtype=torch.float64),
                          generator=generator)
    return uniform_subset(n, int(size.item()), generator)
