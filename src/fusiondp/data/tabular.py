"""Reading tables and checking that a hybrid copy lines up with its training table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from fusiondp.data.schema import Schema
from fusiondp.errors import DataError


_PARQUET = {".parquet", ".pq"}


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())[:300]


def read_table(path: str | Path, *, what: str = "table") -> pd.DataFrame:
    """Read a CSV or Parquet file, with one clear error for each way it can be unusable.

    Refused: a missing path, a folder, an unreadable or empty file, a file that does not parse, a header
    without rows, and a CSV whose only column name holds ``;`` or tabs (another delimiter: a hint says so).
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{what} file not found: {path}")
    if path.is_dir():
        raise DataError(f"{what} path {path} is a folder, not a table file.",
                        hint="give the CSV or Parquet file inside it")
    from fusiondp._files import check_input

    check_input(path, what=what)  # a FIFO or device is refused before it is opened
    if path.stat().st_size == 0:
        raise DataError(f"{what} file is empty: {path}")
    try:
        if path.suffix.lower() in _PARQUET:
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise DataError(f"{what} file is empty: {path}") from None
    except PermissionError:
        raise DataError(f"{what} file {path} cannot be read: permission denied.") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as e:
        raise DataError(f"Cannot parse {what} file {path}: {_one_line(e)}",
                        hint="fusiondp reads comma-separated UTF-8 CSV or Parquet") from None
    except Exception as e:  # pyarrow raises its own types for a corrupted Parquet file
        raise DataError(f"Cannot parse {what} file {path}: {type(e).__name__}.",
                        hint="fusiondp reads comma-separated UTF-8 CSV or Parquet") from None
    frame.columns = [str(c) for c in frame.columns]
    if frame.shape[1] == 1 and path.suffix.lower() not in _PARQUET:
        sep = next((s for s in (";", "\t", "|") if s in frame.columns[0]), None)
        if sep is not None:
            name = {";": "';'", "\t": "tab", "|": "'|'"}[sep]
            raise DataError(f"{what} file {path} has a single column: its header looks {name}-separated.",
                            hint=f"fusiondp reads comma-separated CSV; convert the file (e.g. pandas "
                                 f"read_csv(sep={sep!r}).to_csv()) or save it as Parquet")
    if len(frame) == 0:
        raise DataError(f"{what} file has a header but no rows: {path}")
    if path.suffix.lower() not in {".parquet", ".pq"}:
        _check_csv_header(path, what)
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _check_csv_header(path: Path, what: str) -> None:
    """pandas renames a repeated header ('Age', 'Age' -> 'Age', 'Age.1'); refuse it instead."""
    import csv

    from fusiondp.data.guards import check_unique_columns

    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        header = next(csv.reader(f), [])
    check_unique_columns(pd.DataFrame(columns=range(len(header))).set_axis(header, axis=1), f"{what} file {path}")


def check_target(y: pd.Series, *, max_classes: int = 100) -> None:
    """Refuse a target that is not a class label: infinite, non-integer numbers, or too many classes.

    fusiondp trains classifiers; a continuous target would silently become thousands of classes.
    No target value is quoted in the message (labels of the training rows).
    """
    name = y.name
    values = y.dropna()
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        arr = values.to_numpy(dtype=float)
        if not np.isfinite(arr).all():
            raise DataError(f"Target {name!r} holds infinite values (first at row "
                            f"{values.index[int(np.flatnonzero(~np.isfinite(arr))[0])]}).",
                            hint="fix or remove those rows; the target must be a class label")
        if (arr != np.round(arr)).any():
            raise DataError(f"Target {name!r} holds non-integer numbers: it looks continuous, and fusiondp trains "
                            "classifiers only (regression is not supported yet).",
                            hint="bin the target into classes (e.g. above/below a threshold) in a new column and "
                                 "pass that as --target")
    n = values.nunique()
    if n > max_classes:
        raise DataError(f"Target {name!r} has {n} distinct values, more than the {max_classes} classes fusiondp "
                        "accepts: it looks like a continuous value or an identifier, not a class label.",
                        hint="bin it into a few classes in a new column and pass that as --target")


def categorical_columns(frame: pd.DataFrame, schema: Schema, columns: list[str]) -> list[str]:
    """Columns to one-hot encode: declared categorical, or holding text/boolean/category values.

    A column whose values are mostly numbers but include some text is an error
    (a typo or a stray marker in a numeric column), not a category.
    """
    cats = []
    for c in columns:
        col = frame[c]
        if c in schema.categorical or isinstance(col.dtype, pd.CategoricalDtype) or col.dtype == bool:
            cats.append(c)
            continue
        if pd.api.types.is_numeric_dtype(col):
            continue
        present = col.dropna()
        parsed = pd.to_numeric(present, errors="coerce")
        bad = present[parsed.isna()]
        if len(bad) == 0:
            continue  # numbers stored as text
        if parsed.notna().mean() >= 0.5:
            i = bad.index[0]
            # No value is quoted: a training row's public columns are private under a record-level claim.
            raise DataError(f"Column {c!r} is numeric but row {i} holds non-numeric text (value withheld); "
                            f"fix the value or declare the column categorical.")
        cats.append(c)
    return cats


def check_numeric(frame: pd.DataFrame, columns: list[str], what: str, *, withhold: tuple[str, ...] = ()) -> None:
    """Raise DataError if a numeric column of `frame` holds text or infinities.

    No value is ever quoted (`withhold` is kept for callers; every column is withheld).
    """
    for c in columns:
        col = frame[c]
        if pd.api.types.is_numeric_dtype(col):
            if np.isinf(col.to_numpy(dtype=float, na_value=np.nan)).any():
                raise DataError(f"Column {c!r} of {what} holds infinite values.")
            continue
        present = col.dropna()
        parsed = pd.to_numeric(present, errors="coerce")
        bad = present[parsed.isna()]
        if len(bad):
            # No value is quoted, whatever the column: under a record-level claim (dpsgd) a training row's
            # public columns are private too. The row and column are enough to find the cell.
            raise DataError(f"Column {c!r} of {what} is numeric but row {bad.index[0]} holds non-numeric text "
                            "(value withheld).")


def check_hybrid_aligned(train: pd.DataFrame, hybrid: pd.DataFrame, schema: Schema) -> None:
    """The hybrid copy must have the same rows, in the same order, with identical public columns and labels."""
    if len(hybrid) != len(train):
        raise DataError(f"Hybrid table has {len(hybrid)} rows but training table has {len(train)}: "
                        "they must hold the same records in the same order.")
    schema.check_columns(hybrid, what="hybrid data")
    cols = schema.public_columns(train) + [schema.target]
    missing = [c for c in cols if c not in hybrid.columns]
    if missing:
        raise DataError(f"Hybrid table lacks column(s) {', '.join(map(repr, missing))} of the training table.")
    for c in cols:
        a, b = train[c].reset_index(drop=True), hybrid[c].reset_index(drop=True)
        same = (a == b) | (a.isna() & b.isna())
        if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b):
            same = same | np.isclose(a.to_numpy(float, na_value=np.nan), b.to_numpy(float, na_value=np.nan),
                                     rtol=1e-6, atol=1e-9)
        if not bool(same.all()):
            row = int(np.flatnonzero(~same.to_numpy())[0])
            # Values are not quoted: a training row's columns stay out of messages (record-level runs).
            raise DataError(f"Hybrid rows are not aligned with training rows: public column {c!r} differs "
                            f"first at row {row} (values withheld).",
                            hint="the hybrid table must hold the training rows in the same order")
