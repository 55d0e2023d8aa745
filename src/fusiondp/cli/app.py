"""The `fusiondp` command line. Each command lives in its own module; only this
file turns fusiondp errors into a one-line message and exit code 1."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable

import typer
from rich.console import Console

from fusiondp.errors import FusionDPError

app = typer.Typer(name="fusiondp", rich_markup_mode="rich", no_args_is_help=True, add_completion=False,
                  context_settings={"help_option_names": ["-h", "--help"]},
                  help="Feature-level differentially private training (FusionDP).")
err = Console(stderr=True)


@app.callback()
def _root() -> None:
    """Feature-level differentially private training (FusionDP)."""


def command(name: str, group: typer.Typer | None = None) -> Callable:
    """Register a command (on `group`, default the root app) whose FusionDPError becomes `error: ...` and
    exit code 1."""

    def register(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except FusionDPError as e:
                err.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
                raise typer.Exit(code=1) from None

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


def main() -> None:
    """Entry point of the `fusiondp` script."""
    _load_commands()
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
    sys.exit(0)
