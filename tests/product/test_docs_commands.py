"""Every `fusiondp ...` command in a fenced bash block of README.md and docs/*.md parses against the CLI, and
the cheap ones run end to end on small generated tables.

1. Parse check (every command): the argument list is handed to the click command behind the typer app
   (`make_context`), which rejects unknown or renamed options, missing required options and bad values
   without running anything. A renamed or removed option in the CLI makes this test fail.
2. Run (`impute`, `train`, `predict`, `report`): each documented file's commands run in order in a
   temporary folder, on small tables generated from the command's own `--target/--sensitive/--drop/--onehot`
   (a hybrid file is the training table with its sensitive columns replaced by their mean). A few options
   are appended to keep it fast (tiny epochs, the mean imputer). Paths under `../shared/data` use the real
   data when present (`FUSIONDP_DATA` or ../shared/data) in a slow case (`--run-slow`; skipped otherwise), and
   on generated tables in their place in the default, fast case, which also leaves out `tune` (minutes) and
   the commands that read its output, and trains in one process where a command says `--nproc N` (the slow
   case runs them as written). `demo` and `audit`
   are parse-checked only (each takes tens of seconds; they have their own tests).
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer.main
from typer._click import Context  # typer ships its own copy of click
from typer._click.exceptions import ClickException, UsageError
from typer.core import TyperGroup
from typer.testing import CliRunner

from fusiondp.cli.app import _load_commands, app

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHARED = "../shared/data"
RUN = {"impute", "train", "predict", "report", "tune"}
FAST = {  # appended to a command before running it (the last value of an option wins)
    "train": ["--epochs", "0.02", "--batch-size", "32", "--public-batch-size", "64", "--no-progress"],
    "impute": ["--imputer", "mean", "--quality-folds", "2", "--no-progress"],
    "tune": ["--mode", "compose", "--grid", '[{"lr": 0.3}]', "--no-progress"],
}
OUTPUTS = {"--out", "--report", "--save-model", "--html", "--checkpoint", "--quality-out"}

_load_commands()
ROOT_COMMAND = typer.main.get_command(app)


def documented_commands(paths=DOCS) -> list[tuple[str, list[str]]]:
    """(file name, argv after `fusiondp`) of every `fusiondp ...` segment in the files' fenced bash blocks."""
    out = []
    for path in paths:
        for block in re.findall(r"```bash\n(.*?)```", path.read_text(), re.S):
            for line in block.replace("\\\n", " ").splitlines():
                for segment in re.split(r"&&|;", line):
                    words = shlex.split(segment.strip(), comments=True)
                    if words[:1] == ["fusiondp"]:
                        out.append((path.name, words[1:]))
    return out


def check_args(argv: list[str]) -> None:
    """Parse `argv` like `fusiondp` would, without running the command; raise ClickException if invalid."""
    cmd, args, name = ROOT_COMMAND, list(argv), "fusiondp"
    while isinstance(cmd, TyperGroup):
        if not args:
            raise UsageError(f"`{name}` needs a subcommand")
        sub = cmd.get_command(Context(cmd, info_name=name), args[0])
        if sub is None:
            raise UsageError(f"No such command {args[0]!r} under `{name}`")
        cmd, name, args = sub, f"{name} {args[0]}", args[1:]
    with cmd.make_context(name, args):
        pass


COMMANDS = documented_commands()


def test_docs_hold_commands():
    files = {f for f, _ in COMMANDS}
    assert {"README.md", "quickstart.md", "training.md"} <= files and len(COMMANDS) >= 8


@pytest.mark.parametrize("doc,argv", COMMANDS, ids=[f"{f}:{' '.join(a[:1])}:{i}" for i, (f, a) in
                                                      enumerate(COMMANDS)])
def test_documented_command_parses(doc, argv):
    try:
        check_args(argv)
    except ClickException as e:
        pytest.fail(f"{doc}: `fusiondp {' '.join(argv)}` no longer matches the CLI: {e.format_message()}")


@pytest.mark.parametrize("argv,message", [
    (["train", "--train", "a.csv", "--target", "y", "--sensitive", "s", "--epochz", "3"], "No such option"),
    (["train", "--target", "y", "--sensitive", "s"], "Missing"),
    (["trian", "--train", "a.csv"], "No such command"),
    (["audit", "canary", "--nope"], "No such option"),
])
def test_the_parse_check_fails_on_drift(argv, message):
    with pytest.raises(ClickException, match=message):
        check_args(argv)


def test_extraction_joins_continuations_and_splits_chains(tmp_path):
    doc = tmp_path / "x.md"
    doc.write_text("```bash\npip install x && fusiondp demo --quick\nfusiondp train --train a.csv \\\n"
                   "  --target y  # comment\n```\n```python\nfusiondp = 1\n```\n")
    assert documented_commands([doc]) == [("x.md", ["demo", "--quick"]),
                                          ("x.md", ["train", "--train", "a.csv", "--target", "y"])]


# -- running the cheap commands on generated tables -----------------------------------------------------------


def _option(argv: list[str], name: str, default: str = "") -> str:
    return argv[argv.index(name) + 1] if name in argv else default


def _split(text: str) -> list[str]:
    return [c.strip() for c in text.split(",") if c.strip()]


def _table(argv: list[str], n: int, seed: int) -> pd.DataFrame:
    """Rows with the columns the command names: 3 public columns, its sensitive, dropped and target columns."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"p{i}": rng.standard_normal(n) for i in range(3)})
    groups = [g.split("+") for g in _split(_option(argv, "--onehot")) if "+" in g]
    grouped = {c for g in groups for c in g}
    for g in groups:
        pick = rng.integers(0, len(g), n)
        for i, c in enumerate(g):
            frame[c] = (pick == i).astype(int)
    for c in _split(_option(argv, "--sensitive")):
        if c not in grouped:
            frame[c] = frame["p0"] + rng.standard_normal(n)
    for c in _split(_option(argv, "--drop")):
        frame[c] = np.arange(n)
    frame[_option(argv, "--target", "y")] = (frame["p1"] + 0.5 * frame["p0"] + rng.standard_normal(n) > 0).astype(int)
    return frame


def _data_dir() -> Path | None:
    root = Path(os.environ.get("FUSIONDP_DATA", ROOT.parent / "shared" / "data"))
    return root if root.is_dir() else None


def _hybrid_of(train: pd.DataFrame, schema_argv: list[str]) -> pd.DataFrame:
    """The training rows with every sensitive column replaced by a public guess (from p0, or the first category)."""
    hybrid = train.copy()
    groups = [g.split("+") for g in _split(_option(schema_argv, "--onehot")) if "+" in g]
    for g in groups:
        hybrid[g] = 0
        hybrid[g[0]] = 1
    grouped = {c for g in groups for c in g}
    for c in _split(_option(schema_argv, "--sensitive")):
        if c not in grouped:
            hybrid[c] = 0.8 * train["p0"] if "p0" in train else train[c].mean()
    return hybrid


def _prepare_inputs(argv: list[str], produced: set[str], schema_argv: list[str]) -> None:
    """Write every input file the command names that no earlier command produced (in the current folder)."""
    train_path = _option(argv, "--train")
    for i, word in enumerate(argv[:-1]):
        value = argv[i + 1]
        if word in OUTPUTS or not word.startswith("--") or value in produced or Path(value).exists():
            continue
        if not re.search(r"\.(csv|parquet)$", value):
            continue
        if "hybrid" in Path(value).name and train_path:
            if not Path(train_path).exists():
                _table(schema_argv, 300, 0).to_csv(train_path, index=False)
            _hybrid_of(pd.read_csv(train_path), schema_argv).to_csv(value, index=False)
        else:
            size = 300 if word in ("--train", "--support") else 120
            _table(schema_argv, size, seed=len(value) + i).to_csv(value, index=False)


RUNNABLE = {}
for _doc, _argv in COMMANDS:
    if _argv[0] in RUN:
        RUNNABLE.setdefault(_doc, []).append(_argv)
# The default (fast) case of a file runs its commands on generated tables, with `../shared/data` replaced by
# generated tables too, and leaves out `tune` (a search trains full-length candidates: minutes on 2 cores)
# and the commands that read its settings file. The full case (slow: `--run-slow`) runs every command, on the
# real data where a command names it (skipped when the data is absent).
# `--nproc N` (N > 1) starts N training processes (each imports torch: a minute on 2 shared cores); the fast
# case trains in one (the last value of an option wins), the full case as written; the multi-process path
# has its own tests (tests/distributed).
SLOW_COMMANDS = {"tune"}
FULL = {d for d, cmds in RUNNABLE.items()
        if any(SHARED in a for argv in cmds for a in argv) or any(argv[0] in SLOW_COMMANDS for argv in cmds)
        or any("--nproc" in argv and _option(argv, "--nproc") != "1" for argv in cmds)}
CASES = [pytest.param(d, False, id=d) for d in sorted(RUNNABLE)] + \
    [pytest.param(d, True, id=f"{d}:full", marks=pytest.mark.slow) for d in sorted(FULL)]


@pytest.mark.parametrize("doc,real", CASES)
def test_documented_commands_run(doc, real, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    produced: set[str] = set()
    skipped: set[str] = set()
    schema_argv: list[str] = []
    for argv in RUNNABLE[doc]:
        if not real and (argv[0] in SLOW_COMMANDS or any(a in skipped for a in argv)):
            skipped |= {argv[i + 1] for i, w in enumerate(argv[:-1]) if w in OUTPUTS}  # parse-checked above
            continue
        if any(SHARED in a for a in argv):
            if real:
                data = _data_dir()
                if data is None:
                    pytest.skip(f"{doc}: needs {SHARED} (set FUSIONDP_DATA); see docs/data.md")
                argv = [a.replace(SHARED, str(data)) for a in argv]
            else:  # generated tables stand in for the real files
                argv = [a.replace(SHARED, "shared-data") for a in argv]
                for a in argv:
                    if a.startswith("shared-data/"):
                        Path(a).parent.mkdir(parents=True, exist_ok=True)
        if "--sensitive" in argv:
            schema_argv = argv
        _prepare_inputs(argv, produced, schema_argv)
        one_process = ["--nproc", "1"] if not real and "--nproc" in argv else []
        # the tree learner refuses the network's options
        fast = [] if "--learner" in argv and _option(argv, "--learner") == "trees" else FAST.get(argv[0], [])
        res = runner.invoke(app, [*argv, *fast, *one_process])
        assert res.exit_code == 0, f"{doc}: `fusiondp {' '.join(argv)}` failed:\n{res.output}"
        produced |= {argv[i + 1] for i, w in enumerate(argv[:-1]) if w in OUTPUTS}
        for out in (argv[i + 1] for i, w in enumerate(argv[:-1]) if w in OUTPUTS):
            assert Path(out).exists(), f"{doc}: `fusiondp {' '.join(argv)}` did not write {out}"
        if argv[0] == "train" and "--report" in argv:  # the report's HTML page is written beside it
            assert Path(_option(argv, "--report")).with_suffix(".html").exists()
