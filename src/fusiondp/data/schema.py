"""Which columns are the target, sensitive, dropped and public.

Every column that is not the target, sensitive or dropped is public. The
schema is the single place where that split is decided; everything downstream
(preprocessing, imputation, the training step) asks it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from fusiondp.errors import ConfigError, DataError


def split_names(text: str) -> list[str]:
    """Split a comma-separated list of column names; a name in double quotes is taken exactly.

    Unquoted names are stripped of surrounding spaces; quote a name that holds a comma or
    leading/trailing spaces (``""`` inside quotes is one quote character).

    >>> split_names('age, sex,"a,b"," x"')
    ['age', 'sex', 'a,b', ' x']
    """
    names, buf, quoted, in_quotes, i = [], [], False, False, 0
    while i < len(text):
        ch = text[i]
        if in_quotes:
            if ch == '"' and text[i + 1:i + 2] == '"':
                buf.append('"')
                i += 1
            elif ch == '"':
                in_quotes = False
            else:
                buf.append(ch)
        elif ch == '"' and not "".join(buf).strip():
            in_quotes, quoted, buf = True, True, []
        elif ch == ",":
            name = "".join(buf) if quoted else "".join(buf).strip()
            if name or quoted:
                names.append(name)
            buf, quoted = [], False
        elif not (quoted and ch.isspace()):
            buf.append(ch)
        i += 1
    if in_quotes:
        raise ConfigError(f"Unbalanced double quote in column list {text!r}.")
    name = "".join(buf) if quoted else "".join(buf).strip()
    if name or quoted:
        names.append(name)
    return names


def _as_list(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return split_names(value)
    return [str(v) for v in value]


def _near(name: str, columns: set[str]) -> str | None:
    """A column that differs from `name` only by surrounding spaces or case (the usual reason a name is missed)."""
    key = name.strip().lower()
    return next((c for c in sorted(columns) if c != name and c.strip().lower() == key), None)


@dataclass(frozen=True)
class Schema:
    """Column roles of a table.

    Args:
        target: name of the label column (public, see docs/method.md §1).
        sensitive: the sensitive columns, protected at feature level.
        drop: columns ignored entirely (ids, leaky copies of sensitive columns).
        categorical: columns to one-hot encode; columns holding text are
            treated as categorical automatically.

    >>> s = Schema(target="y", sensitive=["age"], drop=["id"])
    >>> s.public_columns(pd.DataFrame(columns=["id", "age", "hr", "y"]))
    ['hr']
    """

    target: str
    sensitive: tuple[str, ...]
    drop: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    public: tuple[str, ...] = field(default=(), compare=False)

    def __init__(self, target: str, sensitive: str | Sequence[str], drop: str | Sequence[str] | None = None,
                 categorical: str | Sequence[str] | None = None, public: Sequence[str] = ()) -> None:
        sens = _as_list(sensitive)
        if not target:
            raise ConfigError("A target column is required (--target).")
        if not sens:
            raise ConfigError("At least one sensitive column is required (--sensitive a,b,c).")
        if target in sens:
            raise ConfigError(f"The target {target!r} is listed as sensitive; labels are public in this setting "
                              "(docs/method.md §1). If labels are sensitive, use record-level `dpsgd`.")
        dup = sorted({c for c in sens if sens.count(c) > 1})
        if dup:
            raise ConfigError(f"Sensitive columns listed twice: {', '.join(dup)}.")
        both = sorted(set(sens) & set(_as_list(drop)))
        if both:
            raise ConfigError(f"Columns both sensitive and dropped: {', '.join(both)}.")
        object.__setattr__(self, "target", target)
        object.__setattr__(self, "sensitive", tuple(sens))
        object.__setattr__(self, "drop", tuple(_as_list(drop)))
        object.__setattr__(self, "categorical", tuple(_as_list(categorical)))
        object.__setattr__(self, "public", tuple(public))

    def check_columns(self, frame: pd.DataFrame, *, what: str = "training data", need_target: bool = True) -> None:
        """Raise DataError naming any column the schema needs that `frame` lacks."""
        cols = set(map(str, frame.columns))
        needed = list(self.sensitive) + ([self.target] if need_target else [])
        missing = [c for c in needed if c not in cols]
        if missing:
            near = next(((m, n) for m in missing if (n := _near(m, cols))), None)
            raise DataError(f"Column(s) {', '.join(map(repr, missing))} not found in {what}; "
                            f"available: {', '.join(map(repr, sorted(cols)))}.",
                            hint=(f"the file has {near[1]!r}: put a name with spaces or commas in double quotes, "
                                  f"e.g. --sensitive '\"{near[1]}\"'") if near else
                            'put a column name holding a comma or spaces in double quotes: --sensitive \'"a,b",c\'')
        if not self.public_columns(frame):
            raise DataError(f"No public column left in {what}: every feature is the target, sensitive or dropped.")

    def check_drop(self, *frames: pd.DataFrame) -> None:
        """Raise DataError if a dropped column appears in none of `frames` (likely a typo)."""
        seen = set().union(*(map(str, f.columns) for f in frames))
        unknown = [c for c in self.drop if c not in seen]
        if unknown:
            raise DataError(f"--drop names column(s) {', '.join(map(repr, unknown))} found in no input table.")

    def public_columns(self, frame: pd.DataFrame) -> list[str]:
        """Public feature columns of `frame`, in the frame's order."""
        if self.public:
            return list(self.public)
        skip = {self.target, *self.sensitive, *self.drop}
        return [str(c) for c in frame.columns if str(c) not in skip]

    def bind(self, frame: pd.DataFrame) -> "Schema":
        """Return a copy with the public column list fixed from `frame` (the training table)."""
        self.check_columns(frame)
        return Schema(self.target, self.sensitive, self.drop, self.categorical, public=self.public_columns(frame))

    def feature_columns(self, frame: pd.DataFrame | None = None) -> list[str]:
        """Public then sensitive feature columns: the model's input order."""
        pub = list(self.public) if self.public or frame is None else self.public_columns(frame)
        return pub + list(self.sensitive)

    def public_view(self, frame: pd.DataFrame) -> pd.DataFrame:
        """`frame` without its sensitive and dropped columns: the only view an imputer may see.

        Dropped columns go too: they may be derived from a sensitive one (a binned copy), and whatever is
        built from this view (the hybrid table) is public.
        """
        return frame.drop(columns=[c for c in (*self.sensitive, *self.drop) if c in frame.columns])

    def to_dict(self) -> dict:
        return {"target": self.target, "sensitive": list(self.sensitive), "drop": list(self.drop),
                "categorical": list(self.categorical), "public": list(self.public)}

    @classmethod
    def from_dict(cls, d: dict) -> "Schema":
        return cls(d["target"], d["sensitive"], d.get("drop"), d.get("categorical"), d.get("public", ()))
