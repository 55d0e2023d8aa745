"""Schedules of the private term's weight α over training (a lever beyond the paper).

`TrainConfig.alpha_schedule` names how the weight α of the noised private term moves from step to step;
α itself is the weight at the last step. After public-data-assisted mirror descent (Amid, Ganesh,
Mathews, Ramaswamy, Song, Steinke, Suriyakumar, Thakkar, Thakurta: "Public Data-assisted Mirror Descent
for Private Model Training", ICML 2022), whose update starts from the geometry of the public loss and
shifts weight to the private gradient as training goes on: early steps follow the noise-free hybrid
gradient (cheap progress, no noise), late steps optimise the full objective L = public + α·private, so
the point training converges to is the one the constant-α run aims at.

* ``constant``: α at every step (the paper);
* ``linear_up``: α·(t+1)/T;
* ``cosine_up``: α·(1 − cos(π(t+1)/T))/2 (slower start, slower finish).

Privacy: the weight at step t depends only on t, T and α, all fixed before training and independent of
the data; multiplying the clipped, noised sum by it is post-processing, so ε is unchanged (the noise
added to the sum is still σC per coordinate, whatever weight it is given afterwards).

>>> [round(alpha_at("linear_up", 0.5, t, 4), 3) for t in range(4)]
[0.125, 0.25, 0.375, 0.5]
"""

from __future__ import annotations

import math

from fusiondp.errors import ConfigError

SCHEDULES = ("constant", "linear_up", "cosine_up")


def alpha_at(schedule: str, alpha: float, step: int, total_steps: int) -> float:
    """The weight of the private term at `step` (0-based) of `total_steps`; equals `alpha` at the last step."""
    frac = min(1.0, (step + 1) / max(1, total_steps))
    if schedule == "constant":
        return alpha
    if schedule == "linear_up":
        return alpha * frac
    if schedule == "cosine_up":
        return alpha * (1.0 - math.cos(math.pi * frac)) / 2.0
    raise ConfigError(f"Unknown alpha_schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}.")
