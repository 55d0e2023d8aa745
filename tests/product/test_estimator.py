"""FusionDPClassifier: scikit-learn's estimator checks, a Pipeline, support= and hybrid= fits."""

import warnings

import pytest
import torch
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks

from fusiondp.errors import ConfigError
from fusiondp.estimator import FusionDPClassifier
from tables import SENSITIVE, make_hybrid, make_table

torch.set_num_threads(1)
FAST = dict(epochs=1, batch_size=16, public_batch_size=32, hidden=(8,), accountant="rdp", epsilon=None,
            noise_multiplier=1.0, delta=1e-6)


def _checked():
    # tree_candidate=False: the API checks fit dozens of times and the release guard's free tree stage would add
    # about a second to each; that candidate is tested in tests/tune/test_release_guard.py and by the other
    # estimator tests here, which keep the default.
    return FusionDPClassifier(sensitive=[0], support_fraction=0.3, imputer="mean", tree_candidate=False,
                              **{**FAST, "epochs": 5})


# Checks that cannot apply, with their reason (none: every check runs). Many checks compare two fits; a DP
# fit draws its noise and Poisson mask from secret OS entropy, so the checks run with the engine's
# test-only replayable randomness patched in (see test_sklearn_checks).
EXPECTED_FAILED_CHECKS: dict[str, str] = {}


@parametrize_with_checks([_checked()], expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS)
def test_sklearn_checks(estimator, check, monkeypatch):
    import fusiondp.train.core as core
    from fusiondp.privacy.randomness import private_randomness

    monkeypatch.setattr(core, "private_randomness", lambda seed=None, **kw: private_randomness(0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(estimator)


def test_two_fits_with_one_random_state_differ():
    """The noise is secret: random_state does not make a private fit reproducible. (The release guard is off: a
    free candidate it may release, such as the tree public stage, is deterministic by design.)"""
    X, y = _xy()
    kw = dict(sensitive=list(SENSITIVE), support_fraction=0.3, imputer="mean", release_guard=False, **FAST)
    a = FusionDPClassifier(**kw).fit(X, y)
    b = FusionDPClassifier(**kw).fit(X, y)
    wa = torch.cat([p.detach().flatten() for p in a.model_.parameters()])
    wb = torch.cat([p.detach().flatten() for p in b.model_.parameters()])
    assert not torch.equal(wa, wb)


def test_support_fraction_rows_are_named_unprotected():
    X, y = _xy()
    clf = FusionDPClassifier(sensitive=list(SENSITIVE), support_fraction=0.3, imputer="mean", **FAST).fit(X, y)
    rows = clf.privacy_record_["unprotected_rows"]
    assert rows["count"] == 90 and "no privacy guarantee" in rows["why"]
    support = make_table(80, seed=7).drop(columns=["y", "id"])
    clf = FusionDPClassifier(sensitive=list(SENSITIVE), imputer="mean", **FAST).fit(X, y, support=support)
    assert clf.privacy_record_["unprotected_rows"] is None


def _xy(n=300, seed=0):
    t = make_table(n, seed=seed)
    return t.drop(columns=["y", "id"]), t["y"]


def test_support_and_hybrid_fits_in_pipeline():
    X, y = _xy()
    sup, _ = _xy(120, seed=4)
    est = FusionDPClassifier(sensitive=SENSITIVE, imputer="mean", **FAST)
    pipe = make_pipeline(FunctionTransformer(lambda d: d), est).fit(X, y, fusiondpclassifier__support=sup)
    assert pipe.predict_proba(X).shape == (len(X), 2) and 0 <= pipe.score(X, y) <= 1
    fitted = pipe[-1]
    assert fitted.epsilon_spent_ == fitted.privacy_record_["epsilon"] and fitted.epsilon_spent_ > 0
    assert fitted.privacy_record_["relation"] == "remove" and fitted.privacy_record_["support_fingerprint"]
    h = make_hybrid(make_table(300)).drop(columns=["y", "id"])
    est2 = FusionDPClassifier(sensitive=SENSITIVE, **FAST).fit(X, y, hybrid=h)
    assert est2.privacy_record_["imputer"] == "given hybrid table"
    assert list(est2.get_params()) == list(FusionDPClassifier().get_params())


def test_fit_without_support_refused():
    X, y = _xy(50)
    with pytest.raises(ConfigError, match="support"):
        FusionDPClassifier(sensitive=["age"], **FAST).fit(X, y)


def test_lazy_export():
    import fusiondp

    assert fusiondp.FusionDPClassifier is FusionDPClassifier


@pytest.mark.parametrize("learner", ["mlp", "trees"])
def test_save_writes_a_model_file_that_predicts_like_the_estimator(learner, tmp_path):
    """`save` goes through `fusiondp.io`: `fusiondp.load` and `fusiondp predict` give the estimator's predictions
    and the fit's privacy record; string labels survive the round trip."""
    import numpy as np
    import pandas as pd
    from typer.testing import CliRunner

    from fusiondp import load
    from fusiondp.cli.app import _load_commands, app

    X, y = _xy()
    y = y.map({0: "alive", 1: "dead"})
    extra = {"epsilon": 2.0, "noise_multiplier": None} if learner == "trees" else {}
    clf = FusionDPClassifier(sensitive=list(SENSITIVE), support_fraction=0.3, imputer="mean", learner=learner,
                             **{**FAST, **extra}).fit(X, y)
    path = clf.save(tmp_path / "clf.safetensors")
    m = load(path)
    assert np.allclose(m.predict_proba(X), clf.predict_proba(X), rtol=1e-6, atol=1e-7)
    assert list(m.predict(X)) == list(clf.predict(X))
    assert m.privacy["epsilon"] == pytest.approx(clf.epsilon_spent_)
    X.to_csv(tmp_path / "x.csv", index=False)
    _load_commands()
    res = CliRunner().invoke(app, ["predict", "--model", str(path), "--data", str(tmp_path / "x.csv"),
                                   "--out", str(tmp_path / "p.csv")])
    assert res.exit_code == 0, res.output
    out = pd.read_csv(tmp_path / "p.csv")
    assert list(out.filter(like="pred").iloc[:, 0].astype(str)) == [str(v) for v in clf.predict(X)]
