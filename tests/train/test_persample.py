"""The vectorised clipped private sum equals a naive per-sample loop (the loop lives only here)."""

import pytest
import torch

from fusiondp.train.methods import METHODS
from fusiondp.train.models import MLP, _WithRepresentation
from fusiondp.train.persample import clipped_grad_sum, consistency, loss_for, per_sample_term


def loop_clipped_sum(model, spec, x, xt, y, clip, beta, ch):
    loss_fn = loss_for(2)
    total = [torch.zeros_like(p) for p in model.parameters()]
    norms = []
    for i in range(x.shape[0]):
        model.zero_grad()
        if spec.private_term == "loss":
            value = loss_fn(model(x[i:i + 1]), y[i:i + 1])
        else:
            value = loss_fn(model(x[i:i + 1]), y[i:i + 1]) - loss_fn(model(xt[i:i + 1]), y[i:i + 1])
            if spec.consistency:
                h, ht = model.representation(x[i:i + 1])[0], model.representation(xt[i:i + 1])[0]
                d = h - ht
                f = min(1.0, ch / float(d.norm()))
                value = value + beta * (d * f).square().sum() / ch**2
        grads = torch.autograd.grad(value, list(model.parameters()))
        norm = torch.sqrt(sum(g.square().sum() for g in grads))
        norms.append(norm)
        scale = min(1.0, clip / float(norm))
        for t, g in zip(total, grads):
            t += scale * g
    return total, torch.stack(norms)


@pytest.mark.parametrize("method", ["dpsgd", "fdp_fm", "fusiondp"])
@pytest.mark.parametrize("clip", [0.05, 1.0, float("inf")])
def test_vectorised_equals_loop(method, clip):
    torch.manual_seed(0)
    model = MLP(7, hidden=(16, 8), dropout=0.0)
    spec = METHODS[method]
    x, xt = torch.randn(12, 7), torch.randn(12, 7)
    y = (torch.rand(12) > 0.5).float()
    wrapper = _WithRepresentation(model)
    params = {k: v.detach() for k, v in wrapper.named_parameters()}
    term = per_sample_term(wrapper, spec, loss_for(2), beta=0.7, ch=0.3)
    fast, norms = clipped_grad_sum(term, params, {}, x, xt, y, clip)
    slow, slow_norms = loop_clipped_sum(model, spec, x, xt, y, clip, 0.7, 0.3)
    torch.testing.assert_close(norms, slow_norms, rtol=1e-4, atol=1e-6)
    for a, b in zip(fast.values(), slow):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    if clip == 0.05:
        assert (norms > clip).all()  # the case actually exercises clipping


def test_empty_batch_gives_zero_sum():
    model = MLP(3, hidden=(4,), dropout=0.0)
    wrapper = _WithRepresentation(model)
    params = {k: v.detach() for k, v in wrapper.named_parameters()}
    term = per_sample_term(wrapper, METHODS["fusiondp"], loss_for(2), beta=0.5, ch=1.0)
    summed, norms = clipped_grad_sum(term, params, {}, torch.zeros(0, 3), torch.zeros(0, 3), torch.zeros(0), 1.0)
    assert norms.numel() == 0 and all(float(v.abs().sum()) == 0 for v in summed.values())


def test_consistency_term_is_bounded_by_one():
    h, ht = torch.zeros(5), torch.full((5,), 10.0)
    assert float(consistency(h, ht, ch=1.0)) == pytest.approx(1.0)
    assert float(consistency(h, h + 0.1, ch=1.0)) == pytest.approx(0.05)


@pytest.mark.parametrize("method", ["dpsgd", "fdp_fm", "fusiondp"])
@pytest.mark.parametrize("clip", [0.05, 1.0, float("inf")])
def test_ghost_clipping_equals_loop(method, clip):
    from fusiondp.train.ghost import clipped_grad_sum_ghost, supports
    from fusiondp.train.persample import batched_objective, row_loss_for

    torch.manual_seed(1)
    model = MLP(7, hidden=(16, 8), dropout=0.0)
    assert supports(model)
    spec = METHODS[method]
    x, xt = torch.randn(12, 7), torch.randn(12, 7)
    y = (torch.rand(12) > 0.5).float()
    k, objective = batched_objective(spec, row_loss_for(2), y, beta=0.7, ch=0.3)
    rows = x if k == 1 else torch.cat([x, xt])
    fast, norms = clipped_grad_sum_ghost(model, objective, rows, k, clip)
    slow, slow_norms = loop_clipped_sum(model, spec, x, xt, y, clip, 0.7, 0.3)
    torch.testing.assert_close(norms, slow_norms, rtol=1e-4, atol=1e-6)
    names = [n for n, _ in model.named_parameters()]
    assert sorted(fast) == sorted(names)
    for name, b in zip(names, slow):
        torch.testing.assert_close(fast[name], b, rtol=1e-4, atol=1e-6)


def test_ghost_refuses_unsupported_layers():
    from fusiondp.train.ghost import supports

    class Conv(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.c = torch.nn.Conv1d(1, 2, 3)

    assert not supports(Conv())
