"""The released tree ensemble as a torch module, so evaluation and ``predict_proba`` treat it like the MLP.

The module holds only released quantities: public bin edges, split features and thresholds, leaf values
(learning rate applied) and the public base margin. ``forward`` maps encoded rows to one logit per row
(binary targets) or to K logits per row (K ≥ 3 classes: the base is then a (K,) vector and the trees come in
rounds of K, tree t adding to class t mod K; docs/method.md §9, "Multiclass targets").
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from fusiondp.trees.binning import Bins
from fusiondp.trees.booster import Tree


class TreeEnsembleModel(nn.Module):
    """Sum of trees of one common depth (shallower trees padded with always-left nodes)."""

    def __init__(self, bins: Bins, trees: list[tuple[Tree, float]], base: float | np.ndarray) -> None:
        super().__init__()
        k = 1 if np.ndim(base) == 0 else len(base)
        if len(trees) % k:
            raise ValueError(f"a {k}-class ensemble needs whole rounds of {k} trees, got {len(trees)} trees")
        depth = max([t.depth for t, _ in trees], default=1)
        n_int, n_leaf = 2 ** depth - 1, 2 ** depth
        feat = np.zeros((len(trees), n_int), np.int64)
        thr = np.full((len(trees), n_int), bins.max_bins - 1, np.int64)
        leaf = np.zeros((len(trees), n_leaf))
        for k, (t, lr) in enumerate(trees):
            m = 2 ** t.depth - 1
            feat[k, :m], thr[k, :m] = t.feature, t.threshold  # heap order: the first levels coincide
            leaf[k, np.arange(2 ** t.depth) * 2 ** (depth - t.depth)] = lr * t.leaf
        self.depth = depth
        self.register_buffer("edges", torch.from_numpy(np.ascontiguousarray(bins.edges)))
        self.register_buffer("feature", torch.from_numpy(feat))
        self.register_buffer("threshold", torch.from_numpy(thr))
        self.register_buffer("leaf", torch.from_numpy(leaf))
        base = float(base) if k == 1 else np.asarray(base, np.float64)
        self.register_buffer("base", torch.tensor(base, dtype=torch.float64))

    @property
    def n_outputs(self) -> int:
        """Logits per row: 1 (binary) or K (multiclass; trees in rounds of K)."""
        return 1 if self.base.ndim == 0 else int(self.base.shape[0])

    @classmethod
    def empty(cls, *, n_features: int, n_edges: int, n_trees: int, depth: int,
              n_outputs: int = 1) -> "TreeEnsembleModel":
        """An ensemble of the given shape with zero buffers, for ``load_state_dict`` (`fusiondp.io.load`)."""
        model = cls.__new__(cls)
        nn.Module.__init__(model)
        model.depth = int(depth)
        n_int, n_leaf = 2 ** model.depth - 1, 2 ** model.depth
        model.register_buffer("edges", torch.zeros((n_features, n_edges), dtype=torch.float64))
        model.register_buffer("feature", torch.zeros((n_trees, n_int), dtype=torch.int64))
        model.register_buffer("threshold", torch.zeros((n_trees, n_int), dtype=torch.int64))
        model.register_buffer("leaf", torch.zeros((n_trees, n_leaf), dtype=torch.float64))
        model.register_buffer("base", torch.tensor(0.0, dtype=torch.float64) if n_outputs == 1 else
                              torch.zeros(n_outputs, dtype=torch.float64))
        return model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xt = x.to(torch.float64).T.contiguous()
        b = torch.searchsorted(self.edges, xt, right=True)  # (features, rows)
        n_trees = self.feature.shape[0]
        node = torch.zeros((n_trees, x.shape[0]), dtype=torch.int64, device=x.device)
        for _ in range(self.depth):
            f = torch.gather(self.feature, 1, node)
            go = torch.gather(b, 0, f) > torch.gather(self.threshold, 1, node)
            node = 2 * node + 1 + go.long()
        leaf = torch.gather(self.leaf, 1, node - (2 ** self.depth - 1))
        if self.base.ndim == 0:
            return (self.base + leaf.sum(0)).to(torch.float32)
        k = self.base.shape[0]  # rounds of K trees: tree t adds to class t mod K
        return (self.base + leaf.reshape(n_trees // k, k, x.shape[0]).sum(0).T).to(torch.float32)
