"""Where the randomness of a private run comes from.

The Gaussian noise and the Poisson sampling mask are the only things standing
between a released model and its training records. If they can be replayed
(a published ``--seed``), an attacker who knows the other records retrains once
per candidate value and finds the one that reproduces the released weights
exactly: ε is then infinite, and a known sampling mask voids amplification by
subsampling (docs/method.md §4 step 4, §8).

So both come from generators seeded from the operating system's entropy pool
(:func:`secrets.randbits`, a cryptographically secure source) at every run.
The seed is held in memory only: it is never stored in a report, model file,
checkpoint or log. ``--seed`` controls only what is public (model
initialisation, dropout masks, the order of public batches, data splits).

The generators themselves are PyTorch's Mersenne Twister: the *seed* is secret,
but the stream is not a cryptographic PRNG (Opacus's ``secure_mode`` adds
torchcsprng for that). The noise is never released directly, only added to a
clipped sum, which is the setting every DP-SGD implementation works in.

A test-only deterministic mode exists (``TrainConfig.insecure_noise_seed``)
so that tests can compare runs exactly. When it is on, every artefact says in
words that the guarantee does not hold (:data:`INSECURE_TEXT`).

>>> a, b = secret_generator(), secret_generator()
>>> bool((torch.rand(4, generator=a) != torch.rand(4, generator=b)).any())
True
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import torch

SECURE_TEXT = ("noise and Poisson sampling drawn from generators seeded from OS entropy at run time "
               "(never stored; --seed controls only model initialisation and public-batch order)")
INSECURE_TEXT = ("INSECURE TEST MODE: noise and Poisson sampling were seeded from a known value "
                 "(insecure_noise_seed); anyone with that value can replay them, so the privacy "
                 "guarantee stated here does NOT hold")


def secret_generator(device: str | torch.device = "cpu") -> torch.Generator:
    """A torch.Generator seeded with 63 bits of OS entropy; the seed is not kept anywhere."""
    gen = torch.Generator(device=device)
    gen.manual_seed(secrets.randbits(63))
    return gen


@dataclass(frozen=True)
class PrivateRandomness:
    """The two generators of a private run and whether they are secret.

    Attributes:
        sampler: draws the Poisson sampling mask.
        noise: draws the Gaussian noise added to the clipped sum.
        secure: False only in the test-only deterministic mode.
    """

    sampler: torch.Generator
    noise: torch.Generator
    secure: bool

    @property
    def text(self) -> str:
        return randomness_text(self.secure)


def private_randomness(insecure_seed: int | None = None, device: str | torch.device = "cpu") -> PrivateRandomness:
    """Fresh secret generators, or (tests only) generators replayable from `insecure_seed`."""
    if insecure_seed is None:
        return PrivateRandomness(secret_generator(device), secret_generator(device), True)
    sampler = torch.Generator(device=device).manual_seed(int(insecure_seed) * 2 + 1)
    noise = torch.Generator(device=device).manual_seed(int(insecure_seed) * 2 + 2)
    return PrivateRandomness(sampler, noise, False)


def randomness_text(secure: bool) -> str:
    """The one sentence a report prints about the run's randomness."""
    return SECURE_TEXT if secure else INSECURE_TEXT
