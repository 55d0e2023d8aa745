"""Preprocessing fitted on public data only.

Scaling statistics, missing-value fills, missingness indicators and category
vocabularies are learned from public frames, never from the original training
rows, whose sensitive columns are private (docs/method.md §3 and §8):

* public columns from ``public_frame`` (the hybrid table for feature-level
  methods, the support set for record-level ones);
* sensitive columns from ``sensitive_frame`` when given (the public support set,
  which holds true values, together with the hybrid), else from ``public_frame``.
  Fitting them on the support set keeps a collapsed imputation (an imputed column
  with almost no spread, or that lost levels) from turning true values into huge
  standardised numbers or all-zero one-hot rows; such a collapse is warned about
  and recorded in :attr:`Preprocessor.collapsed`.

The fitted transform is then applied to original, hybrid, validation and test
rows alike. Representation choices (:class:`Representation`) are recorded by
:meth:`Preprocessor.to_dict`, which the saved model carries.

Missingness indicators. A column that has missing values in the data it is
fitted on gets a 0/1 "is missing" feature next to its value. For a public column
the indicator is public. For a sensitive column the indicator sits inside that
column's sensitive block (:meth:`Preprocessor.sensitive_blocks`,
:meth:`Preprocessor.sensitive_mask`): in the original view it reflects whether the
true value is missing, which is private and reaches only the clipped, noised
term; the hybrid view carries the hybrid's own missingness. Categorical columns
encode missingness as their own ``<missing>`` level instead.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from fusiondp.data.schema import Schema
from fusiondp.data.tabular import categorical_columns, check_numeric
from fusiondp.errors import ConfigError, DataError, DataWarning

#: Level that absorbs rare categories at fit time and unseen ones at transform time.
OTHER = "<other>"
#: Level of a categorical column's missing values (when missingness indicators are on).
MISSING = "<missing>"
#: Suffix of a numeric column's missingness indicator feature.
INDICATOR_SUFFIX = "__missing"
#: Infix of a 'ple' column's bin features (``hr__bin0``, ``hr__bin1``, ...).
BIN_SUFFIX = "__bin"
NUMERIC_ENCODINGS = ("standard", "clip", "quantile", "ple")
_QUANTILE_LEVELS = np.linspace(0.0, 1.0, 101)


@dataclass(frozen=True)
class Representation:
    """How tabular columns are encoded (all statistics from public data).

    Attributes:
        indicators: add a missingness indicator for each column with missing values in the fit data.
        numeric: 'standard' (mean/std), 'clip' (clip to the fitted [clip_quantile, 1 − clip_quantile]
            quantiles, then mean/std: robust to outliers and to far-out true values of a sensitive column
            whose imputation had little spread) or 'quantile' (piecewise-linear map through 101 fitted
            quantiles to a uniform score with unit variance: rank-based, outliers bounded) or 'ple'
            (piecewise-linear encoding, Gorishniy et al. 2022: the column becomes one feature per bin, bin
            edges at `bins` + 1 fitted quantiles (tied edges merged); feature t is 0 below bin t, 1 above it
            and linear inside, so values beyond the fitted range clamp to all-0 or all-1).
        clip_quantile: tail mass clipped on each side by 'clip'.
        bins: number of quantile bins of 'ple' (a column with fewer distinct quantiles gets fewer).
        min_frequency: categories seen fewer times than this in the fit data are grouped into '<other>';
            '<other>' also takes categories unseen at fit time (counted in :attr:`Preprocessor.unseen`).
        collapse_ratio: an imputed numeric column whose std is below this fraction of the reference std
            (support ∪ hybrid) is reported as collapsed.
    """

    indicators: bool = True
    numeric: str = "standard"
    clip_quantile: float = 0.005
    bins: int = 16
    min_frequency: int = 5
    collapse_ratio: float = 0.1

    def __post_init__(self) -> None:
        if self.numeric not in NUMERIC_ENCODINGS:
            raise ConfigError(f"Unknown numeric encoding {self.numeric!r}; choose one of {', '.join(NUMERIC_ENCODINGS)}.")
        if not 0 <= self.clip_quantile < 0.5:
            raise ConfigError(f"Expected 0 <= clip_quantile < 0.5, got {self.clip_quantile!r}.")
        if isinstance(self.bins, bool) or not isinstance(self.bins, int) or self.bins < 1:
            raise ConfigError(f"Expected an integer bins >= 1, got {self.bins!r}.")
        if int(self.min_frequency) < 1:
            raise ConfigError(f"Expected min_frequency >= 1, got {self.min_frequency!r}.")
        if not 0 <= self.collapse_ratio < 1:
            raise ConfigError(f"Expected 0 <= collapse_ratio < 1, got {self.collapse_ratio!r}.")


#: The encoding used before representation options existed (saved models without a 'representation' key).
LEGACY = Representation(indicators=False, numeric="standard", clip_quantile=0.0, min_frequency=1)

_default = Representation()


def default_representation() -> Representation:
    """The representation `Preprocessor.fit` uses when none is passed."""
    return _default


@contextmanager
def use_representation(rep: Representation) -> Iterator[None]:
    """Make `rep` the default representation inside the block (for callers that do not pass one through,
    e.g. `fusiondp.pipeline.run` in benchmarks comparing representations)."""
    global _default
    old, _default = _default, rep
    try:
        yield
    finally:
        _default = old


def _numbers(frame: pd.DataFrame, c: str) -> np.ndarray:
    return pd.to_numeric(frame[c], errors="coerce").to_numpy(float)


def _texts(frame: pd.DataFrame, c: str) -> pd.Series:
    return frame[c].map(lambda v: None if pd.isna(v) else str(v))


def ple_width(edges: list[float]) -> int:
    """Features of a 'ple' column with these (strictly increasing) edges: one per bin, at least one."""
    return max(1, len(edges) - 1)


def ple_encode(x: np.ndarray, edges: list[float]) -> np.ndarray:
    """Piecewise-linear encoding (Gorishniy et al. 2022) of finite values `x`: (rows, ple_width(edges)).

    Feature t is 0 for x ≤ edges[t], 1 for x ≥ edges[t + 1] and linear in between; values outside the
    fitted range clamp (all 0 below the first edge, all 1 above the last). A column with a single distinct
    fitted value (one edge) is encoded as one constant 0 feature.

    >>> ple_encode(np.array([-5.0, 0.0, 1.5, 3.0, 99.0]), [0.0, 1.0, 2.0, 3.0]).tolist()
    [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [1.0, 0.5, 0.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """
    e = np.asarray(edges, dtype=float)
    if len(e) < 2:
        return np.zeros((len(x), 1), dtype=np.float32)
    lo, width = e[:-1], np.diff(e)
    return np.clip((x[:, None] - lo[None, :]) / width[None, :], 0.0, 1.0).astype(np.float32)


@dataclass
class Preprocessor:
    """Encode numeric columns (scaled, NaN → public fill, optional indicator) and one-hot categorical ones.

    >>> pub = pd.DataFrame({"hr": [60.0, 80.0, None], "age": [30.0, 50.0, 40.0], "y": [0, 1, 0]})
    >>> pre = Preprocessor.fit(pub, Schema("y", ["age"]))
    >>> pre.feature_names()
    ['hr', 'hr__missing', 'age']
    >>> pre.transform(pub).shape
    (3, 3)
    """

    schema: Schema
    numeric: list[str] = field(default_factory=list)
    categories: dict[str, list[str]] = field(default_factory=dict)
    mean: dict[str, float] = field(default_factory=dict)
    scale: dict[str, float] = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)  # input columns, in model order
    notes: list[str] = field(default_factory=list, compare=False)  # what was done with empty columns, ...

    def _note(self, text: str, warn: bool = True) -> None:
        """Record what preprocessing did (kept in the report) and, by default, say it as a warning."""
        if text not in self.notes:
            self.notes.append(text)
            if warn:
                warnings.warn(text, DataWarning, stacklevel=3)
    representation: Representation = LEGACY
    indicators: list[str] = field(default_factory=list)  # numeric columns with a missingness indicator
    bounds: dict[str, list[float]] = field(default_factory=dict)  # 'clip': [low, high] per numeric column
    quantiles: dict[str, list[float]] = field(default_factory=dict)  # 'quantile': fitted quantile values
    edges: dict[str, list[float]] = field(default_factory=dict)  # 'ple': strictly increasing bin edges
    collapsed: dict[str, str] = field(default_factory=dict)  # imputed column -> why it looks collapsed
    unseen: dict[str, dict[str, int]] = field(default_factory=dict)  # what -> public column -> rows sent to <other>

    @classmethod
    def fit(cls, public_frame: pd.DataFrame, schema: Schema, *, sensitive_frame: pd.DataFrame | None = None,
            representation: Representation | None = None) -> "Preprocessor":
        """Fit on public frames.

        Args:
            public_frame: public rows (the hybrid table, or the support set for record-level methods);
                the public columns' statistics come from it, and so do the sensitive columns' unless
                `sensitive_frame` is given.
            schema: column roles.
            sensitive_frame: public rows with the sensitive columns (support set ∪ hybrid); when given,
                the sensitive columns' statistics and vocabularies come from it, and each sensitive column
                of `public_frame` is checked for collapse against it.
            representation: encoding options (default :class:`Representation`).
        """
        rep = representation or _default
        schema = schema if schema.public else schema.bind(public_frame)
        columns = schema.feature_columns()
        if sensitive_frame is not None:
            absent = [c for c in schema.sensitive if c not in sensitive_frame.columns]
            if absent:
                raise DataError(f"Sensitive column(s) {', '.join(map(repr, absent))} not found in the support data.")
        source = {c: sensitive_frame if (sensitive_frame is not None and c in schema.sensitive) else public_frame
                  for c in columns}
        cats = [c for c in columns if c in categorical_columns(source[c], schema, [c])]
        numeric = [c for c in columns if c not in cats]
        for c in numeric:
            check_numeric(source[c], [c], "the public (hybrid/support) data")
        pre = cls(schema=schema, numeric=numeric, columns=columns, representation=rep)
        for c in columns:
            if source[c][c].isna().all():
                if c in schema.sensitive:
                    raise DataError(f"Sensitive column {c!r} holds no value at all in the public data, so "
                                    "it cannot be scaled or encoded.",
                                    hint="impute it (e.g. `fusiondp impute`) or remove it from --sensitive")
                pre._note(f"Column {c!r} is empty in the public data: it is encoded as a constant "
                          "(it carries no information); drop it with --drop to silence this.")
        for c in numeric:
            pre._fit_numeric(c, _numbers(source[c], c))
        for c in cats:
            pre._fit_categorical(c, _texts(source[c], c))
        if sensitive_frame is not None:
            pre._check_collapse(public_frame, sensitive_frame)
        return pre

    # ------------------------------------------------------------------ fitting
    def _fit_numeric(self, c: str, values: np.ndarray) -> None:
        rep = self.representation
        present = values[~np.isnan(values)]
        if rep.indicators and len(present) < len(values):
            self.indicators.append(c)
        if len(present) == 0:
            present = np.zeros(1)
        if rep.numeric == "clip":
            lo, hi = np.quantile(present, [rep.clip_quantile, 1 - rep.clip_quantile])
            self.bounds[c] = [float(lo), float(hi)]
            present = np.clip(present, lo, hi)
        if rep.numeric == "quantile":
            self.quantiles[c] = [float(v) for v in np.quantile(present, _QUANTILE_LEVELS)]
            self.mean[c], self.scale[c] = float(np.median(present)), 1.0
            return
        if rep.numeric == "ple":
            levels = np.linspace(0.0, 1.0, rep.bins + 1)
            self.edges[c] = [float(v) for v in np.unique(np.quantile(present, levels))]
            self.mean[c], self.scale[c] = float(np.median(present)), 1.0
            return
        std = float(np.std(present))
        self.mean[c] = float(np.mean(present))
        self.scale[c] = std if std > 1e-12 else 1.0

    def _fit_categorical(self, c: str, text: pd.Series) -> None:
        rep = self.representation
        counts = text.dropna().value_counts()
        kept = sorted(str(v) for v, n in counts.items() if n >= rep.min_frequency)
        vocab = kept
        if rep != LEGACY:
            vocab = kept + [OTHER]
            if rep.indicators and text.isna().any():
                vocab.append(MISSING)
        self.categories[c] = vocab

    def _check_collapse(self, imputed: pd.DataFrame, reference: pd.DataFrame) -> None:
        """Warn when an imputed sensitive column lost the spread or the levels of the reference (public) rows."""
        rep = self.representation
        for c in self.schema.sensitive:
            if c not in imputed.columns:
                continue
            if c in self.categories:
                ref = set(_texts(reference, c).dropna())
                lost = sorted(ref - set(_texts(imputed, c).dropna()))
                if lost:
                    self.collapsed[c] = f"imputed column lost {len(lost)} of {len(ref)} levels of the support data"
            else:
                h, r = _numbers(imputed, c), _numbers(reference, c)
                hs = float(np.nanstd(h)) if (~np.isnan(h)).any() else 0.0
                rs = float(np.nanstd(r)) if (~np.isnan(r)).any() else 0.0
                if rs > 0 and hs < rep.collapse_ratio * rs:
                    self.collapsed[c] = (f"imputed std is {hs / rs:.3f} of the support data's std "
                                         f"(below {rep.collapse_ratio:g})")
        for c, why in self.collapsed.items():
            warnings.warn(f"Sensitive column {c!r} looks collapsed in the hybrid table: {why}. The imputer may be "
                          "no better than a constant for it; scaling and vocabulary come from the support data.",
                          UserWarning, stacklevel=3)

    # ------------------------------------------------------------------ layout
    def _width(self, c: str) -> int:
        if c in self.categories:
            return len(self.categories[c])
        return self._numeric_width(c) + (c in self.indicators)

    def _numeric_width(self, c: str) -> int:
        """Features of a numeric column's value (1, or one per bin for 'ple'), without its indicator."""
        return ple_width(self.edges[c]) if c in self.edges else 1

    @property
    def n_features(self) -> int:
        return sum(self._width(c) for c in self.columns)

    def feature_names(self) -> list[str]:
        names = []
        for c in self.columns:
            if c in self.categories:
                names += [f"{c}={v}" for v in self.categories[c]]
            else:
                value = [f"{c}{BIN_SUFFIX}{k}" for k in range(self._numeric_width(c))] if c in self.edges else [c]
                names += value + ([c + INDICATOR_SUFFIX] if c in self.indicators else [])
        return names

    def sensitive_mask(self) -> np.ndarray:
        """Boolean mask over encoded features: True where the feature comes from a sensitive column
        (its value, its missingness indicator or its one-hot levels)."""
        mask = []
        for c in self.columns:
            mask += [c in self.schema.sensitive] * self._width(c)
        return np.array(mask, dtype=bool)

    def sensitive_blocks(self) -> list[tuple[int, int, bool]]:
        """(start, stop, is_categorical) of each sensitive column's encoded block.

        A numeric block is the value (one feature, or one per bin for 'ple') followed by its missingness
        indicator when the column has one.
        """
        blocks, start = [], 0
        for c in self.columns:
            width = self._width(c)
            if c in self.schema.sensitive:
                blocks.append((start, start + width, c in self.categories))
            start += width
        return blocks

    # ------------------------------------------------------------------ transform
    def _encode_numeric(self, c: str, x: np.ndarray) -> np.ndarray:
        missing = np.isnan(x)
        x = np.where(missing, self.mean[c], x)
        if c in self.edges:
            z = ple_encode(x, self.edges[c])
        elif c in self.quantiles:
            q = np.asarray(self.quantiles[c])
            qs, inverse = np.unique(q, return_inverse=True)
            levels = np.bincount(inverse, weights=_QUANTILE_LEVELS) / np.bincount(inverse)  # ties: mean level
            u = np.interp(x, qs, levels) if len(qs) > 1 else np.full_like(x, 0.5)
            z = (u - 0.5) * math.sqrt(12.0)
        else:
            if c in self.bounds:
                x = np.clip(x, *self.bounds[c])
            z = (x - self.mean[c]) / self.scale[c]
        out = [z.astype(np.float32).reshape(len(x), -1)]
        if c in self.indicators:
            out.append(missing.astype(np.float32)[:, None])
        return np.concatenate(out, axis=1)

    def _encode_categorical(self, c: str, frame: pd.DataFrame, what: str, public_rows: bool) -> np.ndarray:
        vocab = self.categories[c]
        text = _texts(frame, c)
        if MISSING in vocab:
            text = text.fillna(MISSING)
        index = {v: i for i, v in enumerate(vocab)}
        codes = text.map(index).fillna(-1).to_numpy(dtype=np.int64)  # -1: missing (no <missing> level) or unseen
        if OTHER in vocab:
            unseen = (codes < 0) & text.notna().to_numpy()
            if unseen.any():
                codes = np.where(unseen, vocab.index(OTHER), codes)
                # Counted only for public columns of rows the caller declares public (`public_rows`: validation,
                # test, prediction rows): counts of a sensitive column, or of the training rows' columns (also
                # inside the hybrid table), would describe private rows and end up in the saved model and the
                # report (a record-level run must not reveal a record's category). The flag, not the free-text
                # label `what`, decides: a label is for messages only.
                if public_rows and c not in self.schema.sensitive:
                    self.unseen.setdefault(what, {})[c] = int(unseen.sum())
                    self._note(f"{int(unseen.sum())} of {len(frame)} rows of {what} hold a value of column {c!r} that "
                               f"the public data never show; they are encoded as the {OTHER!r} level.")
        onehot = np.zeros((len(frame), len(vocab)), dtype=np.float32)
        rows = np.flatnonzero(codes >= 0)
        onehot[rows, codes[rows]] = 1.0
        return onehot

    def transform(self, frame: pd.DataFrame, *, what: str = "data", public_rows: bool = False) -> np.ndarray:
        """Encode `frame` into a float32 matrix (rows × n_features).

        Categories unseen at fit time go to '<other>'. With ``public_rows=True`` (the caller states that the
        rows are not training records: validation, test or prediction rows) the number of such rows per public
        column is recorded in ``self.unseen[what]``; never for sensitive columns, and never by default, since
        counts of training or hybrid rows would describe training records. `what` only names the rows in
        messages.
        """
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise DataError(f"Column(s) {', '.join(map(repr, missing))} not found in {what}.")
        check_numeric(frame, self.numeric, what, withhold=self.schema.sensitive)
        parts = []
        for c in self.columns:
            if c in self.categories:
                parts.append(self._encode_categorical(c, frame, what, public_rows))
            else:
                parts.append(self._encode_numeric(c, _numbers(frame, c)))
        return np.concatenate(parts, axis=1)

    # ------------------------------------------------------------------ records
    def describe(self) -> dict:
        """The representation choices, for reports: options, indicator columns, collapse and unseen counts."""
        return {"options": asdict(self.representation), "indicators": list(self.indicators),
                "n_features": self.n_features, "collapsed": dict(self.collapsed),
                "unseen_to_other": {k: dict(v) for k, v in self.unseen.items()}}

    def to_dict(self) -> dict:
        return {"schema": self.schema.to_dict(), "numeric": self.numeric, "categories": self.categories,
                "mean": self.mean, "scale": self.scale, "columns": self.columns,
                "representation": asdict(self.representation), "indicators": self.indicators,
                "bounds": self.bounds, "quantiles": self.quantiles, "edges": self.edges, "collapsed": self.collapsed,
                "unseen": self.unseen}

    @classmethod
    def from_dict(cls, d: dict) -> "Preprocessor":
        rep = Representation(**d["representation"]) if "representation" in d else LEGACY
        return cls(schema=Schema.from_dict(d["schema"]), numeric=list(d["numeric"]),
                   categories={k: list(v) for k, v in d["categories"].items()}, mean=dict(d["mean"]),
                   scale=dict(d["scale"]), columns=list(d["columns"]), representation=rep,
                   indicators=list(d.get("indicators", [])),
                   bounds={k: list(v) for k, v in d.get("bounds", {}).items()},
                   quantiles={k: list(v) for k, v in d.get("quantiles", {}).items()},
                   edges={k: list(v) for k, v in d.get("edges", {}).items()},
                   collapsed=dict(d.get("collapsed", {})),
                   unseen={k: dict(v) for k, v in d.get("unseen", {}).items()})
