"""A text classifier fit for DP training on CPU: public TF-IDF features + a small torch MLP.

Features: :class:`TextFeaturizer` fits a TF-IDF vocabulary and IDF weights (and,
optionally, a truncated SVD) on *public* text only: the hybrid corpus and/or the
support split, never the original training documents (docs/method.md §5: every
preprocessing statistic must be free of private values). Transforming a document
afterwards is a per-row map (counts, fixed IDF, row L2 norm), so the original
document i changes row i only.

Model: :class:`TextClassifier` follows the engine's model contract
(``fusiondp.train.models``): ``representation(x) -> (B, H)``, ``head(h) -> (B, K)``
and ``forward(x) == head(representation(x))``, with dense float inputs of
shape (N, D). There is no embedding table: the first layer is a D x H linear map,
so per-sample gradients cost D*H per row (about 130k parameters at D = 2000,
H = 64).

>>> feat = TextFeaturizer(max_features=50, min_df=1).fit(["angina in a man", "eclampsia in a woman"])
>>> X, Xh = encode_pairs(feat, ["angina in a woman"], ["angina in a man"])
>>> model = TextClassifier(feat.n_features, n_classes=5)
>>> model(X).shape, model.representation(X).shape
(torch.Size([1, 5]), torch.Size([1, 64]))
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from fusiondp._validate import in_open_interval, positive
from fusiondp.errors import ConfigError, DataError

__all__ = ["TextFeaturizer", "encode_pairs", "TextClassifier", "n_parameters"]


class TextFeaturizer:
    """TF-IDF (unigrams by default), optionally reduced by truncated SVD, fitted on public text.

    Args:
        max_features: vocabulary size D (the most frequent terms of the public text).
        min_df: minimum number of public documents a term must appear in.
        ngram_range: word n-gram range.
        svd_components: if set, project onto this many SVD components (fitted on the same public text).
        seed: SVD seed.
    """

    def __init__(self, *, max_features: int = 2000, min_df: int = 2, ngram_range: tuple[int, int] = (1, 1),
                 svd_components: int | None = None, seed: int = 0) -> None:
        self.max_features = max_features
        self.min_df = min_df
        self.ngram_range = ngram_range
        self.svd_components = svd_components
        self.seed = seed

    def fit(self, public_texts: Sequence[str]) -> TextFeaturizer:
        """Fit vocabulary, IDF (and SVD) on public documents only (hybrid corpus, support split)."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        positive(max_features=self.max_features, min_df=self.min_df)
        texts = list(public_texts)
        if len(texts) < self.min_df:
            raise ConfigError(f"fit() got {len(texts)} public documents, fewer than min_df={self.min_df}.")
        self.tfidf_ = TfidfVectorizer(max_features=self.max_features, min_df=self.min_df,
                                      ngram_range=self.ngram_range, sublinear_tf=True, dtype=np.float32)
        X = self.tfidf_.fit_transform(texts)
        self.svd_ = None
        if self.svd_components is not None:
            from sklearn.decomposition import TruncatedSVD

            in_open_interval("svd_components", self.svd_components, 0, X.shape[1])
            self.svd_ = TruncatedSVD(self.svd_components, random_state=self.seed).fit(X)
        return self

    @property
    def n_features(self) -> int:
        """Width D of the feature vectors."""
        if not hasattr(self, "tfidf_"):
            raise ConfigError("This TextFeaturizer is not fitted; call fit(public_texts) first.")
        return self.svd_components if self.svd_ is not None else len(self.tfidf_.vocabulary_)

    def transform(self, texts: Sequence[str]) -> torch.Tensor:
        """Dense float32 features of shape (N, D); row i depends on document i only."""
        _ = self.n_features
        X = self.tfidf_.transform(list(texts))
        dense = self.svd_.transform(X) if self.svd_ is not None else X.toarray()
        return torch.from_numpy(np.ascontiguousarray(dense, dtype=np.float32))


def encode_pairs(featurizer: TextFeaturizer, original: Sequence[str],
                 hybrid: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Aligned feature tensors ``(X, X_hybrid)`` for (original, hybrid) document pairs.

    Raises:
        DataError: the two lists differ in length.
    """
    if len(original) != len(hybrid):
        raise DataError(f"original and hybrid texts must be aligned; got {len(original)} and {len(hybrid)}.")
    return featurizer.transform(original), featurizer.transform(hybrid)


class TextClassifier(nn.Module):
    """Linear -> LayerNorm -> GELU -> Dropout blocks over TF-IDF features, then a linear head.

    Args:
        n_features: input width D.
        n_classes: number of classes K (logits of shape (B, K)).
        hidden: hidden widths; the last one is the representation width H.
        dropout: dropout after each hidden block (the engine's vmap draws it per sample).

    Trained with Adam unless the config says otherwise (``preferred_optimizer``): on Medical Abstracts the
    defaults rule with SGD gave `fusiondp` macro-F1 0.22-0.30, with Adam 0.51-0.52 (docs/results/defaults.md).
    """

    preferred_optimizer = "adam"

    def __init__(self, n_features: int, n_classes: int, hidden: tuple[int, ...] = (64,),
                 dropout: float = 0.1) -> None:
        super().__init__()
        positive(n_features=n_features, n_classes=n_classes)
        if not hidden:
            raise ConfigError("hidden must name at least one layer (the representation).")
        layers: list[nn.Module] = []
        width = n_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.LayerNorm(h), nn.GELU(), nn.Dropout(dropout)]
            width = h
        self.body = nn.Sequential(*layers)
        self.out = nn.Linear(width, n_classes)

    def representation(self, x: torch.Tensor) -> torch.Tensor:
        """The last hidden layer, shape (B, H)."""
        return self.body(x)

    def head(self, h: torch.Tensor) -> torch.Tensor:
        """Logits (B, K) from the representation."""
        return self.out(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.representation(x))


def n_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
