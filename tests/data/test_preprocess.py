"""The tabular representation: indicators, robust encodings, rare levels, support-set fitting, collapse."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from fusiondp.data.preprocess import LEGACY, MISSING, OTHER, Preprocessor, Representation
from fusiondp.data.schema import Schema
from fusiondp.errors import ConfigError
from tables import make_hybrid, make_table

SCHEMA = Schema("y", ["age", "sex", "unit"], drop=["id"])


def _frames():
    train = make_table(400, seed=3)
    train.loc[::7, "age"] = np.nan  # true sensitive values missing in some rows
    hybrid = make_hybrid(train)
    return train, hybrid


def test_public_column_with_missing_values_gets_an_indicator():
    train, hybrid = _frames()
    pre = Preprocessor.fit(hybrid, SCHEMA)
    assert "lab" in pre.indicators and "hr" not in pre.indicators
    names = pre.feature_names()
    j = names.index("lab__missing")
    x = pre.transform(train)
    assert np.array_equal(x[:, j], train["lab"].isna().to_numpy(np.float32))
    assert not pre.sensitive_mask()[j]


def test_sensitive_indicator_is_inside_the_sensitive_block():
    train, hybrid = _frames()
    support = make_table(200, seed=9)
    support.loc[::5, "age"] = np.nan
    pre = Preprocessor.fit(hybrid, SCHEMA, sensitive_frame=pd.concat([support, hybrid]))
    names = pre.feature_names()
    j = names.index("age__missing")
    assert pre.sensitive_mask()[j] and pre.sensitive_mask()[names.index("age")]
    assert any(start <= j < stop for start, stop, _ in pre.sensitive_blocks())
    # the original view carries the true missingness (private), the hybrid view the hybrid's (none here)
    assert pre.transform(train)[:, j].sum() == train["age"].isna().sum() > 0
    assert pre.transform(hybrid)[:, j].sum() == 0
    assert int(pre.sensitive_mask().sum()) == sum(stop - start for start, stop, _ in pre.sensitive_blocks())


def test_indicators_can_be_turned_off():
    _, hybrid = _frames()
    pre = Preprocessor.fit(hybrid, SCHEMA, representation=Representation(indicators=False))
    assert pre.indicators == [] and not any(n.endswith("__missing") for n in pre.feature_names())


def test_unseen_category_goes_to_other_and_is_counted():
    train, hybrid = _frames()
    pre = Preprocessor.fit(hybrid, SCHEMA)
    test = train.copy()
    test.loc[:9, "ward"] = "zz-new-ward"
    x = pre.transform(test, what="test data", public_rows=True)
    names = pre.feature_names()
    block = [i for i, n in enumerate(names) if n.startswith("ward=")]
    assert (x[:, block].sum(axis=1) == 1).all()  # never an all-zero row
    assert x[:10, names.index(f"ward={OTHER}")].tolist() == [1.0] * 10
    assert pre.unseen["test data"]["ward"] == 10


def test_unseen_sensitive_category_is_not_counted():
    train, hybrid = _frames()
    pre = Preprocessor.fit(hybrid, SCHEMA)
    t = train.copy()
    t.loc[:4, "unit"] = "burns"
    x = pre.transform(t, what="training data")
    assert x[:5, pre.feature_names().index(f"unit={OTHER}")].tolist() == [1.0] * 5
    assert "unit" not in pre.unseen.get("training data", {})


def test_unseen_counts_follow_the_typed_flag_not_the_label():
    """Issue 24: whether rows are private is a typed flag; no wording of `what` turns counting on or off."""
    train, hybrid = _frames()
    pre = Preprocessor.fit(hybrid, SCHEMA)
    t = train.copy()
    t.loc[:9, "ward"] = "zz-new-ward"
    for label in ("test data", "validation", "rows", "trainingless data"):  # labels the old substring rule read
        pre.transform(t, what=label)  # default: private rows, never counted
    assert pre.unseen == {} and not any("never show" in n for n in pre.notes)
    pre.transform(t, what="my training-like data", public_rows=True)
    assert pre.unseen == {"my training-like data": {"ward": 10}}


def test_rare_levels_are_grouped():
    frame = pd.DataFrame({"c": ["a"] * 50 + ["b"] * 50 + ["rare"] * 2, "s": np.arange(102.0), "y": [0, 1] * 51})
    pre = Preprocessor.fit(frame, Schema("y", ["s"], categorical=["c"]), representation=Representation(min_frequency=5))
    assert pre.categories["c"] == ["a", "b", OTHER]
    x = pre.transform(frame)
    assert x[-2:, 2].tolist() == [1.0, 1.0]


def test_missing_category_has_its_own_level():
    frame = pd.DataFrame({"c": ["a", "b", None] * 20, "s": np.arange(60.0), "y": [0, 1] * 30})
    pre = Preprocessor.fit(frame, Schema("y", ["s"], categorical=["c"]))
    assert MISSING in pre.categories["c"]
    x = pre.transform(frame)
    assert x[2, pre.feature_names().index(f"c={MISSING}")] == 1.0


@pytest.mark.parametrize("encoding", ["clip", "quantile"])
def test_robust_encodings_bound_outliers(encoding):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"v": rng.normal(0, 1, 1000), "s": rng.normal(0, 1, 1000), "y": [0, 1] * 500})
    pre = Preprocessor.fit(frame, Schema("y", ["s"]), representation=Representation(numeric=encoding))
    far = pd.DataFrame({"v": [1e6, -1e6, 0.0], "s": [0.0, 0.0, 0.0], "y": [0, 1, 0]})
    z = pre.transform(far)[:, 0]
    assert np.abs(z).max() < 4.0
    assert z[0] > z[2] > z[1]
    std = Preprocessor.fit(frame, Schema("y", ["s"]), representation=Representation(numeric="standard"))
    assert np.abs(std.transform(far)[:, 0]).max() > 1e5


def test_sensitive_statistics_come_from_the_sensitive_frame():
    train, hybrid = _frames()
    hybrid["age"] = 60.0 + np.random.default_rng(0).normal(0, 0.01, len(hybrid))  # collapsed imputation
    support = make_table(300, seed=11)
    with pytest.warns(UserWarning, match="collapsed"):
        pre = Preprocessor.fit(hybrid, SCHEMA, sensitive_frame=pd.concat([support, hybrid]))
    assert "age" in pre.collapsed
    z = pre.transform(train)[:, pre.feature_names().index("age")]
    assert np.nanmax(np.abs(z)) < 10  # fitted on the hybrid alone this would be thousands of std units
    alone = Preprocessor.fit(hybrid, SCHEMA)
    assert np.abs(alone.transform(train.fillna({"age": 60.0}))[:, alone.feature_names().index("age")]).max() > 100


def test_lost_levels_are_reported():
    train, hybrid = _frames()
    hybrid["unit"] = "micu"
    support = make_table(300, seed=11)
    with pytest.warns(UserWarning, match="lost 1 of 2 levels"):
        pre = Preprocessor.fit(hybrid, SCHEMA, sensitive_frame=pd.concat([support, hybrid]))
    assert "sicu" in pre.categories["unit"]  # the vocabulary keeps the support set's level


def test_round_trip_and_legacy_dicts():
    train, hybrid = _frames()
    pre = Preprocessor.fit(hybrid, SCHEMA, representation=Representation(numeric="quantile"))
    again = Preprocessor.from_dict(pre.to_dict())
    assert np.array_equal(pre.transform(train), again.transform(train))
    assert again.to_dict()["representation"]["numeric"] == "quantile"
    legacy = {k: v for k, v in Preprocessor.fit(hybrid, SCHEMA, representation=LEGACY).to_dict().items()
              if k in ("schema", "numeric", "categories", "mean", "scale", "columns")}
    old = Preprocessor.from_dict(legacy)
    assert old.representation == LEGACY and old.indicators == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert old.transform(train).shape == (len(train), old.n_features)


def test_bad_options_are_config_errors():
    with pytest.raises(ConfigError, match="numeric encoding"):
        Representation(numeric="bogus")
    with pytest.raises(ConfigError, match="min_frequency"):
        Representation(min_frequency=0)
