"""Public random streams derived from one seed with `numpy.random.SeedSequence.spawn`.

Every *public* use of a run's seed (the noise and reference views of the hybrid rows, the support-set draws
of fallback columns, the text views of the benchmark) gets its own child of ``SeedSequence(seed)``, at a
fixed position named in `STREAMS`, instead of an ad-hoc offset such as ``seed + 10_000``: children of a
SeedSequence are statistically independent by construction, while offset seeds may coincide across uses
(seed 10 000 of one stream is seed 0 of the next).

These streams are public and reproducible from the seed. The DP noise and the Poisson sampling never come
from here: they use the secret OS-seeded generators of `fusiondp.privacy.randomness`.

>>> a, b = stream(0, "views"), stream(0, "fallback_draws")
>>> bool(a.random() != b.random())
True
>>> float(stream(3, "views").random()) == float(stream(3, "views").random())
True
>>> torch_seed(0, "public_batches") != torch_seed(0, "views")
True
"""

from __future__ import annotations

import numpy as np

#: The public streams, in spawn order. Append new names at the end: a position, once used, keeps its meaning.
STREAMS = ("views", "fallback_draws", "text_views", "public_batches", "dropout", "baseline_init",
           "tree_guard_split", "tree_structures", "tree_guard_bootstrap")


def seed_sequence(seed: int, name: str, *path: int) -> np.random.SeedSequence:
    """The child of ``SeedSequence(seed)`` reserved for the stream `name`, and below it the child at `path`.

    Identical to ``SeedSequence(seed).spawn(len(STREAMS))[i]`` (then ``.spawn(k + 1)[k]`` for each `k` in
    `path`): a SeedSequence's children differ only by their spawn key, which is built here directly.

    >>> a = seed_sequence(5, "fallback_draws").spawn(3)[2].generate_state(2)
    >>> bool((a == seed_sequence(5, "fallback_draws", 2).generate_state(2)).all())
    True
    """
    if name not in STREAMS:
        raise ValueError(f"unknown public stream {name!r}; known: {', '.join(STREAMS)}")
    return np.random.SeedSequence(int(seed), spawn_key=(STREAMS.index(name), *map(int, path)))


def stream(seed: int, name: str, *path: int) -> np.random.Generator:
    """A numpy Generator on the public stream `name` (child `path`) of `seed`."""
    return np.random.default_rng(seed_sequence(seed, name, *path))


def torch_seed(seed: int, name: str, *path: int) -> int:
    """A 63-bit integer seed for torch on the public stream `name` (child `path`) of `seed`
    (e.g. ``torch.Generator().manual_seed(torch_seed(cfg.seed, "public_batches"))``)."""
    return int(seed_sequence(seed, name, *path).generate_state(1, np.uint64)[0] >> np.uint64(1))
