"""`fusiondp report`: turn a run's JSON report into a self-contained HTML page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from fusiondp.cli.app import command

out = Console()


@command("report")
def report(
    run: Annotated[Path, typer.Argument(help="A JSON report written by `fusiondp train --report` or the demo.")],
    out_path: Annotated[Optional[Path], typer.Option("--out", help="HTML file to write (default: RUN with .html).")]
    = None,
) -> None:
    """Write an HTML page (privacy statement, metrics, imputation quality, training and ε plots)."""
    from fusiondp._files import check_output
    from fusiondp.report.html import load_report, write_html

    target = check_output(out_path or run.with_suffix(".html"), what="--out", suffixes=[".html"], inputs=[run])
    write_html(load_report(run), target)
    out.print(f"report: {out_path or run.with_suffix('.html')}")
