"""Corpus loading and splits."""

from __future__ import annotations

import numpy as np
import pytest

from fusiondp.errors import ConfigError, DataError
from fusiondp.text.corpus import data_root, load_medical_abstracts, split_corpus


def test_missing_data_is_a_clear_data_error(tmp_path):
    with pytest.raises(DataError, match="FUSIONDP_DATA"):
        load_medical_abstracts(tmp_path)


def test_env_var_sets_the_root(tmp_path, monkeypatch):
    monkeypatch.setenv("FUSIONDP_DATA", str(tmp_path))
    assert data_root() == tmp_path


def test_splits_are_disjoint_stratified_and_seeded():
    y = np.repeat([0, 1, 2], [100, 50, 30])
    s = split_corpus(y, seed=3)
    parts = list(s.as_dict().values())
    allrows = np.concatenate(parts)
    assert len(allrows) == len(y) and len(np.unique(allrows)) == len(y)
    assert np.sum(y[s.support] == 0) == 10 and np.sum(y[s.test] == 1) == 10
    assert all(np.array_equal(a, b) for a, b in zip(parts, split_corpus(y, seed=3).as_dict().values()))
    assert not np.array_equal(s.train, split_corpus(y, seed=4).train)
    with pytest.raises(ConfigError):
        split_corpus(y, support=0.5, val=0.3, test=0.3)


def test_real_corpus_loads_when_present():
    try:
        frame = load_medical_abstracts()
    except DataError:
        pytest.skip("medical_abstracts not available")
    assert list(frame.columns) == ["text", "label", "label_name"]
    assert len(frame) == 2888 and sorted(frame["label"].unique()) == [0, 1, 2, 3, 4]


def test_make_triples_aligns_original_hybrid_and_labels():
    import pandas as pd

    from fusiondp.text.corpus import make_triples
    from fusiondp.text.hybrid import HybridTextGenerator

    frame = pd.DataFrame({"text": ["A 54-year-old woman with angina.", "Asthma in children.",
                                   "A 30-year-old man with gout."], "label": [0, 1, 0]})
    gen = HybridTextGenerator(min_docs=1).fit(frame["text"].tolist())
    t = make_triples(frame, np.array([0, 1]), gen)
    assert len(t) == 2 and t.original[1] == t.hybrid[1] == "Asthma in children."
    assert "54" not in t.hybrid[0] and list(t.labels) == [0, 1]
