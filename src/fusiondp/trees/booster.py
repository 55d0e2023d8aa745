"""Histogram gradient boosting core: level-wise trees grown from (G, H) histograms.

Why by hand: scikit-learn's HistGradientBoosting, LightGBM and XGBoost build
their gradient/hessian histograms inside compiled code from the rows they are
given; none exposes a hook to add a term to a histogram before the split search
(LightGBM's and XGBoost's custom objectives replace the per-row gradients, not
the per-bin sums, and a per-row noise is not the mechanism we need: the noise
must be added once per histogram cell to a clipped *sum of per-record
differences*, docs/method.md §9). So the small core is written here, vectorised:
every node's histograms of a level come from one sparse product (`OneHotBins`,
the public stage, with histogram subtraction) or one ``np.bincount`` (`histograms`,
the private difference term); no Python loop runs over rows; the split search is a
cumulative sum over bins.

The tree grower takes a *statistics function* ``stats(tree, level) -> (G, H)``:
the public stage passes noise-free hybrid histograms, the private stage
(`fusiondp.trees.private`) passes hybrid histograms plus a clipped, noised
difference term. Leaf values are computed from the statistics of the last split
(left part of the chosen cut, the rest to the right), so no extra release is
needed for them.

Trees are complete binary trees of fixed depth in heap order (node k has children
2k+1, 2k+2); a node that does not split sends every row left (threshold = last bin).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

StatsFn = Callable[["Tree", int], tuple[np.ndarray, np.ndarray]]


@dataclass
class Tree:
    """One tree: split feature and bin threshold per internal node, a value per leaf.

    A row goes right at node k when ``bins[row, feature[k]] > threshold[k]``.
    """

    depth: int
    feature: np.ndarray    # (2**depth - 1,) int
    threshold: np.ndarray  # (2**depth - 1,) int
    leaf: np.ndarray       # (2**depth,) float, learning rate not applied

    @classmethod
    def empty(cls, depth: int, n_bins: int) -> "Tree":
        n = 2 ** depth - 1
        return cls(depth, np.zeros(n, np.int64), np.full(n, n_bins - 1, np.int64), np.zeros(2 ** depth))

    def route(self, bins: np.ndarray, level: int) -> np.ndarray:
        """Index (within `level`, 0 .. 2**level - 1) of the node each row reaches."""
        node = np.zeros(len(bins), np.int64)
        rows = np.arange(len(bins))
        for _ in range(level):
            go = bins[rows, self.feature[node]] > self.threshold[node]
            node = 2 * node + 1 + go
        return node - (2 ** level - 1)

    def predict(self, bins: np.ndarray) -> np.ndarray:
        return self.leaf[self.route(bins, self.depth)]


@dataclass(frozen=True)
class GrowParams:
    """Split rules shared by both stages (public constants from `fusiondp.trees.settings`)."""

    l2: float = 1.0           # λ: L2 penalty on leaf values
    min_hessian: float = 1.0  # least hessian sum on each side of a cut
    min_gain: float = 0.0     # a cut must improve the objective by more than this
    max_leaf: float = 2.0     # |leaf value| cap (before the learning rate)


def histograms(bins: np.ndarray, node: np.ndarray, n_nodes: int, n_bins: int,
               g: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(G, H) of shape (n_nodes, n_features, n_bins): per-node, per-feature, per-bin sums of g and h."""
    n, f = bins.shape
    cell = (np.arange(f, dtype=np.int64) * n_bins)[None, :] + bins
    idx = (node[:, None] * (f * n_bins) + cell).ravel()
    size = n_nodes * f * n_bins
    G = np.bincount(idx, weights=np.broadcast_to(g[:, None], (n, f)).ravel(), minlength=size)
    H = np.bincount(idx, weights=np.broadcast_to(h[:, None], (n, f)).ravel(), minlength=size)
    return G.reshape(n_nodes, f, n_bins), H.reshape(n_nodes, f, n_bins)


class OneHotBins:
    """The binned rows as a sparse one-hot matrix M (rows × features·bins), built once per stage.

    A level's histograms for every node are then one sparse product Mᵀ W, with W (rows × 2·nodes) holding
    each row's g and h in its node's columns: compiled code, no (rows × features) temporaries per level.
    """

    def __init__(self, bins: np.ndarray, n_bins: int) -> None:
        from scipy import sparse

        n, f = bins.shape
        cells = (np.arange(f, dtype=np.int64) * n_bins)[None, :] + bins
        self.n_features, self.n_bins, self.n_rows = f, n_bins, n
        self.m = sparse.csr_matrix((np.ones(n * f), cells.ravel(), np.arange(0, n * f + 1, f)),
                                   shape=(n, f * n_bins))

    def sums(self, node: np.ndarray, n_nodes: int, g: np.ndarray, h: np.ndarray,
             rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(G, H), each (n_nodes, features, bins), over `rows` (a boolean mask; all rows by default)."""
        m = self.m if rows is None else self.m[rows]
        node, g, h = (node, g, h) if rows is None else (node[rows], g[rows], h[rows])
        w = np.zeros((len(node), 2 * n_nodes))
        k = np.arange(len(node))
        w[k, node], w[k, n_nodes + node] = g, h
        r = np.asarray(m.T @ w)  # (features·bins, 2·nodes)
        shape = (n_nodes, self.n_features, self.n_bins)
        return r[:, :n_nodes].T.reshape(shape), r[:, n_nodes:].T.reshape(shape)


class SubtractingHistograms:
    """Noise-free level histograms by subtraction: only left children are summed, right = parent − left.

    Used by the public stage (one instance per tree), where the statistics are exact sums, so the
    subtraction is exact; it halves the work of every level below the root. `onehot` is the stage's
    `OneHotBins` of ``bins[:, cols]`` (built once per stage); without it, `histograms` is used.
    """

    def __init__(self, bins: np.ndarray, n_bins: int, g: np.ndarray, h: np.ndarray,
                 cols: np.ndarray | None = None, onehot: OneHotBins | None = None) -> None:
        self.bins, self.n_bins, self.g, self.h = bins, n_bins, g, h
        self.hist_bins = bins if cols is None else bins[:, cols]
        self.onehot = onehot
        self.parent: tuple[np.ndarray, np.ndarray] | None = None

    def _sums(self, node: np.ndarray, n_nodes: int, rows: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        if self.onehot is not None:
            return self.onehot.sums(node, n_nodes, self.g, self.h, rows)
        if rows is None:
            return histograms(self.hist_bins, node, n_nodes, self.n_bins, self.g, self.h)
        return histograms(self.hist_bins[rows], node[rows], n_nodes, self.n_bins, self.g[rows], self.h[rows])

    def __call__(self, tree: "Tree", level: int) -> tuple[np.ndarray, np.ndarray]:
        node = tree.route(self.bins, level)
        if level == 0 or self.parent is None:
            G, H = self._sums(node, 1, None)
        else:
            left = node % 2 == 0
            Gl, Hl = self._sums(node // 2, 2 ** (level - 1), left)
            Gp, Hp = self.parent
            G = np.empty((2 ** level,) + Gl.shape[1:])
            H = np.empty_like(G)
            G[0::2], G[1::2], H[0::2], H[1::2] = Gl, Gp - Gl, Hl, Hp - Hl
        self.parent = (G, H)
        return G, H


def best_splits(G: np.ndarray, H: np.ndarray, p: GrowParams) -> tuple[np.ndarray, ...]:
    """Best cut per node: (feature column within G, bin threshold, split?, left G/H, right G/H).

    Each feature's own total is used for its gain (noisy histograms need not sum alike); a node
    that does not split passes its mean total to its left child.
    """
    GL, HL = np.cumsum(G, axis=2)[..., :-1], np.cumsum(H, axis=2)[..., :-1]
    Gt, Ht = G.sum(axis=2)[..., None], H.sum(axis=2)[..., None]
    GR, HR = Gt - GL, Ht - HL
    score = lambda g, h: g * g / (np.maximum(h, 0.0) + p.l2)
    gain = score(GL, HL) + score(GR, HR) - score(Gt, Ht)
    gain = np.where((HL >= p.min_hessian) & (HR >= p.min_hessian), gain, -np.inf)
    n_nodes, f, b = gain.shape
    flat = gain.reshape(n_nodes, -1).argmax(axis=1)
    j, t = np.divmod(flat, b)
    best = gain.reshape(n_nodes, -1)[np.arange(n_nodes), flat]
    split = best > p.min_gain
    k = np.arange(n_nodes)
    mean_g, mean_h = G.sum(axis=2).mean(axis=1), H.sum(axis=2).mean(axis=1)
    left_g = np.where(split, GL[k, j, t], mean_g)
    left_h = np.where(split, HL[k, j, t], mean_h)
    right_g = np.where(split, GR[k, j, t], 0.0)
    right_h = np.where(split, HR[k, j, t], 0.0)
    return j, t, split, left_g, left_h, right_g, right_h


def grow(stats: StatsFn, depth: int, n_bins: int, columns: np.ndarray, p: GrowParams) -> Tree:
    """Grow one tree level by level; `columns` maps G/H's feature axis to column indices of the bins."""
    tree = Tree.empty(depth, n_bins)
    for level in range(depth):
        G, H = stats(tree, level)
        j, t, split, lg, lh, rg, rh = best_splits(G, H, p)
        nodes = np.arange(2 ** level) + 2 ** level - 1
        tree.feature[nodes] = np.where(split, columns[j], 0)
        tree.threshold[nodes] = np.where(split, t, n_bins - 1)
        if level == depth - 1:
            g = np.stack([lg, rg], axis=1).ravel()
            h = np.stack([lh, rh], axis=1).ravel()
            tree.leaf[:] = np.clip(-g / (np.maximum(h, 0.0) + p.l2), -p.max_leaf, p.max_leaf)
    return tree


def logistic_grad(margin: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and hessian of the log-loss in the margin: (p − y, p(1 − p))."""
    prob = 1.0 / (1.0 + np.exp(-margin))
    return prob - y, prob * (1.0 - prob)


def row_log_loss(margin: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-row binary log-loss of margins `margin` (stable form)."""
    return np.logaddexp(0.0, margin) - y * margin


def log_loss(margin: np.ndarray, y: np.ndarray) -> float:
    """Mean binary log-loss of margins `margin` (the mean of `row_log_loss`)."""
    return float(np.mean(row_log_loss(margin, y)))


def softmax_grad(margins: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and diagonal hessian of the multiclass log-loss in the K margins: (p_k − [y = k], p_k(1 − p_k)),
    each (rows, K) (the usual softmax-boosting choice: one tree per class on its own column, docs/method.md §9).

    >>> g, h = softmax_grad(np.zeros((1, 4)), np.array([2]))
    >>> g.tolist(), h.tolist()
    ([[0.25, 0.25, -0.75, 0.25]], [[0.1875, 0.1875, 0.1875, 0.1875]])
    """
    z = margins - margins.max(axis=1, keepdims=True)
    prob = np.exp(z)
    prob /= prob.sum(axis=1, keepdims=True)
    g = prob.copy()
    g[np.arange(len(y)), np.asarray(y, np.int64)] -= 1.0
    return g, prob * (1.0 - prob)


def row_softmax_log_loss(margins: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-row multiclass log-loss −log softmax(margins)[y] (stable form)."""
    top = margins.max(axis=1)
    lse = top + np.log(np.exp(margins - top[:, None]).sum(axis=1))
    return lse - margins[np.arange(len(y)), np.asarray(y, np.int64)]


def add_trees(margin: np.ndarray, trees: list[tuple[Tree, float]], bins: np.ndarray) -> np.ndarray:
    """A copy of `margin` with each (tree, learning rate) of `trees` added, in order, at the binned rows."""
    m = margin.copy()
    for t, lr in trees:
        m += lr * t.predict(bins)
    return m
