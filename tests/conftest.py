"""Shared fixtures (the table builders live in tables.py so tests can import them)."""

import pandas as pd
import pytest

from tables import make_hybrid, make_table


@pytest.fixture
def table() -> pd.DataFrame:
    return make_table()


@pytest.fixture
def hybrid(table) -> pd.DataFrame:
    return make_hybrid(table)
