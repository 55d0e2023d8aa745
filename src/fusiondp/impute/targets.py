"""What an imputer has to predict: sensitive columns turned into prediction tasks.

A *task* is one column (numeric or categorical) or one one-hot group: several
0/1 columns that encode a single category (sepsis `Unit1`/`Unit2`). A group is
predicted as one categorical target and written back as a consistent one-hot
row, so the hybrid never says "both units" or "neither".

Column kinds (documented rule, same for imputation and quality reports):
a column is *categorical* when it is listed in `categorical`, has a non-numeric
dtype (object, string, category, bool), or is numeric with values in {0, 1}
only; otherwise it is *numeric*.

One-hot groups are detected from the *support set only* (never from training
rows): two or more binary sensitive columns form a group when no support row
has two of them set, and every support row where all of them are observed has
exactly one set (at least 5 such rows are needed). Pass `onehot_groups=[]` to switch detection off, or list the
groups yourself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from fusiondp.errors import ConfigError, DataError

Kind = Literal["numeric", "categorical"]


@dataclass(frozen=True)
class Task:
    """One prediction problem of an imputer.

    Args:
        name: the column name, or the group's columns joined by "+".
        columns: the sensitive columns this task writes.
        kind: "numeric" or "categorical".
        onehot: True when `columns` are a one-hot group predicted as one category.

    >>> Task("Unit1+Unit2", ("Unit1", "Unit2"), "categorical", onehot=True).columns
    ('Unit1', 'Unit2')
    """

    name: str
    columns: tuple[str, ...]
    kind: Kind
    onehot: bool = False


def _is_binary(s: pd.Series) -> bool:
    if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        return False
    vals = pd.unique(s.dropna())
    return len(vals) > 0 and set(np.asarray(vals, dtype=float).tolist()) <= {0.0, 1.0}


def column_kind(s: pd.Series, *, categorical: Sequence[str] = ()) -> Kind:
    """The kind of a column under the module's documented rule.

    >>> column_kind(pd.Series([0, 1, 1]))
    'categorical'
    >>> column_kind(pd.Series([61.5, 70.0]))
    'numeric'
    """
    if s.name in set(categorical):
        return "categorical"
    if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        return "categorical"
    return "categorical" if _is_binary(s) else "numeric"


def detect_onehot_groups(support: pd.DataFrame, columns: Sequence[str]) -> list[list[str]]:
    """One-hot groups among `columns`, detected from the support set only.

    >>> s = pd.DataFrame({"u1": [1, 0, 1, 0, 1, None], "u2": [0, 1, 0, 1, 0, None], "g": [1, 1, 0, 0, 1, 0]})
    >>> detect_onehot_groups(s, ["u1", "u2", "g"])
    [['u1', 'u2']]
    """
    binary = [c for c in columns if _is_binary(support[c])]
    vals = {c: support[c].to_numpy(dtype=float) for c in binary}
    # exclusive pairs: never both 1 on the same row
    adj: dict[str, set[str]] = {c: set() for c in binary}
    for i, a in enumerate(binary):
        for b in binary[i + 1:]:
            if not np.any((vals[a] == 1) & (vals[b] == 1)):
                adj[a].add(b)
                adj[b].add(a)
    groups, seen = [], set()
    for c in binary:
        if c in seen or not adj[c]:
            continue
        group = [c] + [d for d in binary if d in adj[c] and d not in seen]
        group = [g for g in group if all(h == g or h in adj[g] for h in group)]  # keep a clique
        if len(group) < 2:
            continue
        block = np.column_stack([vals[g] for g in group])
        full = ~np.isnan(block).any(axis=1)
        if full.sum() >= 5 and np.all(block[full].sum(axis=1) == 1):
            groups.append(group)
            seen.update(group)
    return groups


def build_tasks(support_targets: pd.DataFrame, *, categorical: Sequence[str] = (),
                onehot_groups: Sequence[Sequence[str]] | None = None) -> list[Task]:
    """Turn the sensitive columns of the support set into tasks, in column order.

    Args:
        support_targets: the support set's sensitive columns.
        categorical: columns to treat as categorical whatever their dtype.
        onehot_groups: explicit groups; None detects them (see module doc); [] disables.

    >>> y = pd.DataFrame({"age": [50.0, 61.0], "u1": [1, 0], "u2": [0, 1]})
    >>> [t.name for t in build_tasks(y, onehot_groups=[["u1", "u2"]])]
    ['age', 'u1+u2']
    """
    cols = [str(c) for c in support_targets.columns]
    if onehot_groups is None:
        groups = detect_onehot_groups(support_targets, cols)
    else:
        groups = [list(g) for g in onehot_groups]
        for g in groups:
            unknown = [c for c in g if c not in cols]
            if unknown:
                raise ConfigError(f"onehot_groups names {unknown} which are not sensitive columns ({cols}).")
            if len(g) < 2:
                raise ConfigError(f"A one-hot group needs at least two columns, got {g}.")
            bad = [c for c in g if not _is_binary(support_targets[c])]
            if bad:
                raise DataError(f"One-hot group {g}: column(s) {bad} hold values other than 0/1 in the support set.")
        flat = [c for g in groups for c in g]
        if len(flat) != len(set(flat)):
            raise ConfigError(f"A column appears in two one-hot groups: {groups}.")
    in_group = {c: g for g in groups for c in g}
    tasks, done = [], set()
    for c in cols:
        if c in done:
            continue
        if c in in_group:
            g = in_group[c]
            tasks.append(Task("+".join(g), tuple(g), "categorical", onehot=True))
            done.update(g)
        else:
            tasks.append(Task(c, (c,), column_kind(support_targets[c], categorical=categorical)))
            done.add(c)
    return tasks


def task_target(frame: pd.DataFrame, task: Task) -> pd.Series:
    """The target values of `task` in `frame` (NaN where unknown).

    For a one-hot group the value is the name of the column that is set; rows
    with a missing member, or not exactly one member set, are unknown.

    >>> f = pd.DataFrame({"u1": [1, 0, None], "u2": [0, 1, None]})
    >>> task_target(f, Task("u1+u2", ("u1", "u2"), "categorical", True)).tolist()
    ['u1', 'u2', nan]
    """
    if not task.onehot:
        return frame[task.columns[0]]
    block = frame[list(task.columns)].to_numpy(dtype=float)
    ok = ~np.isnan(block).any(axis=1) & (np.nansum(block, axis=1) == 1)
    hot = np.array(task.columns, dtype=object)[np.argmax(np.nan_to_num(block), axis=1)]
    return pd.Series(np.where(ok, hot, np.nan), index=frame.index, dtype=object)


def decode(task: Task, values: np.ndarray, like: pd.DataFrame, index: pd.Index) -> pd.DataFrame:
    """Predicted task values as the task's columns, with dtypes following `like` (the support set)."""
    if not task.onehot:
        col = task.columns[0]
        return pd.DataFrame({col: _cast(pd.Series(values, index=index), like[col])})
    out = {}
    for c in task.columns:
        out[c] = _cast(pd.Series((values == c).astype(int), index=index), like[c])
    return pd.DataFrame(out, index=index)


def _cast(s: pd.Series, like: pd.Series) -> pd.Series:
    try:
        if pd.api.types.is_integer_dtype(like) or pd.api.types.is_float_dtype(like):
            return s.astype(like.dtype)
        if pd.api.types.is_bool_dtype(like):
            return s.astype(bool)
    except (TypeError, ValueError):
        pass
    return s
