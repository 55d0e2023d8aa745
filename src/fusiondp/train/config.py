"""Training settings. Fields left at None are chosen by the rule of `fusiondp.train.defaults.auto_settings`
from public quantities (N, feature count, ε, δ, method) when training starts; explicit values win."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

from fusiondp._validate import in_open_interval, integer, non_negative, one_of, plain, positive
from fusiondp.errors import ConfigError
from fusiondp.privacy.accounting import ACCOUNTANTS
from fusiondp.train.schedules import SCHEDULES

#: The optimisers the engine builds.
OPTIMIZERS = ("sgd", "adam")


@dataclass
class TrainConfig:
    """Hyperparameters of one run. Everything that bears on privacy is here, nothing is read from data.

    The fields epochs, batch_size, public_batch_size, lr, clip, alpha and beta default to None: "auto", set
    by :meth:`resolve` (called by the engine) from `fusiondp.train.defaults.auto_settings`. ``config_source``
    then says, per field, whether the value came from the rule ('auto') or from the caller ('user').

    Attributes:
        epochs: passes over the private data; T = round(epochs · N / batch_size) steps.
        batch_size: expected private (Poisson) batch size b; q = b / N.
        public_batch_size: rows of the noise-free gradient per step (paper: 4096).
        lr, momentum: the optimiser's step size and (SGD) momentum.
        optimizer: 'sgd' or 'adam'; None ("auto"): private methods take the model's ``preferred_optimizer``
            (a public attribute of its class: Adam for `fusiondp.text.TextClassifier`), else SGD; the
            non-private references (`sgd_ori`, `sgd_hybrid`, `sgd_pub`) take Adam (docs/training.md).
        clip: clipping norm C of the private per-record term.
        alpha: weight of the private term; beta: consistency weight (convex mix for naive_fusion).
        radius: projection radius M of the parameters (inf to disable); auto: the paper's 10 with SGD, no
            projection with Adam (docs/training.md, "Default settings").
        ch: C_h of the consistency term; None measures it on public data at initialisation.
        ch_quantile: the quantile used when measuring C_h.
        epsilon, delta: the budget; noise_multiplier overrides calibration when given.
        relation: 'remove' or 'replace' (feature-level methods); accountant: 'pld' or 'rdp'.
        seed: seeds only what is public: model initialisation, dropout, public-batch order.
        insecure_noise_seed: TESTS ONLY. Seeds the Poisson sampling and the noise from a known value so
            runs can be compared exactly; every artefact then says the guarantee does not hold. None (the
            default) draws them from OS entropy (`fusiondp.privacy.randomness`).
        secure_rng: draw the secret noise and Poisson mask from the OS CSPRNG (`os.urandom`, secure mode,
            the default) instead of OS-seeded PyTorch generators (`fusiondp.privacy.randomness`; the cost is
            in docs/results/speed.md). Both are secret; ignored with insecure_noise_seed.
        warm_start_epochs: epochs of noise-free SGD on the hybrid rows (public: no budget) before the
            private steps, for methods whose public gradient reads hybrid rows (fdp_fm, fusiondp,
            naive_fusion); 0 disables. Ignored by the other methods (dpsgd may not read hybrid rows).
        projection_rank: k > 0 projects the private per-record term onto a rank-k subspace estimated from
            public stand-in records every few steps, clips it there and adds the noise in k dimensions
            (GEP-style, `fusiondp.train.projection`; same ε). Methods with a private term and a public
            gradient (fdp, fdp_fm, fusiondp, naive_fusion); refused for dpsgd (it may not read hybrid rows),
            ignored by the non-private methods. None (the default) disables it.
        alpha_schedule: how the private term's weight moves over the steps, ending at α:
            'constant' (the default, the paper), 'linear_up' or 'cosine_up' (`fusiondp.train.schedules`;
            same ε). Methods weighted by α (fdp, fdp_fm, fusiondp); refused for dpsgd and naive_fusion,
            ignored by the non-private methods.
        per_sample: how per-sample clipped sums are computed: 'auto' (ghost clipping for
            Linear/LayerNorm models, else vmap), 'ghost' or 'vmap'. All give the same result.
    """

    epochs: float | None = None
    batch_size: int | None = None
    public_batch_size: int | None = None
    lr: float | None = None
    optimizer: str | None = None
    momentum: float = 0.0
    clip: float | None = None
    alpha: float | None = None
    beta: float | None = None
    radius: float | None = None
    ch: float | None = None
    ch_quantile: float = 0.9
    epsilon: float | None = 2.0
    delta: float = 1e-5
    noise_multiplier: float | None = None
    relation: str = "remove"
    accountant: str = "pld"
    seed: int = 0
    insecure_noise_seed: int | None = None
    secure_rng: bool = True
    warm_start_epochs: float = 0.0
    projection_rank: int | None = None
    alpha_schedule: str = "constant"
    per_sample: str = "auto"
    hidden: tuple[int, ...] = (64, 128, 64)
    dropout: float = 0.15
    config_source: dict[str, str] | None = None

    @property
    def is_resolved(self) -> bool:
        return all(getattr(self, f) is not None for f in _auto_fields())

    def resolve(self, *, n_rows: int, n_features: int, method: str,
                preferred_optimizer: str = "sgd") -> "TrainConfig":
        """A copy with every None ("auto") field set by `auto_settings`; explicit values are kept.

        `preferred_optimizer` is the model's (`fusiondp.train.models.preferred_optimizer`), used by private
        methods when ``optimizer`` is None. Idempotent: a resolved config is returned unchanged.
        """
        if self.is_resolved and self.config_source is not None:
            return self
        auto = [f for f in _auto_fields() if getattr(self, f) is None]
        source = {f: ("auto" if f in auto else "user") for f in _auto_fields()}
        if not auto:
            return replace(self, config_source=source)
        from fusiondp.train.defaults import auto_settings

        rule = auto_settings(n_rows, n_features, self.epsilon, self.delta, method, relation=self.relation,
                             accountant=self.accountant, noise_multiplier=self.noise_multiplier,
                             optimizer=self.optimizer, preferred_optimizer=preferred_optimizer,
                             batch_size=self.batch_size,
                             epochs=self.epochs)
        values = {f: rule[f] for f in auto}
        return replace(self, **values, config_source=source)

    def validate(self, n_train: int | None = None) -> None:
        """Raise ConfigError naming the first bad setting."""
        given = lambda **kw: {k: v for k, v in kw.items() if v is not None}  # None: chosen by the rule later
        positive(**given(epochs=self.epochs, batch_size=self.batch_size, public_batch_size=self.public_batch_size,
                         lr=self.lr, clip=self.clip))
        non_negative(**given(alpha=self.alpha, beta=self.beta), momentum=self.momentum,
                     warm_start_epochs=self.warm_start_epochs)
        if self.batch_size is not None:
            integer("batch_size", self.batch_size, 1, 2**62)
        if self.public_batch_size is not None:
            integer("public_batch_size", self.public_batch_size, 1, 2**62)
        integer("seed", self.seed, 0, 2**32 - 1)
        if self.projection_rank is not None:
            integer("projection_rank", self.projection_rank, 1, 2**31 - 1)
        one_of("alpha_schedule", self.alpha_schedule, SCHEDULES)
        if not isinstance(self.secure_rng, bool):
            raise ConfigError(f"Expected secure_rng True or False, got secure_rng={plain(self.secure_rng)}.")
        if self.insecure_noise_seed is not None:
            integer("insecure_noise_seed", self.insecure_noise_seed, 0, 2**32 - 1)
        if self.radius is not None and not (
                self.radius == math.inf or (isinstance(self.radius, (int, float)) and not isinstance(self.radius, bool)
                                            and self.radius > 0)):
            raise ConfigError(f"Expected radius > 0 (or inf), got radius={plain(self.radius)}.")
        if self.optimizer is not None:
            one_of("optimizer", self.optimizer, OPTIMIZERS)
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


def _auto_fields() -> tuple[str, ...]:
    from fusiondp.train.defaults import AUTO_FIELDS

    return AUTO_FIELDS
