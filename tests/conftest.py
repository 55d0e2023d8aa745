"""Shared fixtures (the table builders live in tables.py so tests can import them), and the `slow` marker.

Tests marked ``@pytest.mark.slow`` (real data under ../shared/data, minutes each) are skipped by default so
that ``python -m pytest -q`` stays a few minutes on 2 cores; run them with ``python -m pytest -q --run-slow``
(or ``FUSIONDP_RUN_SLOW=1``). They also skip when the data is absent.
"""

import os

import pandas as pd
import pytest

from tables import make_hybrid, make_table


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", default=False,
                     help="also run the tests marked slow (real data; minutes each)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-slow") or os.environ.get("FUSIONDP_RUN_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow (real data or minutes of training): run with --run-slow or FUSIONDP_RUN_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def table() -> pd.DataFrame:
    return make_table()


@pytest.fixture
def hybrid(table) -> pd.DataFrame:
    return make_hybrid(table)
