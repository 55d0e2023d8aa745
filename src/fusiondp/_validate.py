"""Shared argument checks with uniform messages (name and value always shown, as plain numbers)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from fusiondp.errors import ConfigError


def plain(value: Any) -> str:
    """A value as a plain Python literal: numpy scalars print as `76.0`, never `np.float64(76.0)`.

    >>> import numpy as np
    >>> plain(np.float64(76.0)), plain(np.int64(3)), plain("a"), plain(True)
    ('76.0', '3', "'a'", 'True')
    """
    if isinstance(value, (bool, str)) or value is None:
        return repr(value)
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()
    return repr(value)


def _number(value: Any) -> bool:
    """A real number, not a bool (True is an int in Python but never a sensible epsilon or batch size)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) or (
        hasattr(value, "dtype") and getattr(value, "ndim", 1) == 0 and value.dtype.kind in "iuf")


def positive(**kwargs: float) -> None:
    """Raise ConfigError unless every keyword value is a finite number > 0."""
    for name, value in kwargs.items():
        if value is None or not _number(value) or not math.isfinite(value) or value <= 0:
            raise ConfigError(f"Expected {name} > 0, got {name}={plain(value)}.")


def non_negative(**kwargs: float) -> None:
    """Raise ConfigError unless every keyword value is a finite number >= 0."""
    for name, value in kwargs.items():
        if value is None or not _number(value) or not math.isfinite(value) or value < 0:
            raise ConfigError(f"Expected {name} >= 0, got {name}={plain(value)}.")


def integer(name: str, value: Any, low: int, high: int) -> None:
    """Raise ConfigError unless `value` is an integer (not a bool) with low <= value <= high."""
    ok = (isinstance(value, int) and not isinstance(value, bool)) or (
        hasattr(value, "dtype") and getattr(value, "ndim", 1) == 0 and value.dtype.kind in "iu")
    if not ok or not low <= int(value) <= high:
        raise ConfigError(f"Expected an integer {low} <= {name} <= {high}, got {name}={plain(value)}.")


def in_open_interval(name: str, value: float, low: float, high: float) -> None:
    """Raise ConfigError unless low < value < high."""
    if not _number(value) or not (low < value < high):
        raise ConfigError(f"Expected {low:g} < {name} < {high:g}, got {name}={plain(value)}.")


def one_of(name: str, value: Any, choices: Iterable[Any]) -> None:
    """Raise ConfigError unless value is one of choices."""
    choices = list(choices)
    if isinstance(value, bool) or value not in choices:
        raise ConfigError(f"Unknown {name} {plain(value)}; choose one of {', '.join(map(str, choices))}.")
