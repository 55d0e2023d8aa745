"""`fusiondp train`: every bad input gets one clear line and exit code 1, and no report is written."""

import json

import pytest
from typer.testing import CliRunner

from fusiondp.cli.app import _load_commands, app
from tables import SENSITIVE, make_hybrid, make_table

_load_commands()
runner = CliRunner()
FAST = ["--epochs", "1", "--batch-size", "32", "--public-batch-size", "64", "--delta", "1e-4", "--no-progress"]


@pytest.fixture
def files(tmp_path):
    t = make_table(200)
    t.to_csv(tmp_path / "train.csv", index=False)
    make_hybrid(t).to_csv(tmp_path / "hybrid.csv", index=False)
    make_table(80, seed=5).to_csv(tmp_path / "test.csv", index=False)
    return tmp_path


def invoke(files, *extra, sensitive=",".join(SENSITIVE), target="y", train="train.csv", hybrid="hybrid.csv"):
    args = ["train", "--train", str(files / train), "--hybrid", str(files / hybrid), "--target", target,
            "--sensitive", sensitive, "--drop", "id", "--report", str(files / "out" / "run.json"), *FAST, *extra]
    return runner.invoke(app, args)


def test_real_run_writes_complete_report(files):
    res = invoke(files, "--test", str(files / "test.csv"), "--epsilon", "3")
    assert res.exit_code == 0, res.output
    rep = json.loads((files / "out" / "run.json").read_text())
    for key in ("method", "epsilon", "target_epsilon", "delta", "neighbouring", "accountant", "noise_multiplier",
                "sample_rate", "steps", "seconds"):
        assert key in rep, key
    assert set(rep["metrics"]["test"]) >= {"auroc", "aupr", "f1_best", "accuracy"}
    assert rep["epsilon"] <= 3.0 and rep["neighbouring"] == "remove"
    assert "ε" in res.output or "epsilon" in res.output.lower()


def test_report_is_strict_json_with_adam(files):
    """With Adam the rule gives radius = inf; the report stays strict JSON (no Infinity/NaN literals)."""
    res = invoke(files, "--optimizer", "adam", "--test", str(files / "test.csv"))
    assert res.exit_code == 0, res.output

    def refuse(name):
        raise ValueError(f"non-standard JSON literal {name}")

    rep = json.loads((files / "out" / "run.json").read_text(), parse_constant=refuse)
    assert rep["config"]["radius"] == "inf" and rep["config"]["optimizer"] == "adam"
    assert rep["config_source"]["radius"] == "auto"
    html = (files / "out" / "run.html").read_text()
    assert "radius" in html


def _bad(files, expect, *extra, **kw):
    res = invoke(files, *extra, **kw)
    assert res.exit_code == 1, res.output
    assert expect.lower() in res.output.lower(), res.output
    assert not (files / "out" / "run.json").exists()
    assert "Traceback" not in res.output


def test_unknown_sensitive_column(files):
    _bad(files, "'weight' not found", sensitive="age,weight")


def test_missing_target(files):
    _bad(files, "'label' not found", target="label")


def test_target_listed_as_sensitive(files):
    _bad(files, "listed as sensitive", sensitive="age,y")


def test_no_public_column_left(files):
    _bad(files, "no public column", "--drop", "id,hr,bp,lab,ward")


def test_non_numeric_text_in_numeric_column(files):
    t = make_table(200)
    t["hr"] = t["hr"].astype(object)
    t.loc[7, "hr"] = "n/a?"
    h = make_hybrid(make_table(200))
    h["hr"] = t["hr"]
    t.to_csv(files / "train.csv", index=False)
    h.to_csv(files / "hybrid.csv", index=False)
    _bad(files, "non-numeric text")


@pytest.mark.parametrize("eps", ["0", "-1"])
def test_epsilon_not_positive(files, eps):
    _bad(files, "epsilon > 0", "--epsilon", eps)


@pytest.mark.parametrize("delta", ["0.01", "0", "1.5"])
def test_delta_out_of_range(files, delta):
    _bad(files, "delta", "--delta", delta)


def test_hybrid_not_aligned(files):
    h = make_hybrid(make_table(200)).sample(frac=1.0, random_state=0)
    h.to_csv(files / "shuffled.csv", index=False)
    _bad(files, "not aligned", hybrid="shuffled.csv")


def test_hybrid_wrong_length(files):
    make_hybrid(make_table(150)).to_csv(files / "short.csv", index=False)
    _bad(files, "same records", hybrid="short.csv")


def test_empty_file(files):
    (files / "empty.csv").write_text("")
    _bad(files, "empty", train="empty.csv")


def test_missing_file(files):
    _bad(files, "not found", train="nope.csv")


def test_unknown_method(files):
    _bad(files, "unknown method", "--method", "magic")


def test_rdp_with_replace_is_refused(files):
    _bad(files, "cannot analyse", "--relation", "replace", "--accountant", "rdp")


def test_bad_sensitive_value_is_reported_without_quoting_it(files):
    t = make_table(200)
    t["age"] = t["age"].astype(object)
    t.loc[3, "age"] = "secret-age-41"
    t.to_csv(files / "train.csv", index=False)
    res = invoke(files)
    assert res.exit_code == 1
    assert "'age'" in res.output and "row 3" in res.output
    assert "secret-age-41" not in res.output


def test_support_file_is_read_once(files, monkeypatch):
    """Issue 24: `fusiondp train --support` reads the support file once (reference table, imputer, fingerprint)."""
    import fusiondp.cli._training_options as O
    import fusiondp.cli.train_cmd as T

    make_table(120, seed=11).to_csv(files / "support.csv", index=False)
    reads = []
    for mod in (O, T):
        real = mod.read_table
        monkeypatch.setattr(mod, "read_table", lambda p, *a, _r=real, **k: (reads.append(str(p)), _r(p, *a, **k))[1])
    args = ["train", "--train", str(files / "train.csv"), "--support", str(files / "support.csv"), "--imputer", "mean",
            "--target", "y", "--sensitive", ",".join(SENSITIVE), "--drop", "id",
            "--report", str(files / "out" / "run.json"), "--learner", "mlp", *FAST]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert reads.count(str(files / "support.csv")) == 1, reads
    assert json.loads((files / "out" / "run.json").read_text())["support_fingerprint"].startswith("sha256:")
