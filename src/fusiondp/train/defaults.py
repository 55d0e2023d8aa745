"""Default settings derived from public quantities of a run (N, features, ε, δ, method).

`auto_settings` is a pure function: it reads no data, only the row count, the
feature count, the budget and the method, so it cannot leak a sensitive value
and it gives the same answer for two tables that differ only in their
sensitive values. Its constants live in ``defaults.json`` (tuned values are data,
not literals); docs/training.md, "Default settings", states the rule and the
evidence behind it.

The rule, for private methods:

* expected batch b = the largest power of two ≤ N / 8 (so the sampling rate
  q ≤ 1/8 keeps privacy amplification by sampling), between 32 and 1024;
* steps T = 13 · N / b (the 13 epochs selected on sepsis and Adult), kept within
  [100, 1000] so tiny tables still take enough steps and large ones stay fast;
* lr 0.3 (SGD); with optimizer 'adam' (the text model's own choice), 1e-3, and 1e-2 for `dpsgd`, whose
  whole step is noised (``adam_lr``; the SGD value diverges with Adam);
* projection radius M = 10 (the paper's) with SGD; none (M = ∞) with Adam, whose per-coordinate steps
  leave any fixed ball within a few hundred steps (``radius``);
* σ is what the accountant would calibrate for (ε, δ, q, T): it summarises how
  noisy a step is, and the tuned α (feature-level) and C (`dpsgd`) both follow
  it: α ≈ 0.668 / σ with C = 16, and `dpsgd`'s C ≈ 11.3 / σ, each rounded to a
  power of two and clamped to the range seen in tuning;
* then C is halved while the noise std of the weighted private gradient, w·σ·C/b (w = α, β or 1),
  exceeds 0.02 (every tuned anchor at b = 1024 is at or below 0.0225): this only acts on small
  tables, where b is small (added after the 442-row diabetes table failed; see
  docs/results/defaults.md).

Non-private methods use the same batch b, a public batch of b (no larger one: their step has no per-sample
work) and, unless the caller fixed the optimiser, Adam for 13 epochs (the private methods' step count) at lr
1e-2, or at the model's own Adam step (``adam_lr.public``, 1e-3) when the model states Adam; a caller's SGD
gets lr 0.3 and 39 epochs, a caller's Adam 1e-3 and 13 epochs; within [100, 3000] steps (``public`` in
defaults.json; issue 26: the paper's batch 128 with a 4096-row public batch made them the slowest runs, and
SGD needed 3x the private step count to match Adam's validation AUROC).
"""

from __future__ import annotations

import functools
import json
import logging
import math
from importlib.resources import files

from fusiondp._validate import in_open_interval, positive
from fusiondp.privacy.accounting import calibrate_noise
from fusiondp.train.methods import get_method

#: The TrainConfig fields that `auto_settings` chooses (None in a TrainConfig means "use the rule").
AUTO_FIELDS = ("epochs", "batch_size", "public_batch_size", "lr", "optimizer", "radius", "clip", "alpha", "beta")


@functools.lru_cache(maxsize=1)
def constants() -> dict:
    """The rule's constants (``fusiondp/train/defaults.json``)."""
    return json.loads(files("fusiondp.train").joinpath("defaults.json").read_text())


def _pow2(x: float, low: float, high: float, *, down: bool = False) -> float:
    """`x` rounded to the nearest power of two on a log scale (or down to one), clamped to [low, high]."""
    e = math.floor(math.log2(x)) if down else round(math.log2(x))
    return float(min(high, max(low, 2.0 ** e)))


def engine_steps(n_rows: int, batch: int, epochs: float) -> int:
    """T = max(1, ⌊epochs·N/b⌋): the number of steps the training engine runs (and the accountant counts)."""
    return max(1, int(epochs * n_rows / batch))


def _steps(n_rows: int, batch: int, epochs: float, min_steps: int, max_steps: int) -> tuple[int, float]:
    """(T, epochs) with T = ⌊epochs·N/b⌋ clamped; epochs adjusted so the engine counts exactly T steps."""
    steps = engine_steps(n_rows, batch, epochs)
    clamped = min(max_steps, max(min_steps, steps))
    if clamped == steps:
        return steps, float(epochs)
    return clamped, (clamped + 0.5) * batch / n_rows


def _shape(n_rows: int, batch: int, given_epochs: float | None, epochs: float, min_steps: int,
           max_steps: int) -> tuple[int, float]:
    """(T, epochs): the caller's epochs as the engine counts them, else the rule's, clamped (`_steps`)."""
    if given_epochs is not None:
        return engine_steps(n_rows, batch, given_epochs), float(given_epochs)
    return _steps(n_rows, batch, epochs, min_steps, max_steps)


def noise_for(n_rows: int, batch: int, steps: int, epsilon: float, delta: float, relation: str,
              accountant: str) -> float:
    """σ calibrated by dp-accounting for this run shape (cached; the engine's calibration reuses it)."""
    absl = logging.getLogger("absl")
    level = absl.level
    absl.setLevel(logging.ERROR)  # the RDP accountant logs harmless convergence warnings
    try:
        return calibrate_noise(target_epsilon=epsilon, sample_rate=batch / n_rows, steps=steps, delta=delta,
                               relation=relation, accountant=accountant)
    finally:
        absl.setLevel(level)


def auto_settings(n_rows: int, n_features: int, epsilon: float | None, delta: float, method: str, *,
                  relation: str = "remove", accountant: str = "pld",
                  noise_multiplier: float | None = None, optimizer: str | None = None,
                  preferred_optimizer: str = "sgd", batch_size: int | None = None,
                  epochs: float | None = None) -> dict:
    """Settings for one run from public quantities only.

    Args:
        n_rows: training rows N (public: the size of the training set).
        n_features: encoded input features (recorded; the current rule does not use it, see docs/training.md).
        epsilon, delta: the budget (ε may be None for a non-private method or when `noise_multiplier` is fixed).
        method: a method name from `fusiondp.train.methods.METHODS`.
        relation, accountant: as in TrainConfig; σ is computed as the run will compute it.
        noise_multiplier: a fixed σ, used instead of calibrating.
        optimizer: 'sgd' or 'adam' when the caller fixed it (a setting, or the optimiser a user's own loop
            brings); returned as given. None: the rule's choice, `preferred_optimizer` (the model's stated
            preference, public) for private methods and ``public.optimizer`` (Adam) for non-private ones.
            The learning rate and the projection radius depend on it.
        batch_size, epochs: values the caller fixed; the rule then works out σ, and from it C and α, for the
            run as it will really be shaped (T = ⌊epochs·N/b⌋, not clamped), instead of for its own b and T.

    Returns:
        A dict over :data:`AUTO_FIELDS`, plus ``noise_multiplier_estimate`` (σ used by the rule, or None).

    >>> s = auto_settings(14293, 36, 2.0, 1e-5, "fusiondp")
    >>> (s["batch_size"], s["epochs"], s["lr"], s["clip"], s["alpha"])
    (1024, 13.0, 0.3, 16.0, 0.25)
    """
    positive(n_rows=n_rows, n_features=n_features)
    in_open_interval("delta", delta, 0.0, 1.0)
    spec = get_method(method)
    k = constants()
    fl = k["feature_level"]
    p = k["private"]
    if batch_size is None:
        b = int(_pow2(n_rows / p["batch_rows_per_example"], p["batch_min"], p["batch_max"], down=True))
        b = min(b, n_rows)
    else:
        b = min(int(batch_size), n_rows)  # a b above N is the engine's error to report; σ needs q <= 1
    if not spec.is_private:
        # The same batch rule as the private methods, and the public batch is that batch: a non-private step
        # has no per-sample work, so nothing calls for the paper's 4096 public rows (issue 26 item 3).
        pub = k["public"]
        if optimizer is None:  # the rule's choice: Adam; the model's own Adam step if it states Adam
            optimizer = pub["optimizer"]
            lr = float(k["adam_lr"]["public"] if preferred_optimizer == "adam" else pub["adam_lr"])
        else:
            lr = _lr(pub["lr"], k, "public", optimizer)
        rule_epochs = pub["sgd_epochs"] if optimizer == "sgd" else pub["epochs"]
        steps, epochs = _shape(n_rows, b, epochs, rule_epochs, pub["min_steps"], pub["max_steps"])
        return {"epochs": epochs, "batch_size": b, "public_batch_size": b,
                "lr": lr, "clip": fl["clip"], "alpha": 1.0,
                "beta": fl["beta"], "optimizer": optimizer, "radius": _radius(k, optimizer),
                "noise_multiplier_estimate": None}
    optimizer = optimizer or preferred_optimizer
    steps, epochs = _shape(n_rows, b, epochs, p["epochs"], p["min_steps"], p["max_steps"])
    if noise_multiplier is not None:
        sigma = float(noise_multiplier)
    else:
        positive(epsilon=epsilon)
        sigma = noise_for(n_rows, b, steps, float(epsilon), delta, spec.relation(relation), accountant)
    out = {"epochs": epochs, "batch_size": b, "public_batch_size": int(p["public_batch_size"]),
           "lr": _lr(p["lr"], k, "private", optimizer),
           "clip": fl["clip"], "alpha": 1.0, "beta": fl["beta"], "optimizer": optimizer,
           "radius": _radius(k, optimizer), "noise_multiplier_estimate": sigma}
    if spec.private_term == "diff":  # fdp, fdp_fm, fusiondp
        out["alpha"] = _pow2(fl["alpha_times_sigma"] / max(sigma, 1e-9), fl["alpha_min"], fl["alpha_max"])
        weight = out["alpha"]
    elif spec.mix == "convex":  # naive_fusion (feature-level replace-one) and any other convex mix
        out["clip"], out["beta"] = float(k["naive_fusion"]["clip"]), float(k["naive_fusion"]["beta"])
        weight = out["beta"]
    else:  # dpsgd
        d = k["dpsgd"]
        out["clip"] = _pow2(d["clip_times_sigma"] / max(sigma, 1e-9), d["clip_min"], d["clip_max"])
        out["lr"] = _lr(p["lr"], k, "dpsgd", optimizer)  # its own Adam lr: its whole step is noised
        weight = 1.0
    out["clip"] = _capped_clip(out["clip"], weight=weight, sigma=sigma, batch=b, cap=k["noise_cap"])
    return out


def _lr(sgd_lr: float, k: dict, kind: str, optimizer: str) -> float:
    """The learning rate for `optimizer`: the SGD constant, or ``adam_lr[kind]`` for Adam."""
    return float(k["adam_lr"][kind]) if optimizer == "adam" else float(sgd_lr)


def _radius(k: dict, optimizer: str) -> float:
    """The projection radius M for `optimizer` (``radius`` in defaults.json; null there means no projection)."""
    m = k["radius"][optimizer]
    return math.inf if m is None else float(m)


def _capped_clip(clip: float, *, weight: float, sigma: float, batch: int, cap: dict) -> float:
    """Lower C (by powers of two) until the private gradient's noise std w·σ·C/b is within the cap.

    On large tables (b = 1024) the cap never acts; on small ones b is small and the noise of the
    averaged private gradient would swamp the step (docs/results/defaults.md, diabetes).
    """
    limit = float(cap["max_noise_std"])
    while weight * sigma * clip / batch > limit and clip / 2 >= float(cap["clip_floor"]):
        clip /= 2
    return clip
