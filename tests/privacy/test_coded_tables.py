"""Coded tables (issue 26 item 2): support rows whose values all equal a training row's are other people on a
table of a few coarse columns. The user may say so (--support-rows-are-distinct-people, recorded) or name a key
column (--id-column); a real copy of training records is still refused."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from fusiondp.cli.app import _load_commands, app
from fusiondp.data.guards import SupportIdentity, check_support_disjoint
from fusiondp.data.schema import Schema
from fusiondp.errors import DataError
from tables import make_table

_load_commands()
runner = CliRunner()
SCHEMA = Schema("released", ["colour", "age_band"], drop=["pid"])
FAST = ["--epochs", "1", "--batch-size", "32", "--public-batch-size", "64", "--delta", "1e-4", "--no-progress",
        "--no-public-baseline"]


def coded_table(n: int, seed: int = 0) -> pd.DataFrame:
    """Seven coarse columns (2-3 levels each, as carData::Arrests): many different people share every value."""
    rng = np.random.default_rng(seed)
    t = pd.DataFrame({"pid": np.arange(n) + 1000 * seed,
                      "colour": rng.choice(["black", "white"], n), "age_band": rng.integers(0, 3, n),
                      "sex": rng.choice(["m", "f"], n), "employed": rng.choice(["yes", "no"], n),
                      "citizen": rng.choice(["yes", "no"], n), "checks": rng.integers(0, 3, n)})
    logit = 0.8 * (t["employed"] == "yes") + 0.5 * (t["citizen"] == "yes") - 0.4 * t["checks"] + 0.3
    t["released"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return t


def test_coded_support_of_other_people_is_refused_by_default_and_passes_when_stated():
    train, support = coded_table(600), coded_table(200, seed=1)  # other people, same coarse values
    with pytest.raises(DataError, match="also appear in the training table") as e:
        check_support_disjoint(train, support, SCHEMA)
    assert "--support-rows-are-distinct-people" in (e.value.hint or "")
    check_support_disjoint(train, support, SCHEMA, SupportIdentity(distinct_people=True))
    check_support_disjoint(train, support, SCHEMA, SupportIdentity(id_column="pid"))


def test_a_real_copy_is_refused_even_with_the_statement_or_a_key():
    wide = make_table(300)  # continuous columns: a training row's values are its own
    copy = wide.sample(40, random_state=0)
    schema = Schema("y", ["age", "sex", "unit"], drop=["id"])
    with pytest.raises(DataError, match="more than coincidence explains"):
        check_support_disjoint(wide, copy, schema, SupportIdentity(distinct_people=True))
    with pytest.raises(DataError, match="identity key"):
        check_support_disjoint(wide, copy, schema, SupportIdentity(id_column="id"))
    # a coded table copied wholesale: more matches than the table's own repeat share allows
    coded = coded_table(600)
    with pytest.raises(DataError, match="more than coincidence explains"):
        check_support_disjoint(coded.iloc[:300], coded.iloc[:300].copy(), SCHEMA,
                               SupportIdentity(distinct_people=True))
    with pytest.raises(DataError, match="identity key"):
        check_support_disjoint(coded, coded.iloc[:5], SCHEMA, SupportIdentity(id_column="pid"))
    with pytest.raises(DataError, match="not in the support table"):
        check_support_disjoint(coded, coded.drop(columns="pid"), SCHEMA, SupportIdentity(id_column="pid"))


@pytest.fixture
def files(tmp_path):
    coded_table(600).to_csv(tmp_path / "train.csv", index=False)
    coded_table(200, seed=1).to_csv(tmp_path / "support.csv", index=False)
    return tmp_path


def _train(files, *extra):
    return runner.invoke(app, ["train", "--train", str(files / "train.csv"), "--support", str(files / "support.csv"),
                               "--target", "released", "--sensitive", "colour,age_band", "--imputer", "mean",
                               "--report", str(files / "run.json"), *FAST, *extra,
                               "--noise-multiplier", "2"])  # σ fixed: these runs check identities, not σ (no PLD search)


def test_train_cli_refuses_then_runs_with_the_statement_recorded(files):
    res = _train(files, "--drop", "pid")
    assert res.exit_code == 1 and "also appear in the training table" in res.output, res.output
    res = _train(files, "--drop", "pid", "--support-rows-are-distinct-people")
    assert res.exit_code == 0, res.output
    rep = json.loads((files / "run.json").read_text())
    assert "support-rows-are-distinct-people" in rep["support_identity"]
    assert "distinct-people" in res.output


def test_train_cli_with_an_id_column_drops_it_from_the_features(files):
    res = _train(files, "--id-column", "pid", "--method", "dpsgd")
    assert res.exit_code == 0, res.output
    rep = json.loads((files / "run.json").read_text())
    assert rep["support_identity"].startswith("id column 'pid'")
    assert "pid" in rep["schema"]["drop"] and "pid" not in rep["schema"]["public"]
    res = _train(files, "--id-column", "pid", "--support-rows-are-distinct-people")
    assert res.exit_code == 1 and "not both" in res.output


def test_python_api_takes_the_statement(files):
    from fusiondp import FusionDPClassifier

    train = pd.read_csv(files / "train.csv").drop(columns="pid")
    support = pd.read_csv(files / "support.csv").drop(columns="pid")
    X, y = train.drop(columns="released"), train["released"]
    sup = support.drop(columns="released")
    clf = FusionDPClassifier(sensitive=["colour", "age_band"], imputer="mean", epochs=1, batch_size=32,
                             public_batch_size=64, delta=1e-4, categorical=["colour", "sex", "employed", "citizen"])
    with pytest.raises(DataError, match="also appear"):
        clf.fit(X, y, support=sup)
    clf.fit(X, y, support=sup, support_rows_are_distinct_people=True)
    assert "distinct" in clf.report_["support_identity"]


def test_bench_table_with_a_support_file_records_the_statement(files, monkeypatch):
    monkeypatch.chdir(files)
    args = ["bench", "--table", "train.csv", "--support", "support.csv", "--target", "released", "--sensitive",
            "colour,age_band", "--imputer", "mean", "--seeds", "1", "--epsilons", "2", "--methods", "sgd_pub,fdp",
            "--no-progress", "--no-report"]
    res = runner.invoke(app, [*args, "--drop", "pid"])
    assert res.exit_code == 1 and "also appear in the training table" in res.output, res.output
    res = runner.invoke(app, [*args, "--id-column", "pid"])
    assert res.exit_code == 0, res.output
    recs = [json.loads(line) for line in (files / "fusiondp-bench" / "train" / "train_runs.jsonl").read_text().splitlines()]
    assert recs and all(r["info"]["support identity"].startswith("id column 'pid'") for r in recs)
