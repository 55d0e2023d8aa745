"""CLI: `--help` for every command; `train --report --save-model` writes JSON, HTML and a loadable model."""

import pytest
from typer.testing import CliRunner

from fusiondp.cli.app import _load_commands, app
from tables import SENSITIVE, make_hybrid, make_table

_load_commands()
runner = CliRunner()
COMMANDS = sorted(c.name for c in app.registered_commands)


def test_product_commands_registered():
    assert {"train", "demo", "predict", "report"} <= set(COMMANDS)


@pytest.mark.parametrize("name", [None, *COMMANDS])
def test_help(name):
    res = runner.invoke(app, [name, "--help"] if name else ["--help"])
    assert res.exit_code == 0, res.output
    assert "Usage" in res.output


def test_train_writes_html_and_model(tmp_path):
    t = make_table(200)
    t.to_csv(tmp_path / "train.csv", index=False)
    make_hybrid(t).to_csv(tmp_path / "hybrid.csv", index=False)
    make_table(60, seed=5).to_csv(tmp_path / "test.csv", index=False)
    res = runner.invoke(app, ["train", "--train", str(tmp_path / "train.csv"), "--hybrid", str(tmp_path / "hybrid.csv"),
                              "--test", str(tmp_path / "test.csv"), "--target", "y", "--sensitive",
                              ",".join(SENSITIVE), "--drop", "id", "--epochs", "1", "--batch-size", "32",
                              "--public-batch-size", "64", "--delta", "1e-4", "--accountant", "rdp",
                              "--noise-multiplier", "1.0", "--epsilon", "10", "--no-progress",
                              "--report", str(tmp_path / "run.json"), "--save-model", str(tmp_path / "m.safetensors")])
    assert res.exit_code == 0, res.output
    assert "Privacy statement" in (tmp_path / "run.html").read_text()
    from fusiondp.io import load

    m = load(tmp_path / "m.safetensors")
    assert m.privacy["method"] == "fusiondp" and m.privacy["accountant"].endswith("RDP")
