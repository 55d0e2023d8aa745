"""The Medical Abstracts corpus: loading, seeded splits, and (original, hybrid, label) triples.

Data location, in order: the ``path`` argument, the environment variable
``FUSIONDP_DATA``, then ``../shared/data`` relative to the repository root.
Files are never copied into the project (see the data README).

Splits (:func:`split_corpus`) are stratified by label and seeded. The
``support`` split is the *public* part of the corpus in the sense of docs/method.md
§1: its full text, sensitive spans included, may be used to fit the hybrid
predictor and the vectoriser. ``train`` holds the private documents (their
sensitive spans are protected), ``val`` is for model selection and ``test`` for
the final numbers. Default fractions: support 10%, val 10%, test 20%, train the
remaining 60%.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from fusiondp._validate import in_open_interval
from fusiondp.errors import ConfigError, DataError

if TYPE_CHECKING:
    from fusiondp.text.hybrid import HybridTextGenerator

__all__ = ["data_root", "load_medical_abstracts", "Splits", "split_corpus", "TextTriples", "make_triples"]

_REPO_ROOT = Path(__file__).resolve().parents[3]
_FILE = "medical_abstracts/medical_abstracts.csv"
_LABELS = "medical_abstracts/labels.csv"


def data_root(path: str | os.PathLike[str] | None = None) -> Path:
    """The shared data folder: ``path`` > ``$FUSIONDP_DATA`` > ``<repo>/../shared/data``."""
    if path is not None:
        return Path(path)
    env = os.environ.get("FUSIONDP_DATA")
    return Path(env) if env else (_REPO_ROOT / ".." / "shared" / "data").resolve()


def load_medical_abstracts(path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Load the corpus as a frame with columns ``text``, ``label`` (0-based) and ``label_name``.

    Args:
        path: the data root holding ``medical_abstracts/`` (see :func:`data_root`).

    Raises:
        DataError: the files are missing or lack the expected columns.

    >>> frame = load_medical_abstracts()  # doctest: +SKIP
    >>> frame.shape  # doctest: +SKIP
    (2888, 3)
    """
    root = data_root(path)
    csv = root / _FILE
    if not csv.is_file():
        raise DataError(f"Medical Abstracts not found at {csv}. Pass the data folder, or set FUSIONDP_DATA "
                        "to the folder that holds medical_abstracts/medical_abstracts.csv.")
    raw = pd.read_csv(csv)
    missing = {"condition_label", "medical_abstract"} - set(raw.columns)
    if missing:
        raise DataError(f"{csv} lacks column(s) {', '.join(sorted(missing))}; found {', '.join(raw.columns)}.")
    names: dict[int, str] = {}
    if (root / _LABELS).is_file():
        lab = pd.read_csv(root / _LABELS)
        names = dict(zip(lab["condition_label"].astype(int), lab["condition_name"].astype(str)))
    codes = raw["condition_label"].astype(int)
    return pd.DataFrame({"text": raw["medical_abstract"].astype(str),
                         "label": codes - codes.min(),
                         "label_name": codes.map(lambda c: names.get(c, str(c)))})


@dataclass(frozen=True)
class Splits:
    """Row indices of the four disjoint splits (sorted int arrays).

    >>> s = split_corpus([0, 1] * 50, seed=0)
    >>> [len(s.train), len(s.val), len(s.test), len(s.support)]
    [60, 10, 20, 10]
    """

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    support: np.ndarray

    def as_dict(self) -> dict[str, np.ndarray]:
        """The splits by name."""
        return {"train": self.train, "val": self.val, "test": self.test, "support": self.support}


def split_corpus(labels: Sequence[int] | np.ndarray, *, seed: int = 0, support: float = 0.1, val: float = 0.1,
                 test: float = 0.2) -> Splits:
    """Seeded, label-stratified train/val/test/support split.

    Within each label the rows are shuffled with ``numpy.random.default_rng(seed)``
    and cut into support, val, test and train in that order (rounded per label).

    Args:
        labels: one class label per document.
        seed: the shuffling seed.
        support, val, test: fractions of each class; train gets the rest.
    """
    for name, value in {"support": support, "val": val, "test": test}.items():
        in_open_interval(name, value, 0.0, 1.0)
    if support + val + test >= 1.0:
        raise ConfigError(f"support + val + test must leave rows for train, got {support + val + test:g}.")
    y = np.asarray(labels)
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {"support": [], "val": [], "test": [], "train": []}
    for cls in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == cls))
        n = len(idx)
        cuts = np.cumsum([round(support * n), round(val * n), round(test * n)])
        for name, chunk in zip(("support", "val", "test", "train"), np.split(idx, cuts)):
            parts[name].append(chunk)
    out = {k: np.sort(np.concatenate(v)) if v else np.array([], dtype=int) for k, v in parts.items()}
    return Splits(train=out["train"], val=out["val"], test=out["test"], support=out["support"])


@dataclass(frozen=True)
class TextTriples:
    """Aligned original texts, hybrid texts and labels of one split."""

    original: list[str]
    hybrid: list[str]
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.original)


def make_triples(frame: pd.DataFrame, rows: np.ndarray, generator: HybridTextGenerator) -> TextTriples:
    """(original, hybrid, label) for ``rows`` of ``frame``, using a fitted hybrid generator.

    The generator must have been fitted on public documents only (the support split). Sensitive spans
    the detector misses stay verbatim in the hybrid texts; ``generator.privacy_statement()`` says so with
    the measured detection recall, for the record of a run.
    """
    texts = frame["text"].iloc[rows].tolist()
    return TextTriples(texts, generator.transform(texts), frame["label"].iloc[rows].to_numpy())
