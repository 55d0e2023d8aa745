"""Imputer registry: names -> classes (`--imputer NAME`)."""

from __future__ import annotations

from fusiondp._validate import one_of
from fusiondp.errors import ConfigError
from fusiondp.impute.base import Imputer
from fusiondp.impute.ensemble import EnsembleImputer
from fusiondp.impute.foundation import TabICLImputer, TabPFNImputer
from fusiondp.impute.simple import MeanImputer

DEFAULT_IMPUTER = "ensemble"
"""What `imputer="default"` means: the offline stacked tree/linear/kernel ensemble (`EnsembleImputer`)."""

IMPUTERS: dict[str, type[Imputer]] = {
    "ensemble": EnsembleImputer,
    "mean": MeanImputer,
    "tabpfn": TabPFNImputer,
    "tabicl": TabICLImputer,
}


def register_imputer(name: str, cls: type[Imputer], *, force: bool = False) -> None:
    """Add an imputer class under `name` (refuses to overwrite unless `force`).

    >>> from fusiondp.impute.simple import MeanImputer
    >>> register_imputer("my-mean", MeanImputer)
    >>> "my-mean" in IMPUTERS
    True
    >>> del IMPUTERS["my-mean"]
    """
    if not isinstance(cls, type) or not issubclass(cls, Imputer):
        raise ConfigError(f"register_imputer needs an Imputer subclass, got {cls!r}.")
    if name == "default" or (name in IMPUTERS and not force):
        raise ConfigError(f"An imputer named {name!r} is already registered; pass force=True to replace it.")
    IMPUTERS[name] = cls


def get_imputer(name: str = "default", **kwargs) -> Imputer:
    """A new, unfitted imputer by name; keyword arguments go to its constructor.

    >>> get_imputer("mean", random_state=1).name
    'mean'
    """
    key = DEFAULT_IMPUTER if name == "default" else name
    one_of("imputer", key, ["default", *IMPUTERS])
    try:
        return IMPUTERS[key](**kwargs)
    except TypeError as e:
        raise ConfigError(f"Bad option for imputer {name!r}: {e}.") from None
