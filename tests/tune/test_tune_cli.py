"""`fusiondp tune` writes a settings file with the search's total ε; `fusiondp train --settings` uses it,
command-line options override it, and the report says where each value came from."""

import json

from typer.testing import CliRunner

from fusiondp.cli.app import _load_commands, app
from tables import SENSITIVE, make_hybrid, make_table

_load_commands()
runner = CliRunner()


def _files(tmp_path):
    t = make_table(400)
    t.to_csv(tmp_path / "train.csv", index=False)
    make_hybrid(t).to_csv(tmp_path / "hybrid.csv", index=False)
    make_table(150, seed=5).to_csv(tmp_path / "val.csv", index=False)
    return ["--train", str(tmp_path / "train.csv"), "--hybrid", str(tmp_path / "hybrid.csv"), "--target", "y",
            "--sensitive", ",".join(SENSITIVE), "--drop", "id", "--delta", "1e-4", "--accountant", "rdp"]


def test_tune_then_train_with_settings(tmp_path):
    common = _files(tmp_path)
    res = runner.invoke(app, ["tune", *common, "--val", str(tmp_path / "val.csv"), "--epsilon", "3", "--mode",
                              "compose", "--grid", '[{"alpha": 0.25}, {"alpha": 0.5}]', "--out",
                              str(tmp_path / "s.json")])
    assert res.exit_code == 0, res.output
    body = json.loads((tmp_path / "s.json").read_text())
    assert body["selection"]["total_epsilon"] <= 3.0 and body["settings"]["alpha"] in (0.25, 0.5)
    assert "total privacy cost of the search" in res.output
    res = runner.invoke(app, ["train", *common, "--val", str(tmp_path / "val.csv"), "--settings",
                              str(tmp_path / "s.json"), "--clip", "2", "--no-progress", "--report",
                              str(tmp_path / "run.json")])
    assert res.exit_code == 0, res.output
    rep = json.loads((tmp_path / "run.json").read_text())
    assert rep["config"]["alpha"] == body["settings"]["alpha"] and rep["config"]["clip"] == 2.0
    assert rep["config_source"]["alpha"] == "settings file" and rep["config_source"]["clip"] == "user"
    assert rep["config_source"]["public_batch_size"] == "auto"
    assert rep["public_baseline"]["method"] == "sgd_hybrid"
    assert rep["below_public_baseline"] == (rep["public_baseline"]["run"] < rep["public_baseline"]["baseline"])
    # the baseline's own cost is shown and recorded (issue 26): it is paid on top of the run
    assert rep["public_baseline"]["seconds"] > 0 and rep["public_baseline"]["steps"] == rep["steps"]
    assert f"public baseline: {rep['steps']} steps in" in res.output.replace("\n", " ") or \
        f"{rep['public_baseline']['steps']} steps in {rep['public_baseline']['seconds']:.1f} s" in res.output
    assert "indicators" in rep["representation"]


def test_public_mode_needs_support(tmp_path):
    common = _files(tmp_path)
    res = runner.invoke(app, ["tune", *common, "--val", str(tmp_path / "val.csv"), "--mode", "public", "--out",
                              str(tmp_path / "s.json")])
    assert res.exit_code == 1 and "--support" in res.output


def test_settings_file_may_name_the_optimizer(tmp_path):
    """A settings file holding `optimizer` (a settable field) trains with it; the option still wins."""
    from fusiondp.tune.settings import write_settings

    common = _files(tmp_path)
    write_settings(tmp_path / "s.json", "fusiondp", {"optimizer": "adam", "alpha": 0.5})
    for extra, want in (([], "adam"), (["--optimizer", "sgd"], "sgd")):
        res = runner.invoke(app, ["train", *common, "--epsilon", "3", "--settings", str(tmp_path / "s.json"),
                                  "--epochs", "1", *extra, "--no-progress", "--report", str(tmp_path / "run.json")])
        assert res.exit_code == 0, res.output
        rep = json.loads((tmp_path / "run.json").read_text())
        assert rep["config"]["optimizer"] == want
