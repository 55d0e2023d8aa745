"""The outside tables of the tree/blend benchmarks (benchmarks/outside_tables.py): every entry's schema fits its table.

Each table comes from an optional package (statsmodels, pydataset: the `tables` extra, not installed by `.[dev]`);
a table whose package is absent is skipped. No network: both packages ship their data.
"""

import importlib.util
import sys
from pathlib import Path

import pytest

from fusiondp.data.schema import Schema

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from outside_tables import OUTSIDE_TABLES, outside_module  # noqa: E402

SOURCE = {"fair": "statsmodels", "anes96": "statsmodels", "flchain": "pydataset", "hdma": "pydataset",
          "doctoraus": "pydataset", "benefits": "pydataset"}


def test_every_entry_names_its_source_package():
    assert set(SOURCE) == set(OUTSIDE_TABLES)


@pytest.mark.parametrize("name", sorted(OUTSIDE_TABLES))
def test_schema_fits_table(name):
    if importlib.util.find_spec(SOURCE[name]) is None:
        pytest.skip(f"{SOURCE[name]} not installed (pip install '.[tables]')")
    m = outside_module(name)
    frame = m.table()
    schema = Schema(m.TARGET, m.SENSITIVE, categorical=getattr(m, "CATEGORICAL", "") or None)
    schema.check_columns(frame)  # target and sensitive columns present, a public column left
    assert set(schema.categorical) <= set(frame.columns)
    classes = set(frame[m.TARGET].dropna().unique())
    assert classes == {0, 1} or len(classes) >= 3  # a binary 0/1 target, or a multiclass one (doctoraus)
    assert frame[m.TARGET].notna().all()
    assert not frame.duplicated().any()  # the support/training guard compares whole rows
    assert not any(str(c) in ("", "index", "rownames") or str(c).startswith("Unnamed") for c in frame.columns)
    for col in getattr(m, "LEAKS", ()):
        assert col not in frame.columns
