"""The `fusiondp` command line. Each command lives in its own module; only this file turns
errors into messages and exit codes (the codes are listed in `fusiondp.errors`).

Every failure prints one ``error:`` line (and at most one ``hint:`` line) on stderr, never a
traceback unless ``fusiondp --debug ...`` is given; warnings print as one ``warning:`` line.

Every file or folder option of every command declares its role with a marker in its annotation,
``Annotated[Path, typer.Option("--out", ...), OUTPUT]`` or ``..., INPUT]`` (`PATH_ROLES` collects them).
Before a command runs, an output that names one of its inputs is refused (exit 1), and the command
then runs in a `fusiondp._files.run_scope` holding its inputs, so no file it writes, derived outputs
included, can replace one (docs/reliability.md).
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import typing
import warnings
from collections.abc import Callable
from pathlib import Path

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


class PathRole:
    """Marker of a file or folder option in a command's annotation: `INPUT` (read) or `OUTPUT` (written)."""

    def __init__(self, role: str) -> None:
        self.role = role

    def __repr__(self) -> str:
        return self.role.upper()


INPUT = PathRole("input")
OUTPUT = PathRole("output")

#: command path (e.g. "train", "audit attribute") -> {parameter name: (option name, "input" | "output")}
PATH_ROLES: dict[str, dict[str, tuple[str, str]]] = {}
#: "command option" of every Path parameter declared without a marker (treated as an input; a test keeps it empty)
UNMARKED: set[str] = set()


def _is_path(tp) -> bool:
    """True for Path, Optional[Path], list[Path] and Optional[list[Path]]."""
    if tp is Path or (isinstance(tp, type) and issubclass(tp, Path)):
        return True
    return any(_is_path(a) for a in typing.get_args(tp) if a is not type(None))


def _path_roles(fn: Callable, command_path: str = "") -> dict[str, tuple[str, str]]:
    """{parameter: (option name, role)} of every file/folder parameter of a command; a Path parameter without
    a marker counts as an input (never written over) and is listed in `UNMARKED`, which
    tests/robustness/test_outputs.py keeps empty."""
    import typer.models

    roles = {}
    for name, hint in typing.get_type_hints(fn, include_extras=True).items():
        meta = getattr(hint, "__metadata__", ())
        base = typing.get_args(hint)[0] if meta else hint
        marks = [m for m in meta if isinstance(m, PathRole)]
        if not marks and not _is_path(base):
            continue
        info = next((m for m in meta if isinstance(m, typer.models.ParameterInfo)), None)
        # In `Annotated`, typer.Option's first positional (its `default` here) is the option's first name.
        names = [getattr(info, "default", None), *(getattr(info, "param_decls", None) or ())]
        decls = [d for d in names if isinstance(d, str) and d.startswith("--")]
        option = decls[0].split("/")[0] if decls else name.upper()
        roles[name] = (option, marks[0].role if marks else "input")
        if not marks:
            UNMARKED.add(f"{command_path} {option}")
    return roles


def _paths(value) -> list:
    if value is None:
        return []
    return [v for v in value if v is not None] if isinstance(value, (list, tuple)) else [value]


@contextlib.contextmanager
def _inputs_guarded(roles: dict[str, tuple[str, str]], kwargs: dict):
    """Run a command in a scope holding its input options; refuse an output option that names one of them."""
    from fusiondp._files import refuse_input, run_scope

    inputs = [(opt, p) for name, (opt, role) in roles.items() if role == "input" for p in _paths(kwargs.get(name))]
    outputs = [(opt, p) for name, (opt, role) in roles.items() if role == "output" for p in _paths(kwargs.get(name))]
    with run_scope(inputs):
        for opt, p in outputs:
            refuse_input(p, opt)
        yield


def _internal(e: BaseException) -> str:
    if isinstance(e, MemoryError):
        return "out of memory."
    return f"internal error ({type(e).__name__}: {_one_line(e)})."


def command(name: str, group: typer.Typer | None = None) -> Callable:
    """Register a command (on `group`, default the root app) whose failures become one `error:` line and
    the exit code of their kind: FusionDPError → its `exit_code`, OSError → 3, Ctrl-C → 130, anything
    else → 4 (with `--debug` the traceback is shown instead)."""

    def register(fn: Callable) -> Callable:
        path = f"{group.info.name} {name}" if group is not None else name
        roles = PATH_ROLES[path] = _path_roles(fn, path)

        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            try:
                with warnings.catch_warnings():  # restores the previous warning display afterwards
                    warnings.showwarning = _show_warning
                    with _inputs_guarded(roles, kwargs):
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
