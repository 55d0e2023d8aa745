"""Short checks on the real datasets (skipped when ../shared/data is absent)."""

from __future__ import annotations

import pytest

from fusiondp.bench.datasets import get_spec, resolve_data_dir
from fusiondp.errors import DataError
from fusiondp.impute import imputation_quality, make_hybrid

pytestmark = pytest.mark.slow


def _frames(name: str):
    if not (resolve_data_dir() / name).is_dir():
        pytest.skip(f"{resolve_data_dir() / name} is absent (set FUSIONDP_DATA)")
    return get_spec(name).frames()


def test_sepsis_frames_and_published_hybrid():
    f = _frames("sepsis")
    assert {k: len(v) for k, v in f.items()} == {"train": 14293, "val": 1573, "test": 3680, "support": 1573,
                                                  "published_hybrid": 14293}
    frames = get_spec("sepsis").load()
    assert set(frames["train"].columns) <= set(frames["hybrid"].columns)
    assert len(frames["hybrid"]) == len(frames["train"])


def test_adult_split_is_disjoint_and_seeded():
    f = _frames("adult")
    sizes = {k: len(v) for k, v in f.items()}
    assert sizes["support"] == 512 and sum(sizes.values()) == 30162
    again = get_spec("adult").frames()
    assert f["support"].equals(again["support"])


def test_sepsis_ensemble_beats_mean_on_a_subsample():
    f = _frames("sepsis")
    spec = get_spec("sepsis")
    train = f["train"].iloc[:1500]
    hyb = make_hybrid(train, f["support"], spec.schema, progress=False, onehot_groups=[["Unit1", "Unit2"]],
                      n_trees=50, learners=("hgb", "linear"))
    q = imputation_quality(train, hyb, spec.schema).set_index("column")
    assert q.loc["Age", "r2"] > 0.15
    assert q.loc["Gender", "accuracy"] > q.loc["Gender", "majority_accuracy"]
    assert q.loc["Unit1", "accuracy"] > 0.7


def test_missing_data_dir_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        get_spec("sepsis").frames(tmp_path)
