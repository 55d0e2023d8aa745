"""Audits: the ε lower bound, the one-run canary audit and the attribute-inference attack.

Each audit must be able to fail: a leaky toy model must be caught, a model that never read the
sensitive values must not be.
"""

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from fusiondp.audit import attribute_audit, best_lower_bound, canary_audit, epsilon_lower_bound, fit_attacker, p_value
from fusiondp.audit.canary import plant_canaries
from fusiondp.data.schema import Schema
from fusiondp.pipeline import prepare, run
from fusiondp.train.config import TrainConfig
from fusiondp.train.methods import get_method
from tables import SENSITIVE, make_hybrid, make_table

torch.set_num_threads(1)

# ----------------------------------------------------------------------------------------------- bound


@pytest.mark.parametrize("r", [10, 50, 200])
def test_bound_all_correct_matches_closed_form(r):
    # δ = 0 and v = r: p = q^r, so the bound is logit(β^(1/r)).
    q = 0.05 ** (1 / r)
    assert epsilon_lower_bound(1000, r, r, 0.0, 0.95) == pytest.approx(math.log(q / (1 - q)), abs=1e-4)


def test_p_value_at_zero_is_a_fair_coin_tail():
    assert p_value(100, 20, 15, 0.0, 0.0) == pytest.approx(sum(math.comb(20, k) for k in range(15, 21)) / 2 ** 20)


def test_bound_monotone_non_negative_and_delta_costs():
    bounds = [epsilon_lower_bound(1000, 100, v, 1e-5) for v in range(0, 101)]
    assert min(bounds) == 0.0 and bounds[50] == 0.0
    assert all(b2 >= b1 for b1, b2 in zip(bounds, bounds[1:]))
    assert bounds[100] > bounds[90] > bounds[70] > 0
    assert epsilon_lower_bound(1000, 100, 95, 1e-3) < epsilon_lower_bound(1000, 100, 95, 0.0)
    # more confidence → smaller bound
    assert epsilon_lower_bound(1000, 100, 95, 1e-5, 0.99) < epsilon_lower_bound(1000, 100, 95, 1e-5, 0.9)


def test_bonferroni_over_rules():
    one = epsilon_lower_bound(1000, 100, 95, 1e-5, 1 - 0.05 / 4)
    best = best_lower_bound({"a": (100, 95), "b": (10, 5), "c": (50, 25), "d": (20, 10)}, 1000, 1e-5)
    assert best["rule"] == "a" and best["epsilon_lower_bound"] == pytest.approx(one)
    assert best["epsilon_lower_bound"] < epsilon_lower_bound(1000, 100, 95, 1e-5, 0.95)


def test_bound_rejects_bad_counts():
    from fusiondp.errors import ConfigError

    with pytest.raises(ConfigError):
        epsilon_lower_bound(10, 20, 5, 0.0)


# ----------------------------------------------------------------------------------------------- canary

SCHEMA = Schema("y", SENSITIVE, drop=["id"])
FAST = dict(batch_size=50, public_batch_size=128, optimizer="adam", lr=1e-2, hidden=(64, 64), dropout=0.0,
            radius=float("inf"), delta=1e-4, clip=1.0)


@pytest.fixture(scope="module")
def prepared():
    t = make_table(300)
    return prepare(t, make_hybrid(t), SCHEMA)


def test_canaries_realise_the_remove_relation(prepared):
    data, mask = prepared.data, prepared.pre.sensitive_mask()
    for method in ("fusiondp", "fdp", "dpsgd"):
        spec = get_method(method)
        aug, c = plant_canaries(data, mask, spec, m=40, magnitude=8.0, rng=np.random.default_rng(0), public_scale=3)
        x, view = aug.x[c.rows], aug.view(spec.private_view or "hybrid")[c.rows]
        minus = c.secrets == -1
        assert torch.equal(x[minus], view[minus])  # S = −1: the private term of a 'diff' method is zero
        assert torch.equal(x[~minus][:, ~mask], view[~minus][:, ~mask])  # S = +1 changes sensitive features only
        assert (x[~minus][:, mask] != view[~minus][:, mask]).all()
        assert torch.equal(aug.x[:data.n], data.x)


def test_canary_catches_a_non_private_model(prepared):
    a = canary_audit(prepared.data, prepared.pre.sensitive_mask(), "sgd_ori",
                     TrainConfig(**FAST, epochs=40, epsilon=None), m=200, public_scale=3.0, seed=0).to_dict()
    assert a["epsilon_accounted"] is None
    assert a["epsilon_lower_bound"] > 1.0 and a["score_auc"] > 0.8


def test_canary_finds_nothing_when_sensitive_values_are_never_read(prepared):
    a = canary_audit(prepared.data, prepared.pre.sensitive_mask(), "sgd_hybrid",
                     TrainConfig(**FAST, epochs=20, epsilon=None), m=200, public_scale=3.0, seed=0).to_dict()
    assert a["epsilon_accounted"] == 0.0 and a["epsilon_lower_bound"] == 0.0


@pytest.mark.parametrize("method, relation", [("fusiondp", "remove"), ("dpsgd", "replace")])
def test_canary_bound_below_accounted_epsilon(prepared, method, relation):
    from fusiondp.privacy.accounting import epsilon

    a = canary_audit(prepared.data, prepared.pre.sensitive_mask(), method, TrainConfig(**FAST, epochs=5, epsilon=None,
                                                                                 noise_multiplier=1.0),
                     m=100, public_scale=3.0, seed=1)
    d = a.to_dict()
    assert d["relation"] == relation and 0.0 <= d["epsilon_lower_bound"] <= d["epsilon_accounted"]
    plan = a.train_result.plan
    expected = epsilon(noise_multiplier=plan.noise_multiplier, sample_rate=plan.sample_rate, steps=plan.steps,
                       delta=plan.delta, relation=relation, accountant="pld")
    assert d["epsilon_accounted"] == pytest.approx(expected)


# ----------------------------------------------------------------------------------------------- attribute

def _xor_table(n: int, seed: int, noise: float = 0.05) -> pd.DataFrame:
    """The label is s_bin XOR (p1 > 0): only a model that read s_bin can predict it from public columns."""
    r = np.random.default_rng(seed)
    p1, p2 = r.normal(size=n), r.normal(size=n)
    s_bin, s_num = r.integers(0, 2, n), r.normal(50, 10, n)
    y = (s_bin ^ (p1 > 0)).astype(int)
    y = np.where(r.random(n) < noise, 1 - y, y)
    return pd.DataFrame({"p1": p1, "p2": p2, "s_num": s_num, "s_bin": s_bin, "y": y})


XOR_SCHEMA = Schema("y", ["s_num", "s_bin"])
XOR_CFG = TrainConfig(epochs=150, batch_size=400, public_batch_size=400, optimizer="adam", lr=1e-2, hidden=(32, 32),
                      dropout=0.0, radius=float("inf"), epsilon=None)


class Memoriser:
    """A deliberately leaky 'model': the training label of a row whose public columns and s_bin match a
    training row exactly, else 0.5 (it ignores s_num)."""

    def __init__(self, train: pd.DataFrame, schema: Schema):
        self.schema, self.classes = schema.bind(train), [0, 1]
        self.cols = ["p1", "p2", "s_bin"]
        self.table = {tuple(np.round(r, 6)): y for r, y in zip(train[self.cols].to_numpy(float), train[schema.target])}

    def predict_proba(self, frame):
        p1 = np.array([{1: 0.99, 0: 0.01}.get(self.table.get(tuple(np.round(r, 6))), 0.5)
                       for r in frame[self.cols].to_numpy(float)])
        return np.stack([1 - p1, p1], axis=1)


@pytest.fixture(scope="module")
def xor():
    train, heldout, support = _xor_table(400, 0), _xor_table(300, 1), _xor_table(300, 2)
    attacker = fit_attacker(support, XOR_SCHEMA.bind(train), imputer="mean", grid=15)
    return train, heldout, support, attacker


@pytest.fixture(scope="module")
def saved(xor, tmp_path_factory):
    """Models trained on the XOR table, saved and loaded: method -> (SavedModel, path)."""
    from fusiondp import io as fio

    train = xor[0]
    hybrid = train.copy()  # an imputation that carries no information: independent draws
    r = np.random.default_rng(7)
    hybrid["s_num"], hybrid["s_bin"] = r.normal(50, 10, len(train)), r.integers(0, 2, len(train))
    folder, out = tmp_path_factory.mktemp("models"), {}
    for method in ("sgd_ori", "sgd_hybrid", "sgd_pub"):
        result, prep, rep = run(train, hybrid, XOR_SCHEMA, method=method, config=XOR_CFG, progress=False)
        path = fio.save(folder / f"{method}.safetensors", result, prep, rep)
        out[method] = (fio.load(path), path)
    return out


def test_attribute_detects_a_model_that_learned_the_sensitive_column(xor, saved):
    train, heldout, _, attacker = xor
    res = attribute_audit(saved["sgd_ori"][0], train, heldout, attacker, rows=None, bootstrap=300)
    c = res["columns"]["s_bin"]
    assert c["metric"] == "accuracy" and c["leak_detected"]
    assert c["train"]["attack"] > 0.8 > 0.6 > c["train"]["baseline"]
    json.dumps(res)


def test_attribute_detects_memorisation_of_training_records(xor):
    train, heldout, _, attacker = xor
    res = attribute_audit(Memoriser(train, XOR_SCHEMA), train, heldout, attacker, rows=None, bootstrap=300)
    c = res["columns"]["s_bin"]
    assert c["leak_detected"] and c["membership_leak_detected"], c
    assert c["train"]["attack"] > 0.9 and c["heldout"]["attack"] < 0.65
    assert not res["columns"]["s_num"]["leak_detected"]  # the memoriser never looks at s_num


@pytest.mark.parametrize("method", ["sgd_hybrid", "sgd_pub"])
def test_attribute_finds_nothing_beyond_chance_without_sensitive_values(xor, saved, method):
    train, heldout, _, attacker = xor
    res = attribute_audit(saved[method][0], train, heldout, attacker, rows=None, bootstrap=300)
    for name, c in res["columns"].items():
        assert not c["leak_detected"] and not c["membership_leak_detected"], (name, c)
        assert c["advantage"]["ci"][0] <= 0


# ----------------------------------------------------------------------------------------------- CLI + HTML

def test_cli_canary_and_attribute_write_json_and_html(tmp_path, xor, saved):
    from fusiondp.cli.app import _load_commands, app

    _load_commands()
    runner = CliRunner()
    t = make_table(200)
    t.to_csv(tmp_path / "train.csv", index=False)
    make_hybrid(t).to_csv(tmp_path / "hybrid.csv", index=False)
    res = runner.invoke(app, ["audit", "canary", "--train", str(tmp_path / "train.csv"), "--hybrid",
                              str(tmp_path / "hybrid.csv"), "--target", "y", "--sensitive", ",".join(SENSITIVE),
                              "--drop", "id", "--method", "fusiondp", "--epsilon", "4", "--delta", "1e-4",
                              "--epochs", "2", "--batch-size", "32", "--public-batch-size", "64", "--canaries", "50",
                              "--no-progress", "--out", str(tmp_path / "canary.json"), "--html",
                              str(tmp_path / "canary.html")])
    assert res.exit_code == 0, res.output
    d = json.loads((tmp_path / "canary.json").read_text())
    assert d["relation"] == "remove" and d["epsilon_lower_bound"] <= d["epsilon_accounted"]
    page = (tmp_path / "canary.html").read_text()
    assert "One-run canary audit" in page and "Privacy statement" in page

    train, heldout, support, _ = xor
    model, model_path = saved["sgd_ori"]
    for name, frame in (("xtrain", train), ("xheld", heldout), ("xsup", support)):
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
    res = runner.invoke(app, ["audit", "attribute", "--model", str(model_path), "--train",
                              str(tmp_path / "xtrain.csv"), "--heldout", str(tmp_path / "xheld.csv"), "--support",
                              str(tmp_path / "xsup.csv"), "--imputer", "mean", "--bootstrap", "200",
                              "--out", str(tmp_path / "attr.json"), "--html", str(tmp_path / "attr.html")])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "attr.json").read_text())["columns"]["s_bin"]["leak_detected"]
    assert "Attribute inference" in (tmp_path / "attr.html").read_text()
    assert model.privacy["method"] == "sgd_ori"


def test_cli_audit_errors_are_one_line(tmp_path):
    from fusiondp.cli.app import _load_commands, app

    _load_commands()
    res = CliRunner().invoke(app, ["audit", "attribute", "--model", str(tmp_path / "missing.safetensors"), "--train",
                                   "a.csv", "--heldout", "b.csv", "--support", "c.csv", "--out", "x.json"])
    assert res.exit_code == 1 and "error:" in res.output and "Traceback" not in res.output
