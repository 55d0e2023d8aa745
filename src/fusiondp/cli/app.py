"""The `fusiondp` command line. Each command lives in its own module; only this file turns
errors into messages and exit codes (the codes are listed in `fusiondp.errors`).

Every failure prints one ``error:`` line (and at most one ``hint:`` line) on stderr, never a
traceback unless ``fusiondp --debug ...`` is given; warnings print as one ``warning:`` line.
"""

from __future__ import annotations

import functools
import os
import sys
import warnings
from collections.abc import Callable

import typer
from rich.markup import escape

from fusiondp.cli._console import CliConsole
from fusiondp.errors import (EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OUTPUT, EXIT_USAGE, FusionDPError)

app = typer.Typer(name="fusiondp", rich_markup_mode="rich", no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False,
                  context_settings={"help_option_names": ["-h", "--help"]},
                  help="Feature-level differentially private training (FusionDP).")
err = CliConsole(stderr=True)
_DEBUG = {"on": bool(os.environ.get("FUSIONDP_DEBUG"))}


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="Show the full traceback of an error.")) -> None:
    """Feature-level differentially private training (FusionDP)."""
    _DEBUG["on"] = debug or bool(os.environ.get("FUSIONDP_DEBUG"))


def fail(message: str, hint: str | None = None) -> None:
    """Print the one `error:` line (and optional `hint:` line) of a failure."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    if hint:
        err.print(f"[bold]hint:[/] {escape(hint)}", highlight=False, soft_wrap=True)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    err.print(f"[yellow]warning:[/] {escape(_one_line(message))}", highlight=False, soft_wrap=True)


def _internal(e: BaseException) -> str:
    if isinstance(e, MemoryError):
        return "out of memory."
    return f"internal error ({type(e).__name__}: {_one_line(e)})."


def command(name: str, group: typer.Typer | None = None) -> Callable:
    """Register a command (on `group`, default the root app) whose failures become one `error:` line and
    the exit code of their kind: FusionDPError → its `exit_code`, OSError → 3, Ctrl-C → 130, anything
    else → 4 (with `--debug` the traceback is shown instead)."""

    def register(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            try:
                with warnings.catch_warnings():  # restores the previous warning display afterwards
                    warnings.showwarning = _show_warning
                    return fn(*args, **kwargs)
            except typer.Exit:
                raise
            except FusionDPError as e:
                if _DEBUG["on"]:
                    raise
                fail(_one_line(e), e.hint)
                raise typer.Exit(code=e.exit_code) from None
            except KeyboardInterrupt:
                if _DEBUG["on"]:
                    raise
                fail("interrupted; no output was written.",
                     "a --checkpoint, when given, holds the last finished epoch: rerun the same command to resume")
                raise typer.Exit(code=EXIT_INTERRUPTED) from None
            except OSError as e:
                if _DEBUG["on"]:
                    raise
                fail(f"{e.strerror or type(e).__name__}: {e.filename or _one_line(e)}.")
                raise typer.Exit(code=EXIT_OUTPUT) from None
            except Exception as e:  # a bug: one line, the traceback only with --debug
                if _DEBUG["on"]:
                    raise
                fail(_internal(e), "rerun with `fusiondp --debug ...` and report the traceback")
                raise typer.Exit(code=EXIT_INTERNAL) from None

        (group or app).command(name)(wrapped)
        return fn

    return register


def _load_commands() -> None:
    from fusiondp.cli import train_cmd  # noqa: F401  (registers `train`)

    for module in ("impute_cmd", "demo_cmd", "predict_cmd", "report_cmd", "bench_cmd", "audit_cmd", "tune_cmd"):
        try:
            __import__(f"fusiondp.cli.{module}")
        except ModuleNotFoundError as e:  # a command not built yet
            if e.name != f"fusiondp.cli.{module}":
                raise


def run_cli(argv: list[str] | None = None) -> int:
    """Run the command line on `argv` (default sys.argv[1:]) and return its exit code.

    Usage errors (unknown option, a value of the wrong type) also become one `error:` line, exit code 2.
    """
    try:  # typer >= 0.24 vendors click as typer._click
        from typer._click.exceptions import ClickException, UsageError
    except ImportError:  # pragma: no cover - older typer on top of click
        from click.exceptions import ClickException, UsageError

    _load_commands()
    try:
        code = app(args=argv, prog_name="fusiondp", standalone_mode=False)
    except UsageError as e:
        ctx = getattr(e, "ctx", None)
        if not _one_line(e.format_message()):  # `fusiondp` alone: the help was shown
            return e.exit_code
        fail(_one_line(e.format_message()), f"see `{ctx.command_path if ctx else 'fusiondp'} --help`")
        return EXIT_USAGE
    except typer.Abort:
        fail("interrupted; no output was written.")
        return EXIT_INTERRUPTED
    except ClickException as e:
        fail(_one_line(e.format_message()))
        return e.exit_code
    except KeyboardInterrupt:
        fail("interrupted; no output was written.")
        return EXIT_INTERRUPTED
    return code if isinstance(code, int) else 0


def main() -> None:
    """Entry point of the `fusiondp` script."""
    sys.exit(run_cli())


if __name__ == "__main__":  # pragma: no cover
    main()
