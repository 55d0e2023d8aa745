"""The open core (fusiondp.train.core): the user's model, optimiser and loop; accountant; one code path."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from fusiondp._seeds import torch_seed
from fusiondp.errors import BudgetError, ConfigError
from fusiondp.train.config import TrainConfig
from fusiondp.train.core import FeatureDPEngine, PrivacyAccountant
from fusiondp.train.engine import train
from fusiondp.train.methods import METHODS
from fusiondp.train.models import MLP
from tables import encoded_views, flat_weights

SETTINGS = dict(epochs=1, batch_size=32, public_batch_size=64, clip=1.0, alpha=0.5, beta=0.5)


def _engine(method="fdp_fm", model=None, optimizer=None, *, seed=0, **kw):
    torch.manual_seed(seed)
    data = encoded_views(256)
    model = model or nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 1))
    optimizer = optimizer or torch.optim.AdamW(model.parameters(), lr=1e-2)
    engine = FeatureDPEngine(method, insecure_noise_seed=7)
    args = dict(SETTINGS, target_epsilon=2.0, delta=1e-4, generator=torch.Generator().manual_seed(1))
    args.update(kw)
    model, opt, batches = engine.make_private(module=model, optimizer=optimizer, data=data, **args)
    return engine, model, opt, batches


def _loop(engine, opt, batches, scheduler=None):
    for batch in batches:
        opt.zero_grad()
        engine.backward(batch)
        opt.step()
        if scheduler is not None:
            scheduler.step()


def test_closed_train_is_the_core_driven_by_a_loop():
    """train() and a hand-written loop over the public core give the same weights (same seeds)."""
    cfg = TrainConfig(**SETTINGS, epsilon=2.0, delta=1e-4, lr=0.1, radius=10.0, seed=3, insecure_noise_seed=5,
                      hidden=(8,), dropout=0.0)
    closed = train("fusiondp", encoded_views(256), config=cfg, progress=False).model

    torch.manual_seed(3)
    model = MLP(6, hidden=(8,), dropout=0.0)
    engine = FeatureDPEngine("fusiondp", insecure_noise_seed=5)
    model, opt, batches = engine.make_private(
        module=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1), data=encoded_views(256),
        target_epsilon=2.0, delta=1e-4, radius=10.0, generator=torch.Generator().manual_seed(torch_seed(3, "public_batches")), **SETTINGS)
    _loop(engine, opt, batches)
    torch.testing.assert_close(flat_weights(model), flat_weights(closed), rtol=0, atol=0)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_is_a_mode(method):
    engine, model, opt, batches = _engine(method, MLP(6, hidden=(8,), dropout=0.0), epochs=0.5)
    before = flat_weights(model).clone()
    _loop(engine, opt, batches)
    assert not torch.equal(before, flat_weights(model))
    spec = METHODS[method]
    if spec.is_private:
        assert 0 < engine.get_epsilon() <= 2.0
        assert engine.accountant.steps == engine.total_steps
        assert engine.accountant.relation == spec.relation("remove")
    else:
        assert engine.accountant is None and engine.get_epsilon() == 0.0


def test_adamw_with_a_scheduler_in_the_users_loop():
    engine, model, opt, batches = _engine()
    scheduler = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 1.0 - t / (len(batches) + 1))
    lr0 = opt.param_groups[0]["lr"]
    _loop(engine, opt, batches, scheduler)
    assert opt.param_groups[0]["lr"] < lr0
    assert opt.original_optimizer.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    assert isinstance(opt.original_optimizer, torch.optim.AdamW) and len(opt.state) > 0


def test_embedding_model_takes_the_vmap_path():
    class Tok(nn.Module):
        def __init__(self):
            super().__init__()
            self.e = nn.Embedding(40, 4)
            self.o = nn.Linear(24, 1)

        def forward(self, t):
            return self.o(self.e(t).flatten(1))

    from fusiondp.train.views import TrainData

    v = encoded_views(256)
    tok = lambda x: (x > 0).long() + 2 * torch.arange(6)  # noqa: E731
    data = TrainData(x=tok(v.x), x_hybrid=tok(v.x_hybrid), y=v.y)
    model = Tok()
    engine = FeatureDPEngine("fdp_fm", insecure_noise_seed=1)
    model, opt, batches = engine.make_private(module=model, optimizer=torch.optim.AdamW(model.parameters()),
                                              data=data, target_epsilon=2.0, delta=1e-4, **SETTINGS)
    assert not engine.uses_ghost
    before = model.e.weight.detach().clone()
    _loop(engine, opt, batches)
    assert not torch.equal(before, model.e.weight) and engine.get_epsilon() <= 2.0


def test_budget_is_enforced_before_the_noise_is_drawn():
    engine, model, opt, batches = _engine()
    _loop(engine, opt, batches)
    for _ in range(100):  # steps past the plan: σ was calibrated to meet ε = 2 at the planned T steps
        extra = engine.batches.draw()
        spent, weights = engine.get_epsilon(), flat_weights(model).clone()
        noise_state = engine.randomness.noise.get_state()
        try:
            engine.backward(extra)
        except BudgetError as e:
            assert "above the budget 2" in str(e)
            break
        opt.step()
        assert engine.get_epsilon() <= 2.0
    else:
        pytest.fail("100 steps past the plan never reached the budget")
    assert torch.equal(weights, flat_weights(model)) and torch.equal(noise_state, engine.randomness.noise.get_state())
    assert engine.get_epsilon() == spent <= 2.0


def test_optimizer_refuses_gradients_that_were_not_noised():
    engine, model, opt, batches = _engine()
    batch = next(iter(batches))
    with pytest.raises(ConfigError, match="without engine.backward"):
        opt.step()
    engine.backward(batch)
    data = encoded_views(256)
    nn.functional.binary_cross_entropy_with_logits(model(data.x).squeeze(-1), data.y).backward()  # private rows!
    with pytest.raises(ConfigError, match="changed after engine.backward"):
        opt.step()
    engine.backward(next(iter(batches)))
    model[0].weight.grad = torch.zeros_like(model[0].weight)  # a replaced gradient
    with pytest.raises(ConfigError, match="changed after engine.backward"):
        opt.step()
    engine.backward(next(iter(batches)))
    opt.step()  # the engine's own gradient
    with pytest.raises(ConfigError, match="representation"):  # fusiondp's R needs the model's hidden layer
        _engine("fusiondp", beta=0.5)
    with pytest.raises(ConfigError, match="not in the module"):
        FeatureDPEngine("fdp_fm").make_private(module=nn.Linear(6, 1),
                                               optimizer=torch.optim.SGD(nn.Linear(6, 1).parameters(), lr=0.1),
                                               data=data, target_epsilon=2.0, delta=1e-4, **SETTINGS)


def test_accountant_state_round_trip_and_mismatch():
    acc = PrivacyAccountant(noise_multiplier=1.1, sample_rate=0.02, delta=1e-5, target_epsilon=3.0)
    acc.step(50)
    again = PrivacyAccountant(noise_multiplier=1.1, sample_rate=0.02, delta=1e-5, target_epsilon=3.0)
    again.load_state_dict(acc.state_dict())
    assert again.steps == 50 and again.get_epsilon() == acc.get_epsilon()
    assert again.get_epsilon(1e-3) < again.get_epsilon()
    other = PrivacyAccountant(noise_multiplier=1.2, sample_rate=0.02, delta=1e-5, target_epsilon=3.0)
    with pytest.raises(ConfigError, match="noise_multiplier"):
        other.load_state_dict(acc.state_dict())


def test_engine_state_resumes_the_accountant():
    engine, model, opt, batches = _engine(epochs=2)
    for _ in range(3):
        opt.zero_grad()
        engine.backward(batches.draw())
        opt.step()
    state = engine.state_dict()
    fresh, *_ = _engine(epochs=2)
    fresh.load_state_dict(state)
    assert fresh.accountant.steps == 3 and fresh.get_epsilon() == engine.get_epsilon()
    assert len(fresh.batches) == fresh.total_steps - 3
    assert "noise" not in str(state.keys()) and "sampler" not in str(state.keys())


def test_public_batches_from_the_users_own_source():
    data = encoded_views(256)
    calls = []

    def public_source():
        calls.append(1)
        idx = torch.randint(0, 256, (64,))
        return data.x_hybrid[idx], data.y[idx]

    engine, model, opt, batches = _engine(public_source=public_source)
    _loop(engine, opt, batches)
    assert len(calls) == engine.total_steps and engine.get_epsilon() <= 2.0
    with pytest.raises(ConfigError, match="public_source"):
        _engine(public_source=public_source, projection_rank=2)
