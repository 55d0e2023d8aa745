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

>>> sorted(DATASETS)
['adult', 'sepsis', 'sepsis_ours']
>>> DATASETS["adult"].schema.sensitive
('age', 'sex', 'race', 'marital', 'relationship', 'country')
"""

from __future__ import annotations

import os
from collections.abc import Mapping
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
    frame = pd.read_csv(path)
    frame.columns = [str(c) for c in frame.columns]
    return frame


@dataclass(frozen=True)
class SplitSpec:
    """A seeded split of one table into support / train / val / test.

    Args:
        fractions: (train, val, test) fractions of the rows left after the support set; they must sum to 1.
        support_rows: rows taken out first as the public support set.
        split_seed: seed of the permutation; None uses the run's seed.

    >>> parts = SplitSpec((0.5, 0.25, 0.25), support_rows=2).split(pd.DataFrame({"a": range(10)}), seed=0)
    >>> {k: len(v) for k, v in parts.items()}
    {'support': 2, 'train': 4, 'val': 2, 'test': 2}
    """

    fractions: tuple[float, float, float] = (0.7, 0.1, 0.2)
    support_rows: int = 512
    split_seed: int | None = 0

    def __post_init__(self) -> None:
        if len(self.fractions) != 3 or any(f < 0 for f in self.fractions) or abs(sum(self.fractions) - 1) > 1e-9:
            raise ConfigError(f"SplitSpec.fractions must be three non-negative numbers summing to 1, "
                              f"got {self.fractions}.")
        if self.support_rows < 0:
            raise ConfigError(f"Expected support_rows >= 0, got {self.support_rows}.")

    def split(self, frame: pd.DataFrame, *, seed: int) -> dict[str, pd.DataFrame]:
        """Cut `frame` (index reset in every part, original row order kept inside each part)."""
        if self.support_rows >= len(frame):
            raise DataError(f"support_rows={self.support_rows} leaves no rows of {len(frame)} to train on.")
        rng = np.random.default_rng(self.split_seed if self.split_seed is not None else seed)
        perm = rng.permutation(len(frame))
        support, rest = perm[:self.support_rows], perm[self.support_rows:]
        n_train = int(round(self.fractions[0] * len(rest)))
        n_val = int(round(self.fractions[1] * len(rest)))
        parts = {"support": support, "train": rest[:n_train], "val": rest[n_train:n_train + n_val],
                 "test": rest[n_train + n_val:]}
        return {k: frame.iloc[np.sort(v)].reset_index(drop=True) for k, v in parts.items()}


@dataclass(frozen=True)
class DatasetSpec:
    """One benchmark dataset.

    Args:
        name: registry key.
        target: label column; `positive` is the label value counted as the positive class.
        sensitive, drop, categorical: column roles (see `Schema`).
        files: role -> path relative to the data directory. Roles: "train",
            "val", "test", "support" and optionally "hybrid" (a published hybrid
            of train), or the single role "all" together with `split`.
        split: how to cut the "all" file (None when every role has a file).
        hybrid: "published" (use files["hybrid"]) or "impute" (make_hybrid from the support set).
        imputer: imputer name used when `hybrid="impute"`.
        onehot_groups: one-hot groups among the sensitive columns (None: detect from the support set).
        description: one line for results pages.
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

    def __post_init__(self) -> None:
        one_of("hybrid", self.hybrid, ("published", "impute"))
        if self.hybrid == "published" and "hybrid" not in self.files:
            raise ConfigError(f"Dataset {self.name!r}: hybrid='published' needs files['hybrid'].")
        if "all" in self.files:
            if self.split is None:
                raise ConfigError(f"Dataset {self.name!r}: files['all'] needs a split.")
        elif missing := [r for r in ROLES if r not in self.files]:
            raise ConfigError(f"Dataset {self.name!r}: no file for role(s) {missing}.")

    @property
    def schema(self) -> Schema:
        """The column roles as a `Schema`."""
        return Schema(self.target, list(self.sensitive), list(self.drop), list(self.categorical))

    def frames(self, data_dir: str | Path | None = None, seed: int = 0) -> dict[str, pd.DataFrame]:
        """The raw frames: train, val, test, support (+ "published_hybrid" when a file is given)."""
        root = resolve_data_dir(data_dir)
        if "all" in self.files:
            assert self.split is not None
            out = self.split.split(read_csv(root / self.files["all"], dataset=self.name), seed=seed)
        else:
            out = {r: read_csv(root / self.files[r], dataset=self.name) for r in ROLES}
        if "hybrid" in self.files:
            out["published_hybrid"] = read_csv(root / self.files["hybrid"], dataset=self.name)
        self.schema.check_columns(out["train"], what=f"{self.name} train", need_target=True)
        return out

    def load(self, data_dir: str | Path | None = None, seed: int = 0) -> dict[str, pd.DataFrame]:
        """Frames "train", "hybrid" (row-aligned with train), "val", "test" and "support"."""
        from fusiondp.impute import make_hybrid

        frames = self.frames(data_dir, seed)
        if self.hybrid == "published":
            hyb = frames["published_hybrid"]
            if len(hyb) != len(frames["train"]):
                raise DataError(f"Dataset {self.name!r}: published hybrid has {len(hyb)} rows, train "
                                f"{len(frames['train'])}.")
            frames["hybrid"] = hyb  # extra columns (the published `index`) are dropped by the schema
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


DATASETS: dict[str, DatasetSpec] = {}


def register(spec: DatasetSpec, *, force: bool = False) -> DatasetSpec:
    """Add a dataset spec (refuses a duplicate name unless `force`)."""
    if spec.name in DATASETS and not force:
        raise ConfigError(f"A dataset named {spec.name!r} is already registered.")
    DATASETS[spec.name] = spec
    return spec


register(DatasetSpec(
    name="sepsis", target="SepsisLabel", positive=1.0,
    sensitive=("Age", "Gender", "Unit1", "Unit2", "HospAdmTime", "ICULOS"),
    drop=("ICULOS_bin", "index"),
    files={"train": "sepsis/train_ori.csv", "val": "sepsis/val.csv", "test": "sepsis/test.csv",
           "support": "sepsis/val.csv", "hybrid": "sepsis/train_hybrid.csv"},
    hybrid="published", onehot_groups=(("Unit1", "Unit2"),),
    description="PhysioNet 2019 sepsis (FusionDP authors' preprocessing); hybrid = published TabPFN imputations",
    notes=("ICULOS_bin is a binned copy of the sensitive ICULOS and is dropped; `index` only exists in the "
           "published hybrid.",
           "The support set for our own imputations is val.csv (1,573 rows): public, disjoint from train. "
           "Model selection on val then reads rows the imputer also saw, which is fine (both are public)."),
))

register(DatasetSpec(
    name="sepsis_ours", target="SepsisLabel", positive=1.0,
    sensitive=("Age", "Gender", "Unit1", "Unit2", "HospAdmTime", "ICULOS"),
    drop=("ICULOS_bin",),
    files={"train": "sepsis/train_ori.csv", "val": "sepsis/val.csv", "test": "sepsis/test.csv",
           "support": "sepsis/val.csv"},
    hybrid="impute", onehot_groups=(("Unit1", "Unit2"),),
    description="PhysioNet 2019 sepsis as `sepsis`, but the hybrid is imputed by fusiondp's default imputer "
                "from the 1,573-row public support set val.csv (labels not used by the imputer)",
    notes=("Same files and splits as `sepsis`; only the hybrid differs (compare the two pages).",),
))

register(DatasetSpec(
    name="adult", target="income", positive=">50K",
    sensitive=("age", "sex", "race", "marital", "relationship", "country"),
    files={"all": "adult/adult.csv"},
    split=SplitSpec(fractions=(0.7, 0.1, 0.2), support_rows=512, split_seed=0),
    hybrid="impute",
    description="UCI Adult (30,162 complete rows); 512-row public support set, then 70/10/20 train/val/test",
    notes=("Split: numpy default_rng(0) permutation of all rows; the first 512 are the support set, the "
           "rest is cut 70/10/20 into train/val/test (row order kept inside each part).",),
))
