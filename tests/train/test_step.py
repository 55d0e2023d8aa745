"""Invariants of the shared step (after Opacus's test_compare_to_vanilla and test_noise_level)."""

import pytest
import torch

from fusiondp.train.methods import METHODS
from fusiondp.train.models import MLP, _WithRepresentation
from fusiondp.train.persample import loss_for, per_sample_term
from fusiondp.train.step import Batch, add_noise, project_, step


def _one_step(method, x, xt, y, *, clip, sigma, alpha, pub_x, pub_y, seed=0, denom=None):
    torch.manual_seed(seed)
    model = MLP(x.shape[1], hidden=(8,), dropout=0.0)
    wrapper = _WithRepresentation(model)
    spec = METHODS[method]
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    term = per_sample_term(wrapper, spec, loss_for(2), beta=0.0, ch=None) if spec.is_private else None
    batch = Batch(pub_x, pub_y, x, xt, y, denom or float(x.shape[0]))
    step(model, wrapper, opt, batch, spec, term=term, loss_fn=loss_for(2), clip=clip, noise_multiplier=sigma,
         alpha=alpha, beta=0.0, radius=float("inf"), generator=torch.Generator().manual_seed(1))
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_fdp_fm_without_clip_or_noise_equals_sgd_on_original_rows():
    torch.manual_seed(3)
    x, xt = torch.randn(16, 5), torch.randn(16, 5)
    y = (torch.rand(16) > 0.5).float()
    # public batch = the private batch's hybrid rows; ∇ℓ(x̃) + ∇[ℓ(x) − ℓ(x̃)] = ∇ℓ(x)
    ours = _one_step("fdp_fm", x, xt, y, clip=float("inf"), sigma=0.0, alpha=1.0, pub_x=xt, pub_y=y)
    vanilla = _one_step("sgd_ori", x[:0], x[:0], y[:0], clip=1.0, sigma=0.0, alpha=0.0, pub_x=x, pub_y=y)
    torch.testing.assert_close(ours, vanilla, rtol=1e-5, atol=1e-6)


def test_noise_level_matches_sigma_times_clip():
    zeros = {"w": torch.zeros(200_000)}
    noisy = add_noise(zeros, 1.3 * 0.7, torch.Generator().manual_seed(0))
    assert float(noisy["w"].std()) == pytest.approx(1.3 * 0.7, rel=0.01)
    assert add_noise(zeros, 0.0, torch.Generator())["w"] is zeros["w"]


def test_projection_onto_ball():
    params = {"a": torch.full((4,), 3.0), "b": torch.full((2,), 4.0)}
    project_(params, 5.0)
    norm = torch.sqrt(sum(p.square().sum() for p in params.values()))
    assert float(norm) == pytest.approx(5.0)
    small = {"a": torch.ones(2)}
    project_(small, 5.0)
    assert torch.equal(small["a"], torch.ones(2))


def test_record_level_normalises_by_expected_batch():
    torch.manual_seed(4)
    x = torch.randn(8, 5)
    y = (torch.rand(8) > 0.5).float()
    a = _one_step("dpsgd", x, x, y, clip=float("inf"), sigma=0.0, alpha=1.0, pub_x=None, pub_y=None, denom=8.0)
    b = _one_step("dpsgd", x, x, y, clip=float("inf"), sigma=0.0, alpha=1.0, pub_x=None, pub_y=None, denom=16.0)
    init = _one_step("sgd_ori", x[:0], x[:0], y[:0], clip=1.0, sigma=0.0, alpha=0.0, pub_x=x[:1], pub_y=y[:1])
    assert not torch.equal(a, b) and not torch.equal(a, init)
