"""Backends: numeric, categorical, one-hot groups, NaN handling, registry, optional backends."""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest

from fusiondp.errors import BackendUnavailableError, ConfigError, DataError
from fusiondp.impute import (IMPUTERS, EnsembleImputer, build_tasks, detect_onehot_groups, get_imputer,
                             register_imputer)

PUB = ["hr", "lab", "ward"]
SENS = ["age", "sex", "u1", "u2"]


def fast(**kw):
    return EnsembleImputer(n_trees=15, folds=3, n_jobs=1, boosting_rounds=40, **kw)


def test_numeric_and_categorical_beat_the_mean(support, train):
    imp = fast().fit(support[PUB], support[SENS], unlabeled=train[PUB])
    pred = imp.predict(train[PUB])
    assert pred.index.equals(train.index) and list(pred.columns) == SENS
    r2 = 1 - np.mean((pred.age - train.age) ** 2) / np.var(train.age)
    assert r2 > 0.8
    assert (pred.sex == train.sex).mean() > 0.8
    assert set(pred.sex) <= {"f", "m"}
    proba = imp.predict_proba(train[PUB])
    assert list(proba["sex"].columns) == ["f", "m"]
    np.testing.assert_allclose(proba["sex"].sum(axis=1), 1.0)


def test_onehot_group_is_one_consistent_category(support, train):
    imp = fast(onehot_groups=[["u1", "u2"]]).fit(support[PUB], support[SENS])
    pred = imp.predict(train[PUB])
    assert ((pred.u1 + pred.u2) == 1).all()
    assert pred.u1.dtype == support.u1.dtype
    assert (pred.u1 == train.u1).mean() > 0.95  # u1 is the ward, a public column
    assert "u1+u2" in imp.predict_proba(train[PUB])


def test_onehot_groups_detected_from_support_only(support):
    assert detect_onehot_groups(support, SENS) == [["u1", "u2"]]
    assert [t.name for t in build_tasks(support[SENS])] == ["age", "sex", "u1+u2"]
    assert [t.name for t in build_tasks(support[SENS], onehot_groups=[])] == ["age", "sex", "u1", "u2"]
    with pytest.raises(ConfigError, match="not sensitive"):
        build_tasks(support[SENS], onehot_groups=[["u1", "hr"]])


def test_nan_in_public_and_sensitive_support_columns(support, train):
    sup = support.copy()
    sup.loc[::3, "age"] = np.nan
    sup.loc[::4, "sex"] = np.nan
    sup.loc[::5, ["u1", "u2"]] = np.nan
    sup.loc[::2, "hr"] = np.nan
    tr = train[PUB].copy()
    tr.loc[::2, "hr"] = np.nan
    for name in ("mean", "ensemble"):
        kw = dict(n_trees=10, folds=3, n_jobs=1, boosting_rounds=20) if name == "ensemble" else {}
        pred = get_imputer(name, **kw).fit(sup[PUB], sup[SENS]).predict(tr)
        assert not pred.isna().any().any()


def test_numeric_codes_and_categorical_override(support, train):
    sup = support.assign(sexcode=(support.sex == "m").astype(float))
    imp = fast().fit(sup[PUB], sup[["sexcode"]])
    assert set(imp.predict(train[PUB]).sexcode.unique()) <= {0.0, 1.0}  # 0/1 numeric -> categorical
    sup = sup.assign(grade=np.where(sup.age > 40, 3, 7))
    imp = fast(categorical=["grade"]).fit(sup[PUB], sup[["grade"]])
    assert set(imp.predict(train[PUB]).grade.unique()) <= {3, 7}


def test_single_class_and_all_missing_targets(support, train):
    sup = support.assign(const="x", empty=np.nan)
    pred = get_imputer("mean").fit(sup[PUB], sup[["const"]]).predict(train[PUB])
    assert (pred.const == "x").all()
    with pytest.raises(DataError, match="missing on every support row"):
        get_imputer("mean").fit(sup[PUB], sup[["empty"]])


def test_unknown_category_in_public_column(support, train):
    tr = train[PUB].assign(ward="zzz")
    pred = fast().fit(support[PUB], support[["age"]]).predict(tr)
    assert pred.age.notna().all()


def test_ensemble_is_deterministic(support, train):
    a = fast(random_state=3).fit(support[PUB], support[["age", "sex"]]).predict(train[PUB])
    b = fast(random_state=3).fit(support[PUB], support[["age", "sex"]]).predict(train[PUB])
    pd.testing.assert_frame_equal(a, b)


def test_registry():
    assert {"ensemble", "mean", "tabpfn", "tabicl"} <= set(IMPUTERS)
    assert isinstance(get_imputer("default"), EnsembleImputer)
    with pytest.raises(ConfigError, match="Unknown imputer"):
        get_imputer("nope")
    with pytest.raises(ConfigError, match="already registered"):
        register_imputer("mean", IMPUTERS["mean"])
    with pytest.raises(ConfigError, match="Bad option"):
        get_imputer("mean", bogus=1)


@pytest.mark.parametrize("name,extra", [("tabpfn", "tabpfn"), ("tabicl", "tabicl")])
def test_missing_weights_are_a_clear_error(tmp_path, name, extra):
    with pytest.raises(BackendUnavailableError, match="needs local weights") as e:
        get_imputer(name)
    assert f'pip install "fusiondp[{extra}]"' in str(e.value)
    missing = tmp_path / "nope.ckpt"
    with pytest.raises(BackendUnavailableError, match="weights not found") as e:
        get_imputer(name, model_path=missing)
    assert str(missing) in str(e.value)


@pytest.mark.parametrize("name", ["tabpfn", "tabicl"])
def test_missing_package_is_a_clear_error(tmp_path, name):
    if importlib.util.find_spec(name) is not None:
        pytest.skip(f"{name} is installed here")
    ckpt = tmp_path / f"{name}-classifier.ckpt"
    ckpt.write_bytes(b"")
    with pytest.raises(BackendUnavailableError, match=rf'pip install "fusiondp\[{name}\]"'):
        get_imputer(name, model_path=ckpt)


def test_no_optional_backend_imported_by_default():
    import subprocess
    import sys

    code = ("import sys, fusiondp.impute; from fusiondp.impute import make_hybrid; "
            "print(any(m.split('.')[0] in ('tabpfn', 'tabicl') for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
