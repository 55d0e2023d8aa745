"""Shared argument checks with uniform messages (name and value always shown)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from fusiondp.errors import ConfigError


def positive(**kwargs: float) -> None:
    """Raise ConfigError unless every keyword value is a finite number > 0."""
    for name, value in kwargs.items():
        if value is None or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise ConfigError(f"Expected {name} > 0, got {name}={value!r}.")


def non_negative(**kwargs: float) -> None:
    """Raise ConfigError unless every keyword value is a finite number >= 0."""
    for name, value in kwargs.items():
        if value is None or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ConfigError(f"Expected {name} >= 0, got {name}={value!r}.")


def in_open_interval(name: str, value: float, low: float, high: float) -> None:
    """Raise ConfigError unless low < value < high."""
    if not isinstance(value, (int, float)) or not (low < value < high):
        raise ConfigError(f"Expected {low:g} < {name} < {high:g}, got {name}={value!r}.")


def one_of(name: str, value: Any, choices: Iterable[Any]) -> None:
    """Raise ConfigError unless value is one of choices."""
    choices = list(choices)
    if value not in choices:
        raise ConfigError(f"Unknown {name} {value!r}; choose one of {', '.join(map(str, choices))}.")
