"""`fusiondp report`: turn a run's JSON report into a self-contained HTML page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from fusiondp.cli._console import CliConsole
from fusiondp.cli.app import INPUT, OUTPUT, command

out = CliConsole()


@command("report")
def report(
    run: Annotated[Path, typer.Argument(help="A JSON report written by `fusiondp train --report` or the demo."), INPUT],
    out_path: Annotated[Optional[Path], typer.Option("--out", help="HTML file to write (default: RUN with "
                                                                   ".html)."), OUTPUT]
    = None,
    quality: Annotated[Optional[Path], typer.Option("--imputation-quality", help="Quality JSON written by `fusiondp "
                                                    "impute --quality-out`, shown in the page's Imputation quality "
                                                    "section."), INPUT] = None,
) -> None:
    """Write an HTML page (privacy statement, metrics, imputation quality, training and ε plots; the tree learner's
    support-set selection and the blend's weight choice)."""
    from fusiondp._files import check_output
    from fusiondp.report.html import load_report, write_html

    target = check_output(out_path or run.with_suffix(".html"), what="--out", suffixes=[".html"])
    report = load_report(run)
    if quality is not None:
        report["imputation_quality"] = load_quality(quality)
    write_html(report, target)
    out.print(f"report: {out_path or run.with_suffix('.html')}")


def load_quality(path: Path) -> dict:
    """A quality JSON of `fusiondp impute --quality-out` (checked for its 'columns' entry)."""
    import json

    from fusiondp.errors import DataError

    from fusiondp._files import check_input

    if not path.exists():
        raise DataError(f"Imputation quality file not found: {path}")
    check_input(path, what="Imputation quality")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{path} is not a JSON file: {e}") from None
    except RecursionError:
        raise DataError(f"{path} is not an imputation quality file: its JSON is nested too deeply.") from None
    if not isinstance(data, dict) or not isinstance(data.get("columns"), dict):
        raise DataError(f"{path} is not an imputation quality file (no 'columns' entry); write one with "
                        "`fusiondp impute --quality-out`.")
    return data
