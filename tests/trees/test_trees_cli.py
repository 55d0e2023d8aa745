"""`fusiondp train --learner trees`: a real run writes a complete report; network-only options are refused."""

import json

from typer.testing import CliRunner

from fusiondp.cli.app import _load_commands, app
from tests.tables import SENSITIVE, make_hybrid, make_table

_load_commands()
runner = CliRunner()


def _files(tmp_path):
    t = make_table(300)
    t.iloc[:220].to_csv(tmp_path / "train.csv", index=False)
    t.iloc[220:].to_csv(tmp_path / "support.csv", index=False)
    make_hybrid(t.iloc[:220]).to_csv(tmp_path / "hybrid.csv", index=False)
    make_table(80, seed=5).to_csv(tmp_path / "test.csv", index=False)
    return tmp_path


def _args(d, *extra):
    return ["train", "--train", str(d / "train.csv"), "--hybrid", str(d / "hybrid.csv"), "--public-reference",
            str(d / "support.csv"), "--target", "y", "--sensitive", ",".join(SENSITIVE), "--drop", "id",
            "--categorical", "ward,unit", "--test", str(d / "test.csv"), "--learner", "trees",
            "--accountant", "rdp", "--no-progress", "--report", str(d / "run.json"), *extra]


def test_trees_cli_run_reports_both_relations(tmp_path):
    d = _files(tmp_path)
    res = runner.invoke(app, _args(d, "--epsilon", "2", "--clip", "1.5"))
    assert res.exit_code == 0, res.output
    rep = json.loads((d / "run.json").read_text())
    assert rep["method"] == "fusiondp_trees" and rep["learner"] == "trees"
    assert rep["epsilon"] <= 2.0 and rep["neighbouring"] == "remove" and rep["clip"] == 1.5
    assert set(rep["epsilon_by_relation"]) == {"remove", "replace"}
    assert "auroc" in rep["metrics"]["test"]
    assert "same run under the replace relation" in res.output


def test_trees_cli_refuses_network_options(tmp_path):
    d = _files(tmp_path)
    res = runner.invoke(app, _args(d, "--epochs", "3"))
    assert res.exit_code != 0 and "--epochs" in res.output and "--learner mlp" in res.output
    assert not (d / "run.json").exists()
