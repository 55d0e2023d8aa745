"""The small error hierarchy of fusiondp and the exit code of each kind of failure.

Library code raises these; only the CLI turns them into messages and exit codes
(`fusiondp.cli.app`). Every error may carry one ``hint``: what to do about it,
printed by the CLI as a second line (``hint: ...``).

Exit codes of the ``fusiondp`` command (documented in docs/reliability.md):

====  =====================================================================
0     success
1     refused: a bad setting, unusable input data, a bad model or checkpoint file,
      a budget that cannot be met, an unsupported combination
2     command-line usage error (unknown option, a value of the wrong type)
3     an output cannot be written (folder not writable, full disk, ...); nothing was left behind
4     internal error (a bug): rerun with ``fusiondp --debug ...`` and report the traceback
130   interrupted (Ctrl-C / SIGINT); no output was written
====  =====================================================================
"""

from __future__ import annotations

EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_OUTPUT = 3
EXIT_INTERNAL = 4
EXIT_INTERRUPTED = 130


class FusionDPError(Exception):
    """Base class of every error fusiondp raises on purpose.

    Args:
        message: one sentence saying what is wrong (never quoting a training value).
        hint: optional; what the user can do about it.
    """

    exit_code = EXIT_REFUSED

    def __init__(self, message: str = "", *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


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


class CheckpointError(FusionDPError):
    """A checkpoint that cannot be read, is corrupted, or belongs to another run (data or settings)."""


class OutputError(FusionDPError):
    """An output path that cannot be used, or a write that failed (nothing is left behind)."""

    exit_code = EXIT_OUTPUT


class PrivacyLeakWarning(RuntimeWarning):
    """Something would let private information outside the accountant (a data-dependent bound, ...)."""


class DataWarning(UserWarning):
    """Preprocessing did something the user should know about (an empty column, unseen categories, ...)."""


class DistributedError(FusionDPError):
    """A multi-process run failed: a rank died, timed out, or could not join the process group."""
