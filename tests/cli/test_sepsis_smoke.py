"""One short real run on the shared sepsis data (slow: real data, ~8 s on 2 quiet cores; run with --run-slow;
skipped when ../shared/data is absent). The fast suite keeps the same rules on generated tables: the CLI run's
ε within budget under `remove` (tests/cli/test_train_cli.py::test_real_run_writes_complete_report) and
learning well above chance (tests/product/test_demo.py, tests/product/test_own_training_loop.py)."""

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fusiondp.cli.app import _load_commands, app

DATA = Path(os.environ.get("FUSIONDP_DATA", Path(__file__).resolve().parents[3] / "shared" / "data")) / "sepsis"
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (DATA / "train_ori.csv").exists(), reason=f"sepsis data not found in {DATA}")]


def test_two_epochs_on_sepsis_beats_chance_within_budget(tmp_path):
    _load_commands()
    out = tmp_path / "run.json"
    res = CliRunner().invoke(app, [
        "train", "--train", str(DATA / "train_ori.csv"), "--hybrid", str(DATA / "train_hybrid.csv"),
        "--test", str(DATA / "test.csv"), "--target", "SepsisLabel",
        # the published hybrid keeps one missing HospAdmTime where the true value is missing: filled from val.csv
        "--public-reference", str(DATA / "val.csv"), "--fill-hybrid-missing",
        "--sensitive", "Age,Gender,Unit1,Unit2,HospAdmTime,ICULOS", "--drop", "ICULOS_bin,index",
        "--method", "fusiondp", "--epsilon", "2", "--epochs", "2", "--alpha", "0.25", "--clip", "16",
        "--batch-size", "1024", "--lr", "0.3", "--optimizer", "sgd", "--no-progress", "--report", str(out)])
    assert res.exit_code == 0, res.output
    rep = json.loads(out.read_text())
    assert rep["epsilon"] <= 2.0 and rep["neighbouring"] == "remove" and rep["accountant"].endswith("PLD")
    assert rep["metrics"]["test"]["auroc"] > 0.75
