"""imputation_quality on a hand-checkable case."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fusiondp.data.schema import Schema
from fusiondp.errors import DataError
from fusiondp.impute import imputation_quality


def test_hand_checked_numbers():
    sch = Schema(target="y", sensitive=["age", "sex", "unit"])
    true = pd.DataFrame({"age": [10.0, 20.0, 30.0, 40.0, np.nan],
                         "sex": ["f", "m", "m", "m", "f"],
                         "unit": [1.0, 0.0, np.nan, 1.0, 1.0]})
    imp = pd.DataFrame({"age": [10.0, 20.0, 40.0, 30.0, 99.0],
                        "sex": ["f", "f", "m", "m", "m"],
                        "unit": [1, 1, 0, 1, 1]})
    q = imputation_quality(true, imp, sch).set_index("column")
    # age: 4 known rows, errors 0,0,10,-10 -> MAE 5, SSE 200, SST 500 -> R² 0.6
    assert q.loc["age", "n"] == 4
    assert q.loc["age", "mae"] == pytest.approx(5.0)
    assert q.loc["age", "r2"] == pytest.approx(0.6)
    # sex: 3 of 5 right; majority 'm' 3/5; F1(f)=1/2 (tp1 fp1 fn1), F1(m)=2/3 -> macro 7/12
    assert q.loc["sex", "accuracy"] == pytest.approx(0.6)
    assert q.loc["sex", "majority_accuracy"] == pytest.approx(0.6)
    assert q.loc["sex", "macro_f1"] == pytest.approx(7 / 12)
    # unit (0/1 floats vs ints): 4 known rows, 3 right; majority 1 -> 3/4
    assert q.loc["unit", "kind"] == "categorical"
    assert q.loc["unit", "accuracy"] == pytest.approx(0.75)
    assert q.loc["unit", "majority_accuracy"] == pytest.approx(0.75)


def test_length_mismatch():
    sch = Schema(target="y", sensitive=["a"])
    with pytest.raises(DataError, match="same rows"):
        imputation_quality(pd.DataFrame({"a": [1.0]}), pd.DataFrame({"a": [1.0, 2.0]}), sch)
