"""`fusiondp train --nproc 2` (spawned gloo processes) and `--device cuda` through the CLI."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from fusiondp.cli.app import _load_commands, app
from tables import SENSITIVE, make_hybrid, make_table

_load_commands()
runner = CliRunner()
ARGS = ["--target", "y", "--sensitive", ",".join(SENSITIVE), "--drop", "id", "--epochs", "2", "--batch-size", "32",
        "--public-batch-size", "64", "--delta", "1e-4", "--no-progress"]


@pytest.fixture
def files(tmp_path):
    t = make_table(200)
    t.to_csv(tmp_path / "train.csv", index=False)
    make_hybrid(t).to_csv(tmp_path / "hybrid.csv", index=False)
    make_table(80, seed=5).to_csv(tmp_path / "test.csv", index=False)
    return tmp_path


def _args(files, report, *extra):
    return ["train", "--train", str(files / "train.csv"), "--hybrid", str(files / "hybrid.csv"), "--test",
            str(files / "test.csv"), "--report", str(files / report), *ARGS, *extra]


def test_nproc_2_reports_the_single_process_epsilon_once(files, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    one = runner.invoke(app, _args(files, "one.json"))
    assert one.exit_code == 0, one.output
    two = runner.invoke(app, _args(files, "two.json", "--nproc", "2"))
    assert two.exit_code == 0, two.output
    r1, r2 = (json.loads((files / f).read_text()) for f in ("one.json", "two.json"))
    for key in ("epsilon", "noise_multiplier", "sample_rate", "steps", "dp_event"):
        assert r2[key] == r1[key], key
    assert set(r2["metrics"]["test"]) >= {"auroc", "accuracy"}
    assert two.output.count("(target ") == 1  # rank 0 alone prints
    assert not list(files.glob("*.tmp"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown when CUDA is absent")
def test_device_cuda_without_gpu_is_one_clear_line(files):
    res = runner.invoke(app, _args(files, "gpu.json", "--device", "cuda"))
    assert res.exit_code == 1
    assert "no CUDA device" in res.output and "Traceback" not in res.output
    assert not (files / "gpu.json").exists()


def test_nproc_under_torchrun_is_refused(files, monkeypatch):
    monkeypatch.setattr("fusiondp.train.distributed.init_from_env", lambda device=None, timeout=None: object())
    res = runner.invoke(app, _args(files, "x.json", "--nproc", "2"))
    assert res.exit_code == 1 and "--nproc-per-node" in res.output


@pytest.mark.skipif(os.environ.get("FUSIONDP_TEST_TORCHRUN") != "1",
                    reason="opt-in (three Python processes, about 20 s): FUSIONDP_TEST_TORCHRUN=1")
def test_same_entry_point_under_torchrun(files):
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": src}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "-m", "fusiondp",
           *_args(files, "tr.json")]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=files)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads((files / "tr.json").read_text())["steps"] == 12
    assert proc.stdout.count("fusiondp: ε =") == 1  # rank 0 alone prints the run


@pytest.mark.skipif(os.environ.get("FUSIONDP_TEST_TORCHRUN") != "1",
                    reason="opt-in (four Python processes, about 30 s): FUSIONDP_TEST_TORCHRUN=1")
def test_two_nodes_on_loopback_with_the_public_baseline(files):
    """The docs/scaling.md recipe: two torchrun "nodes" on 127.0.0.1, with --val, so every rank also trains the
    public baseline (its steps are group collectives: rank 1 returned before it and rank 0 crashed, issue 26)."""
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": src}
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    cmd = lambda rank: [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--node_rank", str(rank),  # noqa: E731
                        "--nproc-per-node", "1", "--master_addr", "127.0.0.1", "--master_port", port, "-m", "fusiondp",
                        *_args(files, "nodes.json", "--val", str(files / "test.csv"))]
    other = subprocess.Popen(cmd(1), env=env, cwd=files, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    main = subprocess.run(cmd(0), env=env, capture_output=True, text=True, timeout=300, cwd=files)
    other_out, other_err = other.communicate(timeout=120)
    assert main.returncode == 0 and other.returncode == 0, (main.stderr + other_err)[-3000:]
    rep = json.loads((files / "nodes.json").read_text())
    assert rep["steps"] == 12 and rep["public_baseline"]["steps"] == 12
    assert main.stdout.count("fusiondp: ε =") == 1 and "ε =" not in other_out
