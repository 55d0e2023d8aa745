"""The external anchors (EBM, DP-EBM) on a small synthetic table: record shape, public-only bounds, no interpret."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("interpret")

from fusiondp.bench import anchors  # noqa: E402
from fusiondp.bench.anchors import ANCHORS, fit_anchor, public_reference, run_anchor  # noqa: E402
from fusiondp.bench.tabular import tabular_dataset  # noqa: E402
from fusiondp.data.synthetic import make_icu  # noqa: E402
from fusiondp.errors import BackendUnavailableError, ConfigError  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


class _Spec:
    """A TabularSpec over fixed frames (the hybrid: sensitive columns drawn from the support set)."""

    name = "anchors_tiny"

    def __init__(self, frames, schema):
        self.frames, self.schema = frames, schema

    def load(self, data_dir, seed):
        return {k: v.copy() for k, v in self.frames.items()}


def _frames(plant: float | None = None):
    d = make_icu(n_train=300, n_support=120, n_val=120, n_test=120, seed=0)
    frames = dict(d.frames)
    rng = np.random.default_rng(0)
    hybrid = frames["train"].copy()
    for c in d.schema.sensitive:
        hybrid[c] = frames["support"][c].to_numpy()[rng.integers(0, len(frames["support"]), len(hybrid))]
    frames["hybrid"] = hybrid
    if plant is not None:  # one training record's sensitive age far outside every public value
        frames["train"] = frames["train"].copy()
        frames["train"].loc[0, "age"] = plant
    return frames, d.schema


def _inputs(plant: float | None = None):
    frames, schema = _frames(plant)
    bench = tabular_dataset(_Spec(frames, schema)).prepare(None, 0)
    return bench, public_reference(frames, schema, seed=0)


@pytest.fixture(scope="module")
def tiny():
    return _inputs()


@pytest.fixture(autouse=True)
def fast_ebm(monkeypatch):
    """Fewer rounds in tests: main effects only for EBM, 30 of DP-EBM's 300 rounds (same code paths)."""
    monkeypatch.setitem(anchors.EBM_SETTINGS, "interactions", 0)
    monkeypatch.setitem(anchors.DP_EBM_SETTINGS, "max_rounds", 30)


KEYS = {"dataset", "method", "epsilon", "seed", "spent_epsilon", "delta", "sigma", "relation", "relation_source",
        "accountant", "seconds", "config", "overrides", "anchor", "interpret_version", "val", "test"}


def test_records_have_the_runner_shape(tiny):
    bench, ref = tiny
    ebm = run_anchor("ebm", bench, None, 0, dataset="anchors_tiny", public=ref)
    dp = run_anchor("dp_ebm", bench, 2.0, 0, dataset="anchors_tiny", public=ref)
    for rec in (ebm, dp):
        assert set(rec) == KEYS and rec["overrides"] == {} and rec["sigma"] is None
        assert {"auroc", "aupr", "accuracy", "f1_val_threshold"} <= set(rec["test"]) and "auroc" in rec["val"]
        assert 0.0 <= rec["test"]["auroc"] <= 1.0
    assert ebm["epsilon"] is None and ebm["relation"] is None and ebm["delta"] is None
    assert dp["epsilon"] == dp["spent_epsilon"] == 2.0 and dp["delta"] == 1e-5 and dp["relation"] == "add_remove"
    assert dp["config"]["random_state"] is None and dp["config"]["noise_scale_boosting"] > 0
    # DP-EBM is fitted on the record-level view (support-fitted preprocessing), EBM on the feature-level one
    assert dp["config"]["training_features_clipped_to_bounds"] is True


def test_dp_ebm_bounds_never_come_from_training_rows(tiny, monkeypatch):
    bench, ref = tiny
    planted_bench, planted_ref = _inputs(plant=1e6)
    x = planted_bench.record_level.data.x.numpy()
    j = int(np.argmax(x.max(axis=0)))
    assert x[0, j] > 1e3 and x[0, j] > ref.bounds[j, 1] + 1e3  # the planted value reached the encoded rows
    # the public reference ignores training rows: identical bounds with and without the planted value
    np.testing.assert_array_equal(planted_ref.bounds, ref.bounds)
    assert ((ref.bounds[ref.binary] == (0.0, 1.0)).all()) and ref.binary.any()

    seen = {}
    EBM, DPEBM = anchors._interpret()

    class Recording(DPEBM):
        def fit(self, X, y, *a, **k):
            seen["x_max"], seen["bounds"] = np.asarray(X).max(axis=0), np.asarray(self.privacy_bounds).copy()
            return super().fit(X, y, *a, **k)

    monkeypatch.setattr(anchors, "_interpret", lambda: (EBM, Recording))
    model, view, _ = fit_anchor("dp_ebm", planted_bench, 1.0, 0, public=planted_ref)
    assert view is planted_bench.record_level
    np.testing.assert_array_equal(seen["bounds"], ref.bounds)  # what interpret was given
    np.testing.assert_array_equal(model.feature_bounds_, ref.bounds)  # what interpret binned over
    assert (seen["x_max"] <= ref.bounds[:, 1]).all() and seen["x_max"][j] == ref.bounds[j, 1]  # clipped


def test_dp_ebm_needs_public_bounds_and_ebm_no_epsilon(tiny):
    bench, ref = tiny
    with pytest.raises(ConfigError, match="public"):
        run_anchor("dp_ebm", bench, 1.0, 0)
    with pytest.raises(ConfigError, match="epsilon"):
        run_anchor("ebm", bench, 1.0, 0, public=ref)
    with pytest.raises(ConfigError, match="Unknown anchor"):
        run_anchor("xgboost", bench, None, 0)


def test_missing_interpret_is_a_clear_error(tiny, monkeypatch):
    bench, ref = tiny
    for mod in ("interpret", "interpret.glassbox", "interpret.privacy"):
        monkeypatch.setitem(sys.modules, mod, None)  # `import interpret...` now raises ImportError
    with pytest.raises(BackendUnavailableError) as err:
        run_anchor("dp_ebm", bench, 1.0, 0, public=ref)
    assert 'fusiondp[anchors]' in err.value.hint and "interpret-core" in str(err.value)


def test_script_appends_and_resumes(tiny, monkeypatch, tmp_path):
    spec = importlib.util.spec_from_file_location("anchors_script", ROOT / "benchmarks" / "anchors.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    monkeypatch.setattr(script, "anchor_inputs", lambda dataset, data_dir, seed: tiny)
    out = tmp_path / "a.jsonl"
    first = script.run("anchors_tiny", None, [0], [1.0, 4.0], list(ANCHORS), out, "test")
    assert [(r["method"], r["epsilon"]) for r in first] == [("ebm", None), ("dp_ebm", 1.0), ("dp_ebm", 4.0)]
    assert all(r["phase"] == "bench" and r["command"] == "test" for r in first)
    assert script.run("anchors_tiny", None, [0], [1.0, 4.0], list(ANCHORS), out, "test") == []
    more = script.run("anchors_tiny", None, [0], [1.0, 8.0], ["dp_ebm"], out, "test")
    assert [(r["method"], r["epsilon"]) for r in more] == [("dp_ebm", 8.0)]
    table = script.summary(script.load_records(out))
    assert "| anchors_tiny | `dp_ebm` | 8 | 1 |" in table and "| anchors_tiny | `ebm` | — | 1 |" in table
