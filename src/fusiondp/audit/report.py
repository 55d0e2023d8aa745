"""Audit results as files: JSON, and the HTML page with an "Audit" section."""

from __future__ import annotations

from pathlib import Path


def model_report(saved) -> dict:
    """A run-report-like dict of a saved model (`fusiondp.io.SavedModel`), for `render_html`.

    The privacy record's names are mapped back by `fusiondp.report.record.privacy_to_report` (one table).
    """
    from fusiondp.report.record import privacy_to_report

    return privacy_to_report(saved.privacy, saved.metadata)


def write_json(path: str | Path, payload: dict) -> Path:
    """Write `payload` as JSON atomically (never half a file; see `fusiondp._files`)."""
    from fusiondp._files import json_text, write_file

    return write_file(Path(path), json_text(payload))


def audit_html(report: dict, audit: dict, *, title: str | None = None) -> str:
    """The run's HTML page (see `fusiondp.report.html`) with `audit` (``{"attribute"|"canary": result}``) added."""
    from fusiondp.report.html import render_html

    return render_html({**report, "audit": {**(report.get("audit") or {}), **audit}}, title=title)


def write_audit_html(report: dict, audit: dict, out: str | Path, *, title: str | None = None) -> Path:
    """Write `audit_html` to `out` atomically."""
    from fusiondp._files import write_file

    return write_file(Path(out), audit_html(report, audit, title=title))
