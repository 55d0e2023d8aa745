"""Where the randomness of a private run comes from.

The Gaussian noise and the Poisson sampling mask are the only things standing
between a released model and its training records. If they can be replayed
(a published ``--seed``), an attacker who knows the other records retrains once
per candidate value and finds the one that reproduces the released weights
exactly: ε is then infinite, and a known sampling mask voids amplification by
subsampling (docs/method.md §4 step 4, §8).

So both are secret at every run, in one of two modes:

* **Secure mode (the default, ``TrainConfig.secure_rng=True``, CLI
  ``--secure-rng``).** Both are drawn from the operating system's
  cryptographically secure generator (:func:`os.urandom`, the kernel's
  ChaCha20-based CSPRNG): :class:`SecureRandom`. No generator state exists
  in the process to leak, guess or replay. Uniforms take the top 53 bits of
  64-bit words; Gaussians come from the Box–Muller transform in double
  precision, vectorised in torch. Against the floating-point attack on
  Gaussian samplers (Mironov 2012; Holohan & Braghin 2021: the set of
  doubles a sampler can emit depends on the mean, so a single draw can reveal
  it) each noise coordinate is the normalised sum of four draws,
  ``(z₁ + z₂ + z₃ + z₄) / 2`` (still exactly N(0, 1) in law), as Opacus's
  ``secure_mode`` does. The Poisson mask is drawn by geometric skipping: the
  gaps between sampled records are iid Geometric(q), each ⌊ln U / ln(1 − q)⌋
  for a CSPRNG uniform U, which is Poisson sampling (each record in with
  probability q, independently) in O(qN) draws.
* **OS-seeded mode (``secure_rng=False``, ``--no-secure-rng``).** PyTorch
  generators (Mersenne Twister for the noise, the same for the sampler)
  seeded with 63 bits of OS entropy (:func:`secrets.randbits`) at every run:
  the seed is secret, but the stream is not a cryptographic PRNG. The cost of
  secure mode is measured by ``python benchmarks/secure_noise.py``
  (docs/results/speed.md).

Either way nothing about the secret randomness is stored in a report, model
file, checkpoint or log, and ``--seed`` controls only what is public (model
initialisation, dropout masks, the order of public batches, data splits).

A test-only deterministic mode exists (``TrainConfig.insecure_noise_seed``)
so that tests can compare runs exactly. When it is on, every artefact says in
words that the guarantee does not hold (:data:`INSECURE_TEXT`).

>>> a, b = secret_generator(), secret_generator()
>>> bool((torch.rand(4, generator=a) != torch.rand(4, generator=b)).any())
True
>>> z = SecureRandom().gaussian((100_000,))
>>> abs(float(z.mean())) < 0.02 and abs(float(z.std()) - 1) < 0.02
True
"""

from __future__ import annotations

import math
import os
import secrets
from dataclasses import dataclass

import numpy as np
import torch

SECURE_TEXT = ("noise and Poisson sampling drawn from generators seeded from OS entropy at run time "
               "(never stored; --seed controls only model initialisation and public-batch order)")
CSPRNG_TEXT = ("noise and Poisson sampling drawn from the operating system's cryptographically secure generator "
               "(os.urandom; noise as the normalised sum of 4 Gaussian draws against floating-point attacks); "
               "nothing of it is stored; --seed controls only model initialisation and public-batch order")
INSECURE_TEXT = ("INSECURE TEST MODE: noise and Poisson sampling were seeded from a known value "
                 "(insecure_noise_seed); anyone with that value can replay them, so the privacy "
                 "guarantee stated here does NOT hold")
#: Gaussian draws summed (and divided by √DRAWS) per noise coordinate in secure mode.
DRAWS = 4


class SecureRandom:
    """Uniforms, Gaussians and Poisson subsets from the OS CSPRNG (`os.urandom`); holds no state.

    It stands in for a `torch.Generator` wherever the engine draws the secret noise or the
    Poisson mask (`fusiondp.train.step.add_noise`, `fusiondp.train.sampling.poisson_subset`).
    """

    device = torch.device("cpu")

    # Bits to uniforms in numpy; the Gaussian arithmetic in torch (vectorised transcendental functions).
    @staticmethod
    def _uniform(n: int) -> np.ndarray:
        words = np.frombuffer(os.urandom(8 * max(n, 0)), dtype=np.uint64)
        return ((words >> np.uint64(11)) + np.uint64(1)).astype(np.float64) * 2.0 ** -53  # top 53 bits

    @classmethod
    def uniform(cls, n: int) -> torch.Tensor:
        """`n` iid uniforms on (0, 1] in float64 (53 random bits each)."""
        return torch.from_numpy(cls._uniform(n))

    @classmethod
    def _standard_normal(cls, n: int) -> torch.Tensor:
        # Box–Muller in float64; the transcendental functions in torch (vectorised, about 3x numpy's cos/sin here).
        m = (n + 1) // 2
        u = torch.from_numpy(cls._uniform(2 * m))
        r = torch.sqrt(torch.log(u[:m]).mul_(-2.0))
        theta = u[m:].mul(2.0 * math.pi)
        return torch.cat([r * torch.cos(theta), r.mul_(torch.sin(theta))])[:n]

    @classmethod
    def standard_normal(cls, n: int) -> torch.Tensor:
        """`n` iid N(0, 1) draws in float64 (Box–Muller)."""
        return cls._standard_normal(n)

    @classmethod
    def gaussian(cls, shape, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """N(0, 1) noise of `shape`, each coordinate the sum of DRAWS draws divided by √DRAWS."""
        n = math.prod(shape)
        z = cls._standard_normal(DRAWS * n).view(DRAWS, n).sum(0).div_(math.sqrt(DRAWS))
        return z.view(tuple(shape)).to(dtype)

    @classmethod
    def poisson_subset(cls, n: int, q: float) -> torch.Tensor:
        """Each of range(n) independently with probability q, ascending (geometric skipping, O(qn) draws)."""
        if q <= 0.0 or n <= 0:
            return torch.empty(0, dtype=torch.int64)
        if q >= 1.0:
            return torch.arange(n, dtype=torch.int64)
        log1mq = math.log1p(-q)
        found = []
        last = -1  # index of the last record passed
        while last < n - 1:
            mean = q * (n - 1 - last)
            m = int(mean + 6.0 * math.sqrt(mean + 1.0)) + 16
            gaps = np.floor(np.log(cls._uniform(m)) / log1mq).astype(np.int64)  # Geometric(q) on {0, 1, ...}
            pos = last + np.cumsum(gaps + 1)
            found.append(pos[pos < n])
            last = int(pos[-1])
        return torch.from_numpy(np.concatenate(found))


def secret_generator(device: str | torch.device = "cpu") -> torch.Generator:
    """A torch.Generator seeded with 63 bits of OS entropy; the seed is not kept anywhere."""
    gen = torch.Generator(device=device)
    gen.manual_seed(secrets.randbits(63))
    return gen


@dataclass(frozen=True)
class PrivateRandomness:
    """The two sources of a private run and whether they are secret.

    Attributes:
        sampler: draws the Poisson sampling mask (a `torch.Generator` or `SecureRandom`).
        noise: draws the Gaussian noise added to the clipped sum.
        secure: False only in the test-only deterministic mode.
        local_sampling: in a process group, each rank draws the mask of its own shard from its own
            source (no secret leaves a rank; `fusiondp.train.distributed`).
    """

    sampler: torch.Generator | SecureRandom
    noise: torch.Generator | SecureRandom
    secure: bool
    local_sampling: bool = False

    @property
    def csprng(self) -> bool:
        return isinstance(self.noise, SecureRandom)

    @property
    def text(self) -> str:
        return randomness_text(self.secure, csprng=self.csprng)


def private_randomness(insecure_seed: int | None = None, device: str | torch.device = "cpu", *,
                       csprng: bool = True) -> PrivateRandomness:
    """Fresh secret sources (the OS CSPRNG, or OS-seeded torch generators), or (tests only) generators
    replayable from `insecure_seed`."""
    if insecure_seed is None:
        if csprng:
            return PrivateRandomness(SecureRandom(), SecureRandom(), True)
        return PrivateRandomness(secret_generator(device), secret_generator(device), True)
    sampler = torch.Generator(device=device).manual_seed(int(insecure_seed) * 2 + 1)
    noise = torch.Generator(device=device).manual_seed(int(insecure_seed) * 2 + 2)
    return PrivateRandomness(sampler, noise, False)


def gaussian_like(shape, dtype: torch.dtype, source: torch.Generator | SecureRandom) -> torch.Tensor:
    """N(0, 1) noise of `shape` from `source`, on the source's device."""
    if isinstance(source, SecureRandom):
        return source.gaussian(tuple(shape), dtype)
    return torch.randn(shape, generator=source, dtype=dtype, device=source.device)


def randomness_text(secure: bool, *, csprng: bool = False) -> str:
    """The one sentence a report prints about the run's randomness."""
    if not secure:
        return INSECURE_TEXT
    return CSPRNG_TEXT if csprng else SECURE_TEXT
