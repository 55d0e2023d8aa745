"""Inputs that would void the privacy relation are refused with one line that quotes no training value
(issue 13 item 6). Each case ran silently, or printed a true value, before the guards existed."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from fusiondp.cli.app import _load_commands, app
from tables import SENSITIVE, make_hybrid, make_table

_load_commands()
runner = CliRunner()
FAST = ["--epochs", "1", "--batch-size", "32", "--public-batch-size", "64", "--delta", "1e-4", "--no-progress"]
# A distinctive true value planted in a sensitive column: it must never appear in any message.
SECRET_AGE = 76.123457


@pytest.fixture
def files(tmp_path):
    t = make_table(200)
    t.loc[3, "age"] = SECRET_AGE
    t.to_csv(tmp_path / "train.csv", index=False)
    make_hybrid(t).to_csv(tmp_path / "hybrid.csv", index=False)
    make_table(80, seed=5).to_csv(tmp_path / "support.csv", index=False)
    return tmp_path


def _train(files, *extra, hybrid="hybrid.csv", train="train.csv", source="--hybrid"):
    args = ["train", "--train", str(files / train), source, str(files / hybrid), "--target", "y",
            "--sensitive", ",".join(SENSITIVE), "--drop", "id", "--report", str(files / "out" / "run.json"),
            *FAST, *extra]
    return runner.invoke(app, args)


def _refused(res, files, expect: str) -> None:
    assert res.exit_code == 1, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len([ln for ln in lines if ln.startswith("error:")]) == 1, res.output
    assert expect.lower() in res.output.lower(), res.output
    assert "Traceback" not in res.output
    numbers = re.findall(r"\d+\.\d+", res.output)
    assert not any(abs(float(x) - SECRET_AGE) < 1e-3 for x in numbers), res.output
    assert "76.12" not in res.output
    assert not (files / "out" / "run.json").exists()


def test_training_file_given_as_hybrid_is_refused(files):
    _refused(_train(files, hybrid="train.csv"), files, "equals the training table's on every row")


def test_support_rows_inside_the_training_table_are_refused(files):
    t = pd.read_csv(files / "train.csv")
    pd.concat([pd.read_csv(files / "support.csv"), t.iloc[[3, 7]]]).to_csv(files / "leaky.csv", index=False)
    _refused(_train(files, hybrid="leaky.csv", source="--support", *["--imputer", "mean"]), files,
             "also appear in the training table")


def test_duplicated_header_is_refused_without_quoting_values(files):
    t = pd.read_csv(files / "train.csv")
    text = t.to_csv(index=False).splitlines()
    header = text[0].split(",")
    header[header.index("lab")] = "age"  # a second 'age' column: pandas would call it 'age.1', a public column
    (files / "dup.csv").write_text("\n".join([",".join(header), *text[1:]]) + "\n")
    _refused(_train(files, train="dup.csv"), files, "appear more than once")


def test_dpsgd_with_a_hybrid_only_is_refused(files):
    _refused(_train(files, "--method", "dpsgd"), files, "public reference")


def test_dpsgd_with_a_public_reference_runs(files):
    res = _train(files, "--method", "dpsgd", "--public-reference", str(files / "support.csv"))
    assert res.exit_code == 0, res.output


def test_dropped_columns_are_not_written_to_the_hybrid(files):
    t = pd.read_csv(files / "train.csv")
    t["age_bin"] = (t["age"] // 10).astype(int)  # a binned copy of a sensitive column
    t.to_csv(files / "train_bin.csv", index=False)
    s = pd.read_csv(files / "support.csv")
    s.assign(age_bin=(s["age"] // 10).astype(int)).to_csv(files / "support_bin.csv", index=False)
    out = files / "hyb.csv"
    res = runner.invoke(app, ["impute", "--train", str(files / "train_bin.csv"), "--support",
                              str(files / "support_bin.csv"), "--target", "y", "--sensitive", ",".join(SENSITIVE),
                              "--drop", "id,age_bin", "--imputer", "mean", "--out", str(out)])
    assert res.exit_code == 0, res.output
    hyb = pd.read_csv(out)
    assert "age_bin" not in hyb.columns and "id" not in hyb.columns
    assert not np.isclose(hyb["age"].to_numpy(), SECRET_AGE).any()


def test_misaligned_hybrid_error_quotes_no_value(files):
    h = pd.read_csv(files / "hybrid.csv")
    h.loc[5, "hr"] = 12.345678
    h.to_csv(files / "bad.csv", index=False)
    res = _train(files, hybrid="bad.csv")
    assert res.exit_code == 1 and "not aligned" in res.output
    assert "12.345678" not in res.output


def test_tune_dpsgd_without_a_public_reference_is_refused(files):
    make_table(60, seed=9).to_csv(files / "val.csv", index=False)
    res = runner.invoke(app, ["tune", "--train", str(files / "train.csv"), "--hybrid", str(files / "hybrid.csv"),
                              "--val", str(files / "val.csv"), "--target", "y", "--sensitive", ",".join(SENSITIVE),
                              "--drop", "id", "--method", "dpsgd", "--out", str(files / "s.json"), "--no-progress"])
    _refused(res, files, "public reference")
    assert not (files / "s.json").exists()
