"""Training settings (defaults: the authors' sepsis settings, METHOD.md §5)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from fusiondp._validate import in_open_interval, integer, non_negative, one_of, plain, positive
from fusiondp.errors import ConfigError
from fusiondp.privacy.accounting import ACCOUNTANTS


@dataclass
class TrainConfig:
    """Hyperparameters of one run. Everything that bears on privacy is here, nothing is read from data.

    Attributes:
        epochs: passes over the private data; T = round(epochs · N / batch_size) steps.
        batch_size: expected private (Poisson) batch size b; q = b / N.
        public_batch_size: rows of the noise-free gradient per step (paper: 4096).
        lr, optimizer, momentum: the optimiser ('sgd' or 'adam').
        clip: clipping norm C of the private per-record term.
        alpha: weight of the private term; beta: consistency weight (convex mix for naive_fusion).
        radius: projection radius M of the parameters (inf to disable).
        ch: C_h of the consistency term; None measures it on public data at initialisation.
        ch_quantile: the quantile used when measuring C_h.
        epsilon, delta: the budget; noise_multiplier overrides calibration when given.
        relation: 'remove' or 'replace' (feature-level methods); accountant: 'pld' or 'rdp'.
        seed: seeds only what is public: model initialisation, dropout, public-batch order.
        insecure_noise_seed: TESTS ONLY. Seeds the Poisson sampling and the noise from a known value so
            runs can be compared exactly; every artefact then says the guarantee does not hold. None (the
            default) draws them from OS entropy (`fusiondp.privacy.randomness`).
        per_sample: how per-sample clipped sums are computed: 'auto' (ghost clipping for
            Linear/LayerNorm models, else vmap), 'ghost' or 'vmap'. All give the same result.
    """

    epochs: float = 13
    batch_size: int = 128
    public_batch_size: int = 4096
    lr: float = 0.07
    optimizer: str = "sgd"
    momentum: float = 0.0
    clip: float = 1.8
    alpha: float = 3.0
    beta: float = 0.5
    radius: float = 10.0
    ch: float | None = None
    ch_quantile: float = 0.9
    epsilon: float | None = 2.0
    delta: float = 1e-5
    noise_multiplier: float | None = None
    relation: str = "remove"
    accountant: str = "pld"
    seed: int = 0
    insecure_noise_seed: int | None = None
    per_sample: str = "auto"
    hidden: tuple[int, ...] = (64, 128, 64)
    dropout: float = 0.15

    def validate(self, n_train: int | None = None) -> None:
        """Raise ConfigError naming the first bad setting."""
        positive(epochs=self.epochs, batch_size=self.batch_size, public_batch_size=self.public_batch_size,
                 lr=self.lr, clip=self.clip)
        non_negative(alpha=self.alpha, beta=self.beta, momentum=self.momentum)
        integer("batch_size", self.batch_size, 1, 2**62)
        integer("public_batch_size", self.public_batch_size, 1, 2**62)
        integer("seed", self.seed, 0, 2**32 - 1)
        if self.insecure_noise_seed is not None:
            integer("insecure_noise_seed", self.insecure_noise_seed, 0, 2**32 - 1)
        if not (self.radius == math.inf or (isinstance(self.radius, (int, float)) and not isinstance(self.radius, bool)
                                            and self.radius > 0)):
            raise ConfigError(f"Expected radius > 0 (or inf), got radius={plain(self.radius)}.")
        one_of("optimizer", self.optimizer, ("sgd", "adam"))
        one_of("per_sample", self.per_sample, ("auto", "ghost", "vmap"))
        one_of("neighbouring relation", self.relation, ("remove", "replace"))
        one_of("accountant", self.accountant, ACCOUNTANTS)
        in_open_interval("ch_quantile", self.ch_quantile, 0.0, 1.0)
        if self.ch is not None:
            positive(ch=self.ch)
        if self.epsilon is not None:
            positive(epsilon=self.epsilon)
        if self.noise_multiplier is not None:
            non_negative(noise_multiplier=self.noise_multiplier)
        upper = 1.0 / n_train if n_train else 1.0
        if not (isinstance(self.delta, (int, float)) and not isinstance(self.delta, bool) and 0 < self.delta < upper):
            raise ConfigError(f"Expected 0 < delta < 1/N = {upper:.3g} (N = {n_train} training rows), "
                              f"got delta={plain(self.delta)}.")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        return d
