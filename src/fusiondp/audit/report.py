"""Audit results as files: JSON, and the HTML page with an "Audit" section."""

from __future__ import annotations

from pathlib import Path


def model_report(saved) -> dict:
    """A run-report-like dict of a saved model (`fusiondp.io.SavedModel`), for `render_html`."""
    p, meta = saved.privacy, saved.metadata
    return {"fusiondp_version": meta.get("fusiondp_version"), "method": p.get("method"),
            "method_summary": p.get("method_summary"), "privacy_level": p.get("level"),
            "epsilon": p.get("epsilon"), "target_epsilon": p.get("target_epsilon"), "delta": p.get("delta"),
            "neighbouring": p.get("relation"), "neighbouring_text": p.get("relation_text"),
            "accountant": p.get("accountant"), "noise_multiplier": p.get("noise_multiplier"),
            "sample_rate": p.get("sample_rate"), "steps": p.get("steps"), "clip": p.get("clip"), "ch": p.get("ch"),
            "labels": p.get("labels"), "dp_event": p.get("dp_event"), "schema": meta.get("schema"),
            "config": meta.get("config"), "metrics": meta.get("metrics") or {}, "history": []}


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
