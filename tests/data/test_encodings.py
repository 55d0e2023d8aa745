"""Numeric encodings 'quantile' and 'ple': fitted only where every statistic is fitted, widths, clamping,
saved with the model and checked on load (issue 16 item 1)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from fusiondp.data.preprocess import BIN_SUFFIX, INDICATOR_SUFFIX, Preprocessor, Representation, ple_encode
from fusiondp.data.schema import Schema
from fusiondp.errors import ConfigError
from fusiondp.pipeline import prepare, run
from fusiondp.train.config import TrainConfig
from tables import SENSITIVE, make_hybrid, make_table, poison

SCHEMA = Schema("y", SENSITIVE, drop="id")
PLE = Representation(numeric="ple", bins=8)
FAST = dict(epochs=1, batch_size=32, public_batch_size=64, lr=0.1, epsilon=2.0, delta=1e-4, seed=0, hidden=(16,))


def test_ple_widths_names_and_blocks():
    table = make_table(300)
    pre = Preprocessor.fit(make_hybrid(table), SCHEMA, representation=PLE)
    names = pre.feature_names()
    for c in ("hr", "bp", "age"):  # continuous: 8 distinct quantile bins each
        assert [n for n in names if n.startswith(c + BIN_SUFFIX)] == [f"{c}{BIN_SUFFIX}{k}" for k in range(8)]
        assert len(pre.edges[c]) == 9
    assert len(pre.edges["sex"]) == 2 and f"sex{BIN_SUFFIX}0" in names and f"sex{BIN_SUFFIX}1" not in names
    assert "lab" + INDICATOR_SUFFIX in names  # missingness indicator kept next to the bins
    x = pre.transform(table)
    assert x.shape == (len(table), pre.n_features) == (len(table), len(names))
    assert x.min() >= 0.0 and x.max() <= 1.0
    age = [i for i, n in enumerate(names) if n.startswith("age")]
    assert (min(age), max(age) + 1, False) in pre.sensitive_blocks()
    assert pre.sensitive_mask()[age].all() and pre.sensitive_mask().sum() == sum(
        b - a for a, b, _ in pre.sensitive_blocks())


@pytest.mark.parametrize("encoding", ["quantile", "ple"])
def test_unseen_extremes_clamp(encoding):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"v": rng.normal(0, 1, 1000), "s": rng.normal(0, 1, 1000), "y": [0, 1] * 500})
    pre = Preprocessor.fit(frame, Schema("y", ["s"]), representation=Representation(numeric=encoding, bins=8))
    far = pd.DataFrame({"v": [-1e9, frame["v"].min(), 0.0, frame["v"].max(), 1e9], "s": 0.0, "y": 0})
    width = 8 if encoding == "ple" else 1
    z = pre.transform(far)[:, :width]
    assert np.isfinite(z).all() and np.abs(z).max() < 2.0
    np.testing.assert_array_equal(z[0], z[1])  # below the fitted range: the same code as the fitted minimum
    np.testing.assert_array_equal(z[3], z[4])  # above: the same as the fitted maximum
    score = z.sum(axis=1)
    assert score[1] < score[2] < score[3]
    if encoding == "ple":
        assert z[0].tolist() == [0.0] * 8 and z[4].tolist() == [1.0] * 8


def test_ple_encode_ties_and_constants():
    assert ple_encode(np.array([3.0, 5.0]), [4.0]).tolist() == [[0.0], [0.0]]
    col = pd.DataFrame({"v": [0.0] * 90 + [1.0] * 10, "s": np.arange(100.0), "y": [0, 1] * 50})
    pre = Preprocessor.fit(col, Schema("y", ["s"]), representation=PLE)
    assert pre.edges["v"] == [0.0, 1.0]  # tied quantiles are merged: a 0/1 column stays one feature
    np.testing.assert_array_equal(pre.transform(col)[:, 0], col["v"].to_numpy(np.float32))


def _fitted(table: pd.DataFrame, support: pd.DataFrame, encoding: str, record_level: bool) -> str:
    p = prepare(table, make_hybrid(table), SCHEMA.bind(table), support_df=support, record_level=record_level)
    return json.dumps(p.pre.to_dict(), sort_keys=True)


@pytest.mark.parametrize("encoding", ["quantile", "ple"])
def test_record_level_fit_ignores_training_rows(encoding):
    """dpsgd: an extra training record with extreme values changes no fitted quantile or edge."""
    from fusiondp.data.preprocess import use_representation

    table, support = make_table(200), make_table(80, seed=5)
    extra = table.iloc[[0]].assign(id=10_000, hr=400.0, bp=10.0, lab=-50.0, age=150.0, y=1)
    with_row = pd.concat([table, extra], ignore_index=True)
    with use_representation(Representation(numeric=encoding, bins=8)):
        a, b = _fitted(table, support, encoding, True), _fitted(with_row, support, encoding, True)
    assert a == b and ("400.0" not in b)


@pytest.mark.parametrize("encoding", ["quantile", "ple"])
def test_feature_level_sensitive_fit_ignores_true_values(encoding):
    """Feature-level: the sensitive columns' quantiles/edges come from support ∪ hybrid, never from the true
    values of the training rows (the same table with every sensitive value changed fits the same)."""
    from fusiondp.data.preprocess import use_representation

    table, support = make_table(200), make_table(80, seed=5)
    hybrid = make_hybrid(table)
    with use_representation(Representation(numeric=encoding, bins=8)):
        fits = [json.dumps(prepare(t, hybrid, SCHEMA.bind(t), support_df=support).pre.to_dict(), sort_keys=True)
                for t in (table, poison(table))]
    assert fits[0] == fits[1]


def test_saved_model_round_trip_and_width_check(tmp_path):
    import fusiondp.io as fio

    table = make_table(200)
    result, prepared, rep = run(table, make_hybrid(table), SCHEMA, method="fusiondp", config=TrainConfig(**FAST),
                                progress=False, representation=PLE, support_df=make_table(80, seed=5))
    assert rep["representation"]["options"]["numeric"] == "ple" and rep["representation"]["options"]["bins"] == 8
    path = fio.save(tmp_path / "m.safetensors", result, prepared, rep)
    model = fio.load(path)
    frame = make_table(50, seed=7).assign(hr=lambda f: f["hr"] * 10)  # far outside the fitted range
    from fusiondp.evaluate.metrics import predict_scores
    import torch

    expected = predict_scores(result.model, torch.from_numpy(prepared.pre.transform(frame)))
    np.testing.assert_array_equal(model.predict_proba(frame)[:, 1], expected)
    assert model.pre.to_dict()["edges"] == prepared.pre.edges

    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = json.loads(f.metadata()["fusiondp"])
    fio.check_metadata(meta)
    short = json.loads(json.dumps(meta))  # one bin edge fewer: the width no longer matches the network's input
    short["preprocessor"]["edges"]["hr"] = short["preprocessor"]["edges"]["hr"][:-1]
    with pytest.raises(ValueError, match="n_features"):
        fio.check_metadata(short)
    unordered = json.loads(json.dumps(meta))
    e = unordered["preprocessor"]["edges"]["bp"]
    e[0], e[1] = e[1], e[0]
    with pytest.raises(ValueError, match="edges"):
        fio.check_metadata(unordered)
    missing = json.loads(json.dumps(meta))  # a 'ple' file must carry edges for every numeric column
    del missing["preprocessor"]["edges"]["bp"]
    with pytest.raises(ValueError, match="edges"):
        fio.check_metadata(missing)


def test_bad_bins_are_config_errors():
    with pytest.raises(ConfigError, match="bins"):
        Representation(numeric="ple", bins=0)
    with pytest.raises(ConfigError, match="bins"):
        Representation(numeric="ple", bins=2.5)
