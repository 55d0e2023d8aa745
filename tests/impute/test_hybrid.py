"""make_hybrid: shape, order and the guarantee that training sensitive values never reach the imputer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fusiondp.errors import DataError
from fusiondp.impute import MeanImputer, make_hybrid

FAST = dict(progress=False, n_trees=10, folds=3, n_jobs=1, boosting_rounds=20)


def test_same_rows_order_columns(train, support, schema):
    shuffled = train.sample(frac=1.0, random_state=0)
    hyb = make_hybrid(shuffled, support, schema, **FAST)
    kept = [c for c in shuffled.columns if c not in schema.drop]
    assert list(hyb.columns) == kept  # dropped columns are never copied into the public hybrid
    assert hyb.index.equals(shuffled.index)
    public = [c for c in kept if c not in schema.sensitive]
    pd.testing.assert_frame_equal(hyb[public], shuffled[public])


def test_dropped_columns_never_reach_the_hybrid(train, support):
    """A dropped column may be a copy of a sensitive one (sepsis ICULOS_bin): it must not be copied out."""
    from fusiondp.data.schema import Schema

    t = train.assign(age_bin=(train["age"] // 10))
    sch = Schema("y", ["age", "sex"], drop=["age_bin"])
    hyb = make_hybrid(t, support.assign(age_bin=support["age"] // 10), sch, **FAST)
    assert "age_bin" not in hyb.columns


@pytest.mark.parametrize("use_label", [False, True])
def test_poisoned_sensitive_values_leave_output_bit_identical(train, support, schema, use_label):
    """With the label as a feature too: the hybrid reads public columns and labels, never a sensitive value."""
    clean = make_hybrid(train, support, schema, use_label=use_label, **FAST)
    poisoned = train.copy()
    poisoned["age"] = 1e9
    poisoned["sex"] = "poison"
    poisoned["u1"] = 7
    poisoned["u2"] = np.nan
    out = make_hybrid(poisoned, support, schema, use_label=use_label, **FAST)
    pd.testing.assert_frame_equal(clean, out, check_exact=True)
    absent = make_hybrid(train.drop(columns=list(schema.sensitive)), support, schema, use_label=use_label, **FAST)
    pd.testing.assert_frame_equal(clean[absent.columns], absent, check_exact=True)


@pytest.mark.parametrize("use_label", [False, True])
def test_round4_learners_never_read_training_sensitive_values(train, support, schema, use_label):
    """The spline learner and the forest on the linear view (issue 25, round 4) alone: same poisoning attack."""
    kw = {**FAST, "learners": ("forest_linear", "spline"), "fallback": "off"}  # one fit a task
    clean = make_hybrid(train, support, schema, use_label=use_label, **kw)
    poisoned = train.assign(age=-1e6, sex="poison", u1=3, u2=np.nan)
    pd.testing.assert_frame_equal(clean, make_hybrid(poisoned, support, schema, use_label=use_label, **kw),
                                  check_exact=True)
    moved = make_hybrid(train.assign(hr=train["hr"][::-1].to_numpy()), support, schema, use_label=use_label, **kw)
    assert not clean[list(schema.sensitive)].equals(moved[list(schema.sensitive)])  # it does read public columns


def test_with_use_label_the_label_does_move_the_hybrid(train, support, schema):
    """The poisoning test above can fail: the same procedure does react to a column it reads (the label)."""
    clean = make_hybrid(train, support, schema, use_label=True, **FAST)
    flipped = make_hybrid(train.assign(y=1 - train["y"]), support, schema, use_label=True, **FAST)
    assert not clean[list(schema.sensitive)].equals(flipped[list(schema.sensitive)])


class Spy(MeanImputer):
    seen: list = []

    def fit(self, X, Y, *, unlabeled=None):
        Spy.seen.append(("fit", list(X.columns), None if unlabeled is None else list(unlabeled.columns)))
        return super().fit(X, Y, unlabeled=unlabeled)

    def predict(self, X):
        Spy.seen.append(("predict", list(X.columns)))
        return super().predict(X)


@pytest.mark.parametrize("use_label", [False, True])
def test_imputer_sees_public_columns_only(train, support, schema, use_label):
    Spy.seen = []
    make_hybrid(train, support, schema, imputer=Spy(), use_label=use_label, progress=False, joint="off")
    expected = ["hr", "lab", "ward"] + (["y"] if use_label else [])
    for event in Spy.seen:
        for cols in event[1:]:
            assert cols == expected  # no sensitive column, no dropped id, label only when asked


def test_predict_refuses_a_frame_with_sensitive_columns(train, support, schema):
    imp = MeanImputer().fit(support[["hr"]], support[["age"]])
    with pytest.raises(DataError, match="sensitive column"):
        imp.predict(train[["hr", "age"]])


def test_use_label_informs_imputation(support, train, schema):
    sch = type(schema)(target="y", sensitive=["age"], drop=["rowid", "sex", "u1", "u2", "hr"])
    off = make_hybrid(train, support, sch, use_label=False, **FAST)
    on = make_hybrid(train, support, sch, use_label=True, **FAST)
    err = lambda h: float(np.mean((h["age"] - train["age"]) ** 2))  # noqa: E731
    assert err(on) < err(off)  # y = [hr > 85] carries age information once hr is hidden


def test_missing_support_columns_are_clear(train, support, schema):
    with pytest.raises(DataError, match="support set lacks sensitive"):
        make_hybrid(train, support.drop(columns=["age"]), schema, progress=False)
    with pytest.raises(DataError, match="missing from the support set"):
        make_hybrid(train, support.drop(columns=["lab"]), schema, progress=False)
