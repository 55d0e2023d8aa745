"""TF-IDF featuriser (public-only statistics) and the contract of the text classifier."""

from __future__ import annotations

import pytest
import torch
from torch.func import functional_call, grad, vmap

from fusiondp.errors import ConfigError, DataError
from fusiondp.text.model import TextClassifier, TextFeaturizer, encode_pairs, n_parameters

PUBLIC = ["angina in a man with coronary disease", "eclampsia in a woman during pregnancy",
          "a child with asthma", "a man with asthma and angina"]


def test_vocabulary_comes_from_public_text_only():
    feat = TextFeaturizer(min_df=1).fit(PUBLIC)
    X, Xh = encode_pairs(feat, ["angina in a zebrafishologist"], ["angina in a man"])
    assert "zebrafishologist" not in feat.tfidf_.vocabulary_
    assert X.shape == Xh.shape == (1, feat.n_features) and X.dtype == torch.float32


def test_rows_are_independent():
    feat = TextFeaturizer(min_df=1).fit(PUBLIC)
    a = feat.transform(["angina in a man", "asthma in a child"])
    b = feat.transform(["angina in a woman", "asthma in a child"])
    assert torch.equal(a[1], b[1]) and not torch.equal(a[0], b[0])


def test_svd_option_and_errors():
    feat = TextFeaturizer(min_df=1, svd_components=3).fit(PUBLIC)
    assert feat.transform(PUBLIC).shape == (4, 3)
    with pytest.raises(ConfigError, match="not fitted"):
        TextFeaturizer().transform(["x"])
    with pytest.raises(DataError, match="aligned"):
        encode_pairs(feat, ["a", "b"], ["a"])


def test_model_contract_and_size():
    torch.manual_seed(0)
    model = TextClassifier(2000, n_classes=5).eval()
    x = torch.randn(7, 2000)
    h = model.representation(x)
    assert h.shape == (7, 64) and model(x).shape == (7, 5)
    assert torch.allclose(model(x), model.head(h))
    assert n_parameters(model) < 200_000
    with pytest.raises(ConfigError):
        TextClassifier(10, 5, hidden=())


def test_per_sample_gradients_by_vmap_match_a_loop():
    torch.manual_seed(0)
    model = TextClassifier(30, n_classes=3, dropout=0.0)
    params = {k: v.detach() for k, v in model.named_parameters()}
    x, y = torch.randn(5, 30), torch.tensor([0, 1, 2, 1, 0])

    def loss(p, xi, yi):
        logits = functional_call(model, p, (xi[None],))
        return torch.nn.functional.cross_entropy(logits, yi[None])

    g = vmap(grad(loss), in_dims=(None, 0, 0), randomness="different")(params, x, y)
    for i in range(5):
        model.zero_grad()
        torch.nn.functional.cross_entropy(model(x[i:i + 1]), y[i:i + 1]).backward()
        for k, p in model.named_parameters():
            assert torch.allclose(g[k][i], p.grad, atol=1e-6)
