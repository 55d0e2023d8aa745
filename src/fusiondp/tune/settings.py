"""Settings files: the selected hyperparameters of one method, as data (JSON).

`fusiondp tune` writes them; `fusiondp train --settings FILE` reads them (command-line options override the
file, and the file overrides the defaults rule). The file also records how the settings were chosen and what
the choice cost in privacy, so a results page can quote it.

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "s.json"
>>> _ = write_settings(p, "fusiondp", {"alpha": 0.25, "clip": 16.0})
>>> read_settings(p)["settings"]
{'alpha': 0.25, 'clip': 16.0}
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

from fusiondp.errors import ConfigError

FORMAT = "fusiondp-settings"
VERSION = 1
#: TrainConfig fields a settings file may set (privacy budget, seeds and test-only switches are not settings).
SETTABLE = ("epochs", "batch_size", "public_batch_size", "lr", "optimizer", "momentum", "clip", "alpha", "beta",
            "radius", "ch_quantile", "hidden", "dropout", "projection_rank", "alpha_schedule")


def _check(settings: dict) -> dict:
    from fusiondp.train.config import TrainConfig

    known = {f.name for f in fields(TrainConfig)}
    bad = [k for k in settings if k not in SETTABLE]
    if bad:
        why = "not a TrainConfig field" if any(k not in known for k in bad) else "not a tunable setting"
        raise ConfigError(f"Settings file holds {', '.join(map(repr, sorted(bad)))} ({why}); allowed: "
                          f"{', '.join(SETTABLE)}.")
    out = dict(settings)
    if "hidden" in out:
        hidden = out["hidden"]
        if not isinstance(hidden, (list, tuple)) or not all(
                isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in hidden):
            raise ConfigError(f"Settings file: 'hidden' must be a list of positive integers (layer widths), got "
                              f"{hidden!r}.")
        out["hidden"] = tuple(hidden)
    return out


def write_settings(path: str | Path, method: str, settings: dict, *, selection: dict | None = None) -> Path:
    """Write `settings` for `method` (with an optional record of the selection and its privacy cost)."""
    path = Path(path)
    body = {"format": FORMAT, "version": VERSION, "method": method,
            "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in _check(settings).items()},
            "selection": selection or {}}
    from fusiondp._files import write_file

    return write_file(path, json.dumps(body, indent=2, default=float))


def read_settings(path: str | Path) -> dict:
    """Read a settings file: ``{"method", "settings", "selection"}``; ConfigError if it is not one."""
    from fusiondp._files import check_input

    path = check_input(Path(path), what="Settings", error=ConfigError)
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"Settings file not found: {path}") from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"Settings file {path} is not JSON: {e}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"Settings file {path} is not JSON: not UTF-8 text (a binary file?).") from None
    except RecursionError:
        raise ConfigError(f"Settings file {path} is not a settings file: its JSON is nested too deeply.") from None
    except OSError as e:
        raise ConfigError(f"Cannot read settings file {path}: {e.strerror}.") from None
    if not isinstance(body, dict) or body.get("format") != FORMAT or not isinstance(body.get("settings"), dict):
        raise ConfigError(f"{path} is not a fusiondp settings file (written by `fusiondp tune`).")
    if body.get("version") != VERSION:
        raise ConfigError(f"Settings file {path} has version {body.get('version')!r}; this fusiondp reads {VERSION}.")
    return {"method": body.get("method"), "settings": _check(body["settings"]),
            "selection": body.get("selection") or {}}
