"""`fusiondp train` trains with 1 torch thread unless told otherwise (issue 26 item 4): on a shared 2-core machine
2 intra-op threads made a default step about 10x slower (docs/results/speed.md)."""

from __future__ import annotations

import json

import torch
from typer.testing import CliRunner

from fusiondp.cli.app import _load_commands, app
from tables import SENSITIVE, make_hybrid, make_table

_load_commands()
runner = CliRunner()


def _train(tmp_path, *extra):
    t = make_table(200)
    t.to_csv(tmp_path / "train.csv", index=False)
    make_hybrid(t).to_csv(tmp_path / "hybrid.csv", index=False)
    return runner.invoke(app, ["train", "--train", str(tmp_path / "train.csv"), "--hybrid", str(tmp_path / "hybrid.csv"),
                               "--target", "y", "--sensitive", ",".join(SENSITIVE), "--drop", "id", "--epochs", "1",
                               "--batch-size", "32", "--public-batch-size", "64", "--delta", "1e-4", "--no-progress",
                               "--report", str(tmp_path / "r.json"), *extra])


def test_default_is_one_thread_and_threads_option_is_recorded(tmp_path, monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        torch.set_num_threads(2)
        res = _train(tmp_path)
        assert res.exit_code == 0, res.output
        assert json.loads((tmp_path / "r.json").read_text())["torch_threads"] == 1 and "(1 torch thread(s))" in res.output
        res = _train(tmp_path, "--threads", "2")
        assert res.exit_code == 0 and json.loads((tmp_path / "r.json").read_text())["torch_threads"] == 2
        monkeypatch.setenv("OMP_NUM_THREADS", "2")  # an explicit environment setting is respected
        torch.set_num_threads(2)
        res = _train(tmp_path)
        assert res.exit_code == 0 and json.loads((tmp_path / "r.json").read_text())["torch_threads"] == 2
    finally:
        torch.set_num_threads(before)
