"""Benchmark datasets as declarative entries: files, column roles and seeded splits.

Each `DatasetSpec` says where its files are (relative to the data directory),
which columns are the target / sensitive / dropped, and how to obtain the
train, val, test and *support* frames:

- given files (sepsis): every role names a file;
- a seeded split of one file (adult): first `support_rows` rows are taken out
  as the public support set (disjoint from everything else), then the rest is
  cut into train/val/test by `fractions`. The permutation comes from
  `numpy.random.default_rng(split_seed)`; with `split_seed=None` the run's seed
  is used instead, so each seed gets its own split.

`load(data_dir, seed)` also returns the `hybrid` frame (row-aligned with
`train`): the published file when `hybrid="published"`, otherwise imputed with
`fusiondp.impute.make_hybrid` from the support set (never from train's
sensitive values).

The data directory is, in order: the `data_dir` argument, the environment
variable `FUSIONDP_DATA`, or `../shared/data` next to the repository root.
A missing file raises `DataError` naming the path.

One format for every entry: a spec is written as a small TOML document (the
schema is :data:`SPEC_KEYS`, parsed by :func:`spec_from_toml` /
:func:`spec_from_dict`). The built-in entries (``entries/*.toml``) are such documents, and a
user's own table is described the same way, either in a file
(``fusiondp bench --dataset-file my.toml``, :func:`load_dataset_file`) or by
command-line options (``fusiondp bench --table FILE ...``, :func:`table_spec`).
A user's table without a support file gets the adult rule with a fraction:
seeded permutation, the first 10 % of the rows become the public support set
(removed from training), the rest is cut 70/10/20 into train/val/test.
Every part must keep :data:`MIN_ROWS` rows.

>>> sorted(s.name for s in builtin_specs())
['adult', 'sepsis', 'sepsis_ours']
>>> get_spec("adult").schema.sensitive
('age', 'sex', 'race', 'marital', 'relationship', 'country')
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fusiondp._validate import one_of
from fusiondp.data.schema import Schema
from fusiondp.errors import ConfigError, DataError

ENV_VAR = "FUSIONDP_DATA"
ROLES = ("train", "val", "test", "support")


def default_data_dir() -> Path:
    """`$FUSIONDP_DATA`, else `../shared/data` relative to the repository root."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[3].parent / "shared" / "data"


def resolve_data_dir(data_dir: str | Path | None = None) -> Path:
    """The data directory to use: the argument, else `default_data_dir()`."""
    return Path(data_dir).expanduser() if data_dir is not None else default_data_dir()


def read_csv(path: Path, *, dataset: str) -> pd.DataFrame:
    """Read one benchmark file, raising DataError with the path and the way to point elsewhere."""
    if not path.is_file():
        raise DataError(f"Dataset {dataset!r}: file not found: {path}. Pass data_dir (CLI --data-dir) or set "
                        f"{ENV_VAR} to the folder that holds {path.parent.name}/.")
    if path.suffix.lower() in {".parquet", ".pq"}:
        from fusiondp.data.tabular import read_table

        frame = read_table(path, what=f"dataset {dataset!r}")
    else:
        from fusiondp._files import check_input

        frame = pd.read_csv(check_input(path, what=f"dataset {dataset!r}"))
    frame.columns = [str(c) for c in frame.columns]
    return frame


#: Fewest rows each part of a split may keep (a smaller part gives meaningless metrics or no Poisson batch).
MIN_ROWS = {"train": 50, "val": 10, "test": 10, "support": 10}


def check_sizes(parts: Mapping[str, pd.DataFrame], *, dataset: str) -> None:
    """Raise DataError if a part of the split is smaller than :data:`MIN_ROWS` allows."""
    small = [f"{k} has {len(parts[k])} rows (need >= {n})" for k, n in MIN_ROWS.items()
             if k in parts and len(parts[k]) < n]
    if small:
        total = sum(len(parts[k]) for k in ROLES if k in parts)
        raise DataError(f"Dataset {dataset!r} is too small to benchmark: after the split, {'; '.join(small)} "
                        f"(of {total} rows). Use a larger table or other split fractions.")


@dataclass(frozen=True)
class SplitSpec:
    """A seeded split of one table into support / train / val / test.

    Args:
        fractions: (train, val, test) fractions of the rows left after the support set; they must sum to 1.
        support_rows: rows taken out first as the public support set.
        split_seed: seed of the permutation; None uses the run's seed.
        support_fraction: when given, the support set is this fraction of the rows (rounded) instead of
            `support_rows`.

    >>> parts = SplitSpec((0.5, 0.25, 0.25), support_rows=2).split(pd.DataFrame({"a": range(10)}), seed=0)
    >>> {k: len(v) for k, v in parts.items()}
    {'support': 2, 'train': 4, 'val': 2, 'test': 2}
    """

    fractions: tuple[float, float, float] = (0.7, 0.1, 0.2)
    support_rows: int = 512
    split_seed: int | None = 0
    support_fraction: float | None = None

    def __post_init__(self) -> None:
        if self.support_fraction is not None and not 0 <= self.support_fraction < 1:
            raise ConfigError(f"Expected 0 <= support_fraction < 1, got {self.support_fraction!r}.")
        if len(self.fractions) != 3 or any(f < 0 for f in self.fractions) or abs(sum(self.fractions) - 1) > 1e-9:
            raise ConfigError(f"SplitSpec.fractions must be three non-negative numbers summing to 1, "
                              f"got {self.fractions}.")
        if self.support_rows < 0:
            raise ConfigError(f"Expected support_rows >= 0, got {self.support_rows}.")

    def split(self, frame: pd.DataFrame, *, seed: int) -> dict[str, pd.DataFrame]:
        """Cut `frame` (index reset in every part, original row order kept inside each part)."""
        k = self.support_size(len(frame))
        if k >= len(frame):
            raise DataError(f"support_rows={k} leaves no rows of {len(frame)} to train on.")
        rng = np.random.default_rng(self.split_seed if self.split_seed is not None else seed)
        perm = rng.permutation(len(frame))
        support, rest = perm[:k], perm[k:]
        n_train = int(round(self.fractions[0] * len(rest)))
        n_val = int(round(self.fractions[1] * len(rest)))
        parts = {"support": support, "train": rest[:n_train], "val": rest[n_train:n_train + n_val],
                 "test": rest[n_train + n_val:]}
        return {k: frame.iloc[np.sort(v)].reset_index(drop=True) for k, v in parts.items()}

    def support_size(self, n: int) -> int:
        """Rows of an `n`-row table that become the support set."""
        return self.support_rows if self.support_fraction is None else int(round(self.support_fraction * n))


@dataclass(frozen=True)
class DatasetSpec:
    """One benchmark dataset.

    Args:
        name: registry key.
        target: label column; `positive` is the label value counted as the positive class.
        sensitive, drop, categorical: column roles (see `Schema`).
        files: role -> path relative to the data directory (or absolute). Roles: "train",
            "val", "test", "support" and optionally "hybrid" (a published hybrid
            of train), or the role "all" together with `split` (and optionally "support": a
            support file, then the split carves no support rows).
        split: how to cut the "all" file (None when every role has a file).
        hybrid: "published" (use files["hybrid"]) or "impute" (make_hybrid from the support set).
        imputer: imputer name used when `hybrid="impute"`.
        onehot_groups: one-hot groups among the sensitive columns (None: detect from the support set).
        description: one line for results pages.
        id_column: a key column naming each row's person; support rows are then told from training records by
            it (and it is dropped from the features) instead of by their values (`fusiondp.data.guards`).
        support_rows_are_distinct_people: the user's statement that support rows are other people even where
            every value equals a training row's (a coded table); recorded in every run record.
    """

    name: str
    target: str
    positive: Any
    sensitive: tuple[str, ...]
    files: Mapping[str, str]
    drop: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    split: SplitSpec | None = None
    hybrid: str = "impute"
    imputer: str = "default"
    onehot_groups: tuple[tuple[str, ...], ...] | None = None
    description: str = ""
    notes: tuple[str, ...] = field(default=())
    id_column: str | None = None
    support_rows_are_distinct_people: bool = False

    def __post_init__(self) -> None:
        one_of("hybrid", self.hybrid, ("published", "impute"))
        if self.hybrid == "published" and "hybrid" not in self.files:
            raise ConfigError(f"Dataset {self.name!r}: hybrid='published' needs files['hybrid'].")
        if "all" in self.files:
            if self.split is None:
                raise ConfigError(f"Dataset {self.name!r}: files['all'] needs a split.")
            if "support" in self.files and self.split.support_size(10**9) > 0:
                raise ConfigError(f"Dataset {self.name!r}: a support file is given, so the split must carve no "
                                  "support rows (support_rows = 0, no support_fraction).")
        elif missing := [r for r in ROLES if r not in self.files]:
            raise ConfigError(f"Dataset {self.name!r}: no file for role(s) {missing}.")

    @property
    def schema(self) -> Schema:
        """The column roles as a `Schema`."""
        drop = [*self.drop, *([self.id_column] if self.id_column and self.id_column not in self.drop else [])]
        return Schema(self.target, list(self.sensitive), drop, list(self.categorical))

    @property
    def support_identity(self):
        """How support rows are told from training records (`fusiondp.data.guards.SupportIdentity`)."""
        from fusiondp.data.guards import SupportIdentity

        return SupportIdentity(self.id_column, self.support_rows_are_distinct_people)

    def frames(self, data_dir: str | Path | None = None, seed: int = 0) -> dict[str, pd.DataFrame]:
        """The raw frames: train, val, test, support (+ "published_hybrid" when a file is given)."""
        root = resolve_data_dir(data_dir)
        if "all" in self.files:
            assert self.split is not None
            table = read_csv(root / self.files["all"], dataset=self.name)
            self.check_table(table)
            out = self.split.split(table, seed=seed)
            if "support" in self.files:
                out["support"] = read_csv(root / self.files["support"], dataset=self.name)
        else:
            out = {r: read_csv(root / self.files[r], dataset=self.name) for r in ROLES}
        if "hybrid" in self.files:
            out["published_hybrid"] = read_csv(root / self.files["hybrid"], dataset=self.name)
        self.schema.check_columns(out["train"], what=f"{self.name} train", need_target=True)
        self.schema.check_columns(out["support"], what=f"{self.name} support set", need_target=False)
        check_sizes(out, dataset=self.name)
        return out

    def check_table(self, table: pd.DataFrame) -> None:
        """Raise DataError for a column role naming no column of `table` (checked before any split)."""
        self.schema.check_columns(table, what=f"dataset {self.name!r}")
        cols = set(table.columns)
        for role, names in (("drop", self.drop), ("categorical", self.categorical)):
            if unknown := [c for c in names if c not in cols]:
                raise DataError(f"Dataset {self.name!r}: {role} column(s) {', '.join(map(repr, unknown))} not "
                                f"found; available: {', '.join(sorted(cols))}.")

    def load(self, data_dir: str | Path | None = None, seed: int = 0) -> dict[str, pd.DataFrame]:
        """Frames "train", "hybrid" (row-aligned with train), "val", "test" and "support"."""
        from fusiondp.impute import make_hybrid

        frames = self.frames(data_dir, seed)
        if self.hybrid == "published":
            hyb = frames["published_hybrid"]
            if len(hyb) != len(frames["train"]):
                raise DataError(f"Dataset {self.name!r}: published hybrid has {len(hyb)} rows, train "
                                f"{len(frames['train'])}.")
            # Its missing sensitive cells copy the training rows' missingness (sepsis: one HospAdmTime): they are
            # filled from the public support set, or the run would be refused (fusiondp.data.guards).
            from fusiondp.data.guards import fill_hybrid_missing

            frames["hybrid"] = fill_hybrid_missing(hyb, self.schema.sensitive, frames["support"])
        else:
            seed_key = seed if self.split is not None and self.split.split_seed is None else None
            key = (repr(self), str(resolve_data_dir(data_dir)), seed_key)
            if key not in _HYBRIDS:  # the hybrid depends on the split only, not on the training seed
                groups = None if self.onehot_groups is None else [list(g) for g in self.onehot_groups]
                _HYBRIDS[key] = make_hybrid(frames["train"], frames["support"], self.schema, imputer=self.imputer,
                                            random_state=0, progress=False, onehot_groups=groups)
            frames["hybrid"] = _HYBRIDS[key].copy()
        return frames


_HYBRIDS: dict[tuple, pd.DataFrame] = {}


# --------------------------------------------------------------------------- the entry format (TOML)
#: Keys of a dataset entry (a TOML document or a dict), with what each means. Paths in `files` are relative to
#: the data directory for the built-in entries, and to the TOML file's folder for a user's file.
SPEC_KEYS: dict[str, str] = {
    "name": "registry key and file stem of the results (default for a user's file: the file's stem)",
    "target": "label column (public)",
    "positive": "label value counted as the positive class (informational; default: the last label in sorted "
                "order, as fusiondp.pipeline encodes labels)",
    "sensitive": "sensitive columns (a list or a comma-separated string)",
    "drop": "columns ignored entirely",
    "categorical": "extra columns to one-hot encode",
    "files": "table of role = path: `all` (one table, cut by [split]) and optionally `support`; or `train`, "
             "`val`, `test`, `support` (and `hybrid` with hybrid = 'published')",
    "split": "table: fractions = [train, val, test] of the rows left after the support set; support_rows or "
             "support_fraction; split_seed (an integer, or 'run' for the run's seed)",
    "hybrid": "'impute' (fusiondp imputes the hybrid from the support set) or 'published' (files.hybrid)",
    "imputer": "imputer name used with hybrid = 'impute' (default 'default')",
    "onehot_groups": "one-hot groups among the sensitive columns (list of lists; default: detected)",
    "description": "one line for the results page",
    "notes": "list of remarks",
    "id_column": "a key column naming each row's person: support rows are checked against training rows by it "
                 "(not by their values) and it is dropped from the features",
    "support_rows_are_distinct_people": "true states that the support rows are other people than the training "
                                        "rows even where all values agree (a coded table); recorded in each run",
}
_SPLIT_KEYS = ("fractions", "support_rows", "support_fraction", "split_seed")

#: The split of a user's single table: 10 % public support set (removed from training), then 70/10/20
#: train/val/test of the rest, permutation seeded by 0 (the adult rule, with a fraction instead of 512 rows).
USER_SPLIT = SplitSpec(fractions=(0.7, 0.1, 0.2), support_rows=0, split_seed=0, support_fraction=0.1)
#: The split of a user's table when a support file is given: no support rows are carved from the table.
USER_SPLIT_WITH_SUPPORT = SplitSpec(fractions=(0.7, 0.1, 0.2), support_rows=0, split_seed=0)

_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


def _names(value: Any, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ConfigError(f"Dataset entry: {key!r} must be a list of column names or a comma-separated string, "
                      f"got {value!r}.")


def _split_from_dict(d: Any) -> SplitSpec:
    if not isinstance(d, Mapping):
        raise ConfigError(f"Dataset entry: [split] must be a table, got {d!r}.")
    if unknown := sorted(set(d) - set(_SPLIT_KEYS)):
        raise ConfigError(f"Dataset entry: unknown [split] key(s) {unknown}; known: {', '.join(_SPLIT_KEYS)}.")
    kw = dict(d)
    if "fractions" in kw:
        kw["fractions"] = tuple(float(f) for f in kw["fractions"])
    if kw.get("split_seed") == "run":
        kw["split_seed"] = None
    if "support_fraction" in kw and "support_rows" not in kw:
        kw["support_rows"] = 0
    return SplitSpec(**kw)


def spec_from_dict(d: Mapping[str, Any], *, base_dir: str | Path | None = None,
                   default_name: str | None = None) -> DatasetSpec:
    """A `DatasetSpec` from an entry in the :data:`SPEC_KEYS` format.

    Relative paths in `files` are resolved against `base_dir` when given (a user's TOML file),
    else left relative to the data directory (built-in entries). With files.all and no [split],
    :data:`USER_SPLIT` (or :data:`USER_SPLIT_WITH_SUPPORT` when files.support is given) is used.

    >>> spec_from_dict({"name": "t", "target": "y", "sensitive": "age,sex", "files": {"all": "t.csv"}}).split
    SplitSpec(fractions=(0.7, 0.1, 0.2), support_rows=0, split_seed=0, support_fraction=0.1)
    """
    if not isinstance(d, Mapping):
        raise ConfigError(f"A dataset entry must be a table of keys, got {type(d).__name__}.")
    if unknown := sorted(set(d) - set(SPEC_KEYS)):
        raise ConfigError(f"Dataset entry: unknown key(s) {unknown}; known: {', '.join(SPEC_KEYS)}.")
    name = d.get("name", default_name)
    for key, value in (("name", name), ("target", d.get("target")), ("sensitive", d.get("sensitive")),
                       ("files", d.get("files"))):
        if not value:
            raise ConfigError(f"Dataset entry: {key!r} is required.")
    if not isinstance(name, str) or not set(name) <= _NAME_CHARS:
        raise ConfigError(f"Dataset name {name!r} must use letters, digits, '_', '-' or '.' only (it names files).")
    files = d["files"]
    if not isinstance(files, Mapping) or not all(isinstance(v, str) for v in files.values()):
        raise ConfigError(f"Dataset entry: [files] must map roles to paths, got {files!r}.")
    if unknown := sorted(set(files) - {*ROLES, "all", "hybrid"}):
        raise ConfigError(f"Dataset entry: unknown file role(s) {unknown}; known: all, {', '.join(ROLES)}, hybrid.")
    if base_dir is not None:
        files = {k: str((Path(base_dir) / v).resolve()) for k, v in files.items()}
    if "split" in d:
        split = _split_from_dict(d["split"])
    elif "all" in files:
        split = USER_SPLIT_WITH_SUPPORT if "support" in files else USER_SPLIT
    else:
        split = None
    groups = d.get("onehot_groups")
    return DatasetSpec(
        name=name, target=str(d["target"]), positive=d.get("positive"), sensitive=_names(d["sensitive"], "sensitive"),
        files=dict(files), drop=_names(d.get("drop", ()), "drop"),
        categorical=_names(d.get("categorical", ()), "categorical"), split=split,
        hybrid=d.get("hybrid", "impute"), imputer=d.get("imputer", "default"),
        onehot_groups=None if groups is None else tuple(tuple(g) for g in groups),
        description=d.get("description", ""), notes=tuple(d.get("notes", ())), id_column=d.get("id_column"),
        support_rows_are_distinct_people=bool(d.get("support_rows_are_distinct_people", False)))


def spec_to_dict(spec: DatasetSpec) -> dict[str, Any]:
    """The entry of `spec` in the :data:`SPEC_KEYS` format (inverse of :func:`spec_from_dict`)."""
    out: dict[str, Any] = {"name": spec.name, "target": spec.target, "positive": spec.positive,
                           "sensitive": list(spec.sensitive), "drop": list(spec.drop),
                           "categorical": list(spec.categorical), "files": dict(spec.files),
                           "hybrid": spec.hybrid, "imputer": spec.imputer,
                           "onehot_groups": (None if spec.onehot_groups is None
                                             else [list(g) for g in spec.onehot_groups]),
                           "description": spec.description, "notes": list(spec.notes),
                           "id_column": spec.id_column}
    if spec.support_rows_are_distinct_people:
        out["support_rows_are_distinct_people"] = True
    if spec.split is not None:
        sp = spec.split
        out["split"] = {"fractions": list(sp.fractions), "support_rows": sp.support_rows,
                        "split_seed": "run" if sp.split_seed is None else sp.split_seed}
        if sp.support_fraction is not None:
            out["split"]["support_fraction"] = sp.support_fraction
    return {k: v for k, v in out.items() if v is not None}


def spec_from_toml(text: str, *, base_dir: str | Path | None = None, default_name: str | None = None,
                   source: str = "dataset entry") -> DatasetSpec:
    """A `DatasetSpec` from a TOML document in the :data:`SPEC_KEYS` format."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{source} is not valid TOML: {e}") from None
    return spec_from_dict(doc, base_dir=base_dir, default_name=default_name)


def load_dataset_file(path: str | Path) -> DatasetSpec:
    r"""Read a user's dataset file (TOML); relative paths are taken from the file's folder.

    >>> import tempfile; d = Path(tempfile.mkdtemp()); f = d / "wage.toml"
    >>> _ = f.write_text('target = "y"\nsensitive = ["age"]\n[files]\nall = "wage.csv"\n')
    >>> s = load_dataset_file(f); (s.name, Path(s.files["all"]).name)
    ('wage', 'wage.csv')
    """
    from fusiondp._files import check_input

    path = Path(path)
    if not path.exists():
        raise ConfigError(f"Dataset file not found: {path}")
    check_input(path, what="Dataset", error=ConfigError)
    return spec_from_toml(path.read_text(), base_dir=path.parent, default_name=path.stem, source=str(path))


def table_spec(table: str | Path, *, target: str, sensitive: str | Sequence[str], support: str | Path | None = None,
               drop: str | Sequence[str] = (), categorical: str | Sequence[str] = (), name: str | None = None,
               imputer: str = "default", id_column: str | None = None,
               distinct_people: bool = False) -> DatasetSpec:
    """The entry of a user's table given by command-line options (``fusiondp bench --table ...``)."""
    files = {"all": str(Path(table).expanduser().resolve())}
    if support is not None:
        files["support"] = str(Path(support).expanduser().resolve())
    return spec_from_dict({"name": name or Path(table).stem, "target": target, "sensitive": sensitive,
                           "drop": drop, "categorical": categorical, "files": files, "imputer": imputer,
                           "id_column": id_column, "support_rows_are_distinct_people": distinct_people})


# --------------------------------------------------------------------------- the built-in entries
#: The built-in entries' TOML files (package data; paths inside are relative to the data directory).
ENTRIES_DIR = "entries"


def builtin_specs() -> list[DatasetSpec]:
    """The built-in tabular entries, parsed from ``fusiondp/bench/entries/*.toml`` (the format a user writes).

    They are registered, with the other benchmark datasets, in the one registry `fusiondp.bench.registry`;
    look one up with `get_spec`.
    """
    from importlib.resources import files

    folder = files("fusiondp.bench").joinpath(ENTRIES_DIR)
    return [spec_from_toml(f.read_text(encoding="utf-8"), source=f"built-in entry {f.name!r}")
            for f in sorted(folder.iterdir(), key=lambda f: f.name) if f.name.endswith(".toml")]


def get_spec(name: str) -> DatasetSpec:
    """The declarative spec of a registered tabular dataset (`fusiondp.bench.registry.get_dataset(name).spec`)."""
    from fusiondp.bench.registry import get_dataset

    spec = get_dataset(name).spec
    if spec is None:
        raise ConfigError(f"Benchmark dataset {name!r} is not a tabular entry (it has no spec).")
    return spec
