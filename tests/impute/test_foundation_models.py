"""Real TabPFN / TabICL runs: only where the package AND local weights exist.

Point FUSIONDP_TABPFN_WEIGHTS / FUSIONDP_TABICL_WEIGHTS at a checkpoint file or
directory to run them; fusiondp never downloads weights.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

from fusiondp.impute import get_imputer


def _weights(name: str) -> Path:
    if importlib.util.find_spec(name) is None:
        pytest.skip(f"{name} is not installed (pip install \"fusiondp[{name}]\")")
    env = f"FUSIONDP_{name.upper()}_WEIGHTS"
    path = os.environ.get(env)
    if not path or not Path(path).exists():
        pytest.skip(f"no local {name} weights: set {env} to a checkpoint file or directory")
    return Path(path)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tabpfn", "tabicl"])
def test_foundation_backend_imputes(name, support, train):
    imp = get_imputer(name, model_path=_weights(name))
    cols = ["sex"] if name == "tabicl" else ["age", "sex"]
    pred = imp.fit(support[["hr", "lab"]], support[cols]).predict(train[["hr", "lab"]])
    assert (pred.sex == train.sex).mean() > 0.7
    if "age" in cols:
        assert np.corrcoef(pred.age, train.age)[0, 1] > 0.8
