"""The experimental cheaper dropout (`fusiondp.train.models.Dropout`, not used by the default MLP): torch's law, the public seed's masks."""

import torch

from fusiondp.train.models import MLP, Dropout


def test_mask_law_and_scale():
    torch.manual_seed(0)
    y = Dropout(0.15)(torch.ones(400, 1000))
    kept = y > 0
    # Binomial(400000, 0.85): sd 0.00056, so 0.003 is more than 5 sd.
    assert abs(float(kept.float().mean()) - 0.85) < 0.003
    assert torch.allclose(y[kept], torch.tensor(1 / 0.85), rtol=1e-4)
    # Elements are dropped independently: no correlation between neighbours or rows.
    k = kept.float()
    assert abs(float((k[:, 1:] * k[:, :-1]).mean()) - 0.85 ** 2) < 0.004
    assert abs(float((k[1:] * k[:-1]).mean()) - 0.85 ** 2) < 0.004


def test_masks_follow_torch_seed_and_differ_between_calls():
    d = Dropout(0.5)
    x = torch.ones(64, 32)
    torch.manual_seed(3)
    a, b = d(x), d(x)
    torch.manual_seed(3)
    assert torch.equal(d(x), a) and torch.equal(d(x), b)
    assert not torch.equal(a, b)


def test_eval_and_gradient():
    d = Dropout(0.3)
    x = torch.randn(50, 20, requires_grad=True)
    d.eval()
    assert d(x) is x
    d.train()
    y = d(x)
    y.sum().backward()
    # d y / d x is the mask itself: 0 where dropped, 1/(1-p) where kept.
    assert torch.equal(x.grad != 0, y != 0)
    assert torch.allclose(x.grad[y != 0], torch.tensor(1 / 0.7), rtol=1e-4)


def test_vmap_falls_back_to_torch_dropout():
    from torch.func import vmap

    d = Dropout(0.5)
    out = vmap(d, randomness="different")(torch.ones(8, 16))
    assert out.shape == (8, 16) and set(out.unique().tolist()) <= {0.0, 2.0}


def test_mlp_state_dict_unchanged():
    m = MLP(5)
    assert all(isinstance(layer, torch.nn.Dropout) for layer in m.body if "Dropout" in type(layer).__name__)
    assert set(m.state_dict()) == set(MLP(5).state_dict())
