"""The TabPFN / TabICL adapters, run against fake packages at the interface boundary.

The real packages and weights are optional and absent in CI (test_foundation_models.py runs them where
they exist). Here a fake `tabpfn` / `tabicl` module is put into `sys.modules`: its estimators record what
the adapter hands them (constructor arguments, the arrays given to fit/predict) and answer with a small
nearest-neighbour rule, so everything on fusiondp's side of the boundary runs for real: local weights
lookup, estimator construction, class codes and probability columns, output shapes, the registry and
`make_hybrid`, and the errors for a missing package or missing weights.
"""

from __future__ import annotations

import importlib.machinery
import sys
import types

import numpy as np
import pytest

from fusiondp.errors import BackendUnavailableError, UnsupportedError
from fusiondp.impute import TabICLImputer, TabPFNImputer, get_imputer, impute_hybrid

PUB = ["hr", "lab", "ward"]


class _Fake:
    """A 1-nearest-neighbour estimator on the first column (NaN-safe) that records every call."""

    calls: list

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.calls.append(("init", type(self).__name__, kwargs))

    def fit(self, X, y):
        X = np.asarray(X, dtype=float)
        self.calls.append(("fit", type(self).__name__, X.shape, np.asarray(y).copy()))
        self.X_, self.y_ = np.nan_to_num(X[:, 0]), np.asarray(y)
        return self

    def _nearest(self, X):
        X = np.asarray(X, dtype=float)
        self.calls.append(("predict", type(self).__name__, X.shape))
        return np.argmin(np.abs(np.nan_to_num(X[:, 0])[:, None] - self.X_[None, :]), axis=1)


class _FakeRegressor(_Fake):
    def predict(self, X):
        return self.y_[self._nearest(X)].astype(float)


class _FakeClassifier(_Fake):
    def fit(self, X, y):
        super().fit(X, y)
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        hit = self.y_[self._nearest(X)]
        p = np.full((len(hit), len(self.classes_)), 0.1 / max(1, len(self.classes_) - 1))
        p[np.arange(len(hit)), np.searchsorted(self.classes_, hit)] = 0.9
        return p


def _fake_module(name: str, classes: dict[str, type]) -> tuple[types.ModuleType, list]:
    calls: list = []
    mod = types.ModuleType(name)
    mod.__spec__ = importlib.machinery.ModuleSpec(name, None)
    for attr, base in classes.items():
        setattr(mod, attr, type(attr, (base,), {"calls": calls}))
    return mod, calls


@pytest.fixture
def fake_tabpfn(monkeypatch):
    mod, calls = _fake_module("tabpfn", {"TabPFNClassifier": _FakeClassifier, "TabPFNRegressor": _FakeRegressor})
    monkeypatch.setitem(sys.modules, "tabpfn", mod)
    return calls


@pytest.fixture
def weights_dir(tmp_path):
    d = tmp_path / "weights"
    d.mkdir()
    (d / "tabpfn-v2-classifier-x.ckpt").write_bytes(b"c")
    (d / "tabpfn-v2-regressor-x.ckpt").write_bytes(b"r")
    (d / "notes.txt").write_text("not a checkpoint")
    return d


def _inits(calls, cls):
    return [c[2] for c in calls if c[0] == "init" and c[1] == cls]


def test_tabpfn_adapter_local_weights_calls_and_shapes(fake_tabpfn, weights_dir, support, train):
    imp = TabPFNImputer(model_path=weights_dir, device="cuda:1", random_state=7,
                        model_kwargs={"n_estimators": 3}, onehot_groups=[["u1", "u2"]])
    imp.fit(support[PUB], support[["age", "sex", "u1", "u2"]])
    reg, clf = _inits(fake_tabpfn, "TabPFNRegressor"), _inits(fake_tabpfn, "TabPFNClassifier")
    assert len(reg) == 1 and len(clf) == 2  # age; sex and the u1+u2 group
    assert reg[0]["model_path"] == str(weights_dir / "tabpfn-v2-regressor-x.ckpt")
    assert {c["model_path"] for c in clf} == {str(weights_dir / "tabpfn-v2-classifier-x.ckpt")}
    for kw in reg + clf:
        assert kw["device"] == "cuda:1" and kw["random_state"] == 7 and kw["n_estimators"] == 3
        assert kw["categorical_features_indices"] == [PUB.index("ward")]  # text column -> ordinal codes
    fits = [c for c in fake_tabpfn if c[0] == "fit"]
    assert all(shape == (len(support), len(PUB)) for _, _, shape, _ in fits)
    sex_codes = fits[1][3]
    assert set(np.unique(sex_codes)) == {0, 1}  # classes handed over as integer codes

    pred = imp.predict(train[PUB])
    assert pred.shape == (len(train), 4) and pred.index.equals(train.index)
    assert all(c[2] == (len(train), len(PUB)) for c in fake_tabpfn if c[0] == "predict")
    # the fake is 1-NN on hr: the adapter must hand back exactly its answers, decoded to the support's labels
    nearest = np.argmin(np.abs(train.hr.to_numpy()[:, None] - support.hr.to_numpy()[None, :]), axis=1)
    np.testing.assert_allclose(pred.age, support.age.to_numpy()[nearest])
    assert pred.sex.tolist() == support.sex.to_numpy()[nearest].tolist()
    assert ((pred.u1 + pred.u2) == 1).all() and pred.u1.tolist() == support.u1.to_numpy()[nearest].tolist()
    proba = imp.predict_proba(train[PUB])
    assert list(proba["sex"].columns) == ["f", "m"]
    np.testing.assert_allclose(proba["sex"].to_numpy().sum(axis=1), 1.0)
    assert proba["sex"].max(axis=1).eq(0.9).all()


def test_tabpfn_single_checkpoint_serves_both_kinds(fake_tabpfn, tmp_path, support):
    ckpt = tmp_path / "tabpfn.ckpt"
    ckpt.write_bytes(b"w")
    TabPFNImputer(model_path=ckpt).fit(support[PUB], support[["age", "sex"]])
    paths = {c[2]["model_path"] for c in fake_tabpfn if c[0] == "init"}
    assert paths == {str(ckpt)}


def test_tabpfn_through_registry_and_make_hybrid(fake_tabpfn, weights_dir, support, train, schema):
    made = impute_hybrid(train, support, schema, imputer="tabpfn", model_path=str(weights_dir), progress=False,
                         onehot_groups=[["u1", "u2"]])
    hyb = made.frame
    assert len(hyb) == len(train) and made.provenance["imputer"] == "tabpfn"
    assert hyb[["age", "sex", "u1", "u2"]].notna().all().all()
    # the fallback's cross-fitting ran the backend on support folds too: no fit ever saw a training row
    fit_rows = {c[2][0] for c in fake_tabpfn if c[0] == "fit"}
    assert max(fit_rows) <= len(support)
    assert isinstance(get_imputer("tabpfn", model_path=weights_dir), TabPFNImputer)


def test_tabpfn_missing_package_names_the_install(monkeypatch, weights_dir):
    monkeypatch.setitem(sys.modules, "tabpfn", None)  # import tabpfn -> ImportError
    with pytest.raises(BackendUnavailableError, match=r'pip install "fusiondp\[tabpfn\]"'):
        TabPFNImputer(model_path=weights_dir)


@pytest.mark.parametrize("where", ["none", "absent", "empty"])
def test_tabpfn_missing_weights_fail_before_reading_data(fake_tabpfn, tmp_path, where):
    path = {"none": None, "absent": tmp_path / "nope.ckpt", "empty": tmp_path}[where]
    with pytest.raises(BackendUnavailableError, match="weights|checkpoint"):
        TabPFNImputer(model_path=path)
    assert not fake_tabpfn  # nothing was constructed


def test_tabpfn_missing_regressor_checkpoint_names_the_column(fake_tabpfn, tmp_path, support):
    (tmp_path / "tabpfn-v2-classifier.ckpt").write_bytes(b"c")
    imp = TabPFNImputer(model_path=tmp_path)
    imp.fit(support[PUB], support[["sex"]])  # a categorical column only: fine
    with pytest.raises(BackendUnavailableError, match="regressor checkpoint.*'age'"):
        TabPFNImputer(model_path=tmp_path).fit(support[PUB], support[["age"]])


@pytest.mark.parametrize("with_regressor", [False, True])
def test_tabicl_adapter(monkeypatch, tmp_path, support, train, with_regressor):
    classes = {"TabICLClassifier": _FakeClassifier}
    if with_regressor:
        classes["TabICLRegressor"] = _FakeRegressor
    mod, calls = _fake_module("tabicl", classes)
    monkeypatch.setitem(sys.modules, "tabicl", mod)
    ckpt = tmp_path / "tabicl-classifier-v1.1.ckpt"
    ckpt.write_bytes(b"w")
    (tmp_path / "tabicl-regressor-v1.ckpt").write_bytes(b"w")
    imp = TabICLImputer(model_path=tmp_path, random_state=3)
    pred = imp.fit(support[PUB], support[["sex"]]).predict(train[PUB])
    assert pred.shape == (len(train), 1) and set(pred.sex) <= {"f", "m"}
    kw = _inits(calls, "TabICLClassifier")[0]
    assert kw["model_path"] == str(ckpt) and kw["checkpoint_version"] == ckpt.name
    assert kw["allow_auto_download"] is False and kw["random_state"] == 3 and kw["device"] == "cpu"
    numeric = TabICLImputer(model_path=tmp_path)
    if with_regressor:
        out = numeric.fit(support[PUB], support[["age"]]).predict(train[PUB])
        assert out.age.dtype == float and out.age.notna().all()
        assert _inits(calls, "TabICLRegressor")[0]["allow_auto_download"] is False
    else:
        with pytest.raises(UnsupportedError, match="no regressor"):
            numeric.fit(support[PUB], support[["age"]])


def test_tabicl_missing_package(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "tabicl", None)
    (tmp_path / "tabicl-classifier.ckpt").write_bytes(b"w")
    with pytest.raises(BackendUnavailableError, match=r'fusiondp\[tabicl\]'):
        TabICLImputer(model_path=tmp_path)
