"""The small error hierarchy of fusiondp.

Library code raises these; only the CLI turns them into messages and exit codes.
"""

from __future__ import annotations


class FusionDPError(Exception):
    """Base class of every error fusiondp raises on purpose."""


class ConfigError(FusionDPError, ValueError):
    """A bad argument, option or setting (the message names it and its value)."""


class DataError(FusionDPError, ValueError):
    """Input data that cannot be used as given (missing column, misaligned rows, ...)."""


class UnsupportedError(FusionDPError):
    """A combination the library refuses rather than answering wrongly (e.g. RDP under replace-one)."""


class BudgetError(FusionDPError):
    """A run would spend more privacy budget than it was given."""


class BackendUnavailableError(FusionDPError, ImportError):
    """An optional backend (package or local weights) is not available here."""


class ModelFileError(FusionDPError):
    """A saved model file that is not a fusiondp model, is corrupted, or has an unknown version."""


class PrivacyLeakWarning(RuntimeWarning):
    """Something would let private information outside the accountant (a data-dependent bound, ...)."""


class DistributedError(FusionDPError):
    """A multi-process run failed: a rank died, timed out, or could not join the process group."""
