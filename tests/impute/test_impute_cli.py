"""`fusiondp impute`: a real run on tiny CSVs, and clear one-line errors."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from fusiondp.cli.app import _load_commands, app

_load_commands()
runner = CliRunner()


@pytest.fixture
def files(tmp_path, train, support):
    train.to_csv(tmp_path / "train.csv", index=False)
    support.to_csv(tmp_path / "support.csv", index=False)
    return tmp_path


def args(files, *extra):
    return ["impute", "--train", str(files / "train.csv"), "--support", str(files / "support.csv"), "--target", "y",
            "--sensitive", "age,sex,u1,u2", "--drop", "rowid", "--out", str(files / "out" / "hyb.csv"),
            "--no-progress", *extra]


def test_writes_hybrid(files, train):
    res = runner.invoke(app, args(files, "--imputer", "mean", "--onehot", "u1+u2", "--use-label"))
    assert res.exit_code == 0, res.output
    hyb = pd.read_csv(files / "out" / "hyb.csv")
    assert list(hyb.columns) == [c for c in train.columns if c != "rowid"] and len(hyb) == len(train)  # --drop not copied
    assert ((hyb.u1 + hyb.u2) == 1).all()
    assert "wrote" in res.output


@pytest.mark.parametrize("extra,msg", [
    (["--imputer", "nope"], "Unknown imputer"),
    (["--imputer", "tabpfn"], "needs local weights"),
    (["--imputer", "mean", "--model-path", "x.ckpt"], "only used by"),
    (["--imputer", "mean", "--skill-scoring", "fast"], "skill_scoring"),
])
def test_bad_inputs_are_one_clear_line(files, extra, msg):
    res = runner.invoke(app, args(files, *extra))
    assert res.exit_code == 1
    assert msg in res.output
    assert "Traceback" not in res.output


def test_missing_file(files):
    res = runner.invoke(app, ["impute", "--train", str(files / "nope.csv"), "--support", str(files / "support.csv"),
                              "--target", "y", "--sensitive", "age", "--out", str(files / "o.csv")])
    assert res.exit_code == 1 and "not found" in res.output
