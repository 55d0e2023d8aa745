"""`fusiondp impute` prints imputation quality measured on the public support set only (cross-fitted)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from fusiondp.cli.app import _load_commands, app
from fusiondp.data.schema import Schema
from fusiondp.errors import ConfigError
from fusiondp.evaluate.imputation import cross_fitted_quality, quality_section
from fusiondp.impute.base import Imputer



def synth(n: int, seed: int) -> pd.DataFrame:
    """Public hr, lab, ward; sensitive age (numeric, from hr), sex, u1/u2 (one-hot, from ward); label y."""
    rng = np.random.default_rng(seed)
    hr, lab, ward = rng.normal(80, 10, n), rng.normal(0, 1, n), rng.choice(["a", "b"], n)
    u1 = (ward == "a").astype(int)
    return pd.DataFrame({"hr": hr, "lab": lab, "ward": ward, "age": 40 + 1.5 * (hr - 80) + rng.normal(0, 3, n),
                         "sex": np.where(lab + rng.normal(0, 0.3, n) > 0, "m", "f"), "u1": u1, "u2": 1 - u1,
                         "y": (hr > 85).astype(int), "rowid": np.arange(n)})

_load_commands()
SCHEMA = Schema(target="y", sensitive=["age", "sex", "u1", "u2"], drop=["rowid"])


class NearestNeighbour(Imputer):
    """1-NN on the public columns: perfect on rows it was fitted on, so in-sample scoring would flatter it."""

    name = "nn1"

    def _fit_task(self, task, X, y, X_unlabeled):
        return X, y

    def _predict_task(self, model, task, X):
        Xf, y = model
        d = np.nan_to_num(((X[:, None, :] - Xf[None, :, :]) ** 2), nan=0.0).sum(-1)
        near = y[d.argmin(1)]
        if task.kind == "numeric":
            return near.astype(float)
        return np.eye(int(y.max()) + 1)[near]


def test_cross_fitting_never_scores_a_row_with_an_imputer_fitted_on_it():
    support = synth(90, 1)
    cross = cross_fitted_quality(support, SCHEMA, imputer=NearestNeighbour(), folds=3).set_index("column")
    assert (cross["n"] == 90).all()
    # 1-NN reproduces any row it was fitted on: in-sample R² would be exactly 1; cross-fitted it is not.
    assert cross.loc["age", "r2"] < 0.999
    assert cross.loc["age", "r2"] > 0.5  # age is predictable from hr, so it is still good


def test_too_small_support_is_a_config_error():
    with pytest.raises(ConfigError, match="too few"):
        cross_fitted_quality(synth(5, 1), SCHEMA, imputer="mean", folds=3)


def test_quality_section_format():
    q = quality_section(cross_fitted_quality(synth(60, 1), SCHEMA, imputer="mean"), "support")
    assert q["measured_on"] == "support"
    assert q["columns"]["age"]["metric"] == "r2" and q["columns"]["sex"]["metric"] == "accuracy"


def _impute(tmp_path: Path, train: pd.DataFrame, tag: str):
    train.to_csv(tmp_path / f"train_{tag}.csv", index=False)
    res = CliRunner().invoke(app, ["impute", "--train", str(tmp_path / f"train_{tag}.csv"), "--support",
                                   str(tmp_path / "support.csv"), "--target", "y", "--sensitive", "age,sex,u1,u2",
                                   "--drop", "rowid", "--out", str(tmp_path / f"hyb_{tag}.csv"), "--imputer", "mean",
                                   "--no-progress", "--quality-out", str(tmp_path / f"q_{tag}.json")])
    assert res.exit_code == 0, res.output
    return res.output, json.loads((tmp_path / f"q_{tag}.json").read_text())


def test_impute_prints_quality_that_does_not_depend_on_training_rows_true_values(tmp_path):
    synth(120, 1).to_csv(tmp_path / "support.csv", index=False)
    train = synth(80, 2)
    scrambled = train.assign(age=-train["age"] * 7, sex="x", u1=1 - train["u1"], u2=train["u1"])
    out_a, q_a = _impute(tmp_path, train, "a")
    out_b, q_b = _impute(tmp_path, scrambled, "b")
    assert "Imputation quality" in out_a and "support set, cross-fitted" in out_a
    assert q_a == q_b  # only public data enters the measurement
    assert out_a.split("Imputation quality", 1)[1] == out_b.split("Imputation quality", 1)[1].replace("q_b", "q_a")
    assert q_a["columns"]["age"]["rows"] == 120  # support rows, not the 80 training rows


def test_report_shows_the_quality_file(tmp_path, tiny_run_json):
    synth(60, 1).to_csv(tmp_path / "support.csv", index=False)
    _, q = _impute(tmp_path, synth(30, 2), "c")
    res = CliRunner().invoke(app, ["report", str(tiny_run_json), "--imputation-quality", str(tmp_path / "q_c.json"),
                                   "--out", str(tmp_path / "r.html")])
    assert res.exit_code == 0, res.output
    page = (tmp_path / "r.html").read_text()
    assert "Imputation quality" in page and "cross-fitted" in page
    res = CliRunner().invoke(app, ["report", str(tiny_run_json), "--imputation-quality", str(tiny_run_json)])
    assert res.exit_code == 1 and "not an imputation quality file" in res.output


@pytest.fixture
def tiny_run_json(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"method": "sgd_hybrid", "epsilon": 0.0, "neighbouring": None, "metrics": {},
                                "history": []}))
    return path
