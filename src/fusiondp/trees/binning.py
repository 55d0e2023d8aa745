"""Bin edges from public rows only (docs/method.md §9).

Every encoded column gets at most ``max_bins`` bins. Edges come from the public
matrix the caller passes (the hybrid rows together with the support set, both
public): midpoints between distinct values when a column has few of them,
otherwise distinct quantiles. No training row's true sensitive value is ever
seen here, so the bin grid (and with it every histogram cell) is public.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fusiondp.errors import ConfigError


@dataclass(frozen=True)
class Bins:
    """Per-column bin edges; value v of column j falls in bin ``searchsorted(edges[j], v, 'right')``.

    Attributes:
        edges: (n_features, max_bins - 1) array, padded with +inf (padded bins stay empty).
        max_bins: number of bins B (cells per feature in a histogram).

    >>> b = Bins.fit(np.array([[0.0], [1.0], [1.0]]), max_bins=8)
    >>> b.transform(np.array([[0.0], [1.0], [5.0]])).ravel().tolist()
    [0, 1, 1]
    """

    edges: np.ndarray
    max_bins: int

    @classmethod
    def fit(cls, public: np.ndarray, max_bins: int = 32) -> "Bins":
        """Edges of each column of `public` (rows known to be public: hybrid ∪ support)."""
        if not 2 <= max_bins <= 256:
            raise ConfigError(f"Trees need 2 <= bins <= 256, got {max_bins}.")
        public = np.asarray(public, dtype=np.float64)
        if public.ndim != 2 or len(public) == 0:
            raise ConfigError("Bins need a non-empty 2-D public matrix.")
        edges = np.full((public.shape[1], max_bins - 1), np.inf)
        levels = np.linspace(0.0, 1.0, max_bins + 1)[1:-1]
        for j in range(public.shape[1]):  # a loop over columns (tens), not samples
            col = public[:, j][np.isfinite(public[:, j])]
            values = np.unique(col)
            if len(values) <= max_bins:
                e = (values[1:] + values[:-1]) / 2.0
            else:
                e = np.unique(np.quantile(col, levels))
            edges[j, :len(e)] = e
        return cls(edges, max_bins)

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Bin indices (uint8) of every cell of `x`, shape (n_rows, n_features)."""
        x = np.asarray(x, dtype=np.float64)
        out = np.empty(x.shape, dtype=np.uint8)
        for j in range(x.shape[1]):
            out[:, j] = np.searchsorted(self.edges[j], x[:, j], side="right")
        return out
