"""`fusiondp report`: turn a run's JSON report into a self-contained HTML page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from fusiondp.cli._console import CliConsole
from fusiondp.cli.app import command

out = CliConsole()


@command("report")
def report(
    run: Annotated[Path, typer.Argument(help="A JSON report written by `fusiondp train --report` or the demo.")],
    out_path: Annotated[Optional[Path], typer.Option("--out", help="HTML file to write (default: RUN with .html).")]
    = None,
) -> None:
    """Write an HTML page (privacy statement, metrics, imputation quality, training and ε plots)."""
    from fusiondp.report.html import write_html

    target = out_path or run.with_suffix(".html")
    out.print(f"report: {write_html(run, target)}")
