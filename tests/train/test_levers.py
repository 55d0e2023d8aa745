"""Levers beyond the paper: projection onto a public subspace (projection_rank) and α schedules."""

import math

import pytest
import torch

from tables import SENSITIVE, encoded_views, flat_weights, make_hybrid, make_table, poison
from fusiondp.data.schema import Schema
from fusiondp.errors import CheckpointError, ConfigError
from fusiondp.pipeline import run
from fusiondp.train import core
from fusiondp.train.config import TrainConfig
from fusiondp.train.engine import train
from fusiondp.train.methods import METHODS
from fusiondp.train.models import MLP, _WithRepresentation
from fusiondp.train.persample import loss_for, per_sample_term, row_loss_for
from fusiondp.train.projection import estimate_basis, projected_noised_sum
from fusiondp.train.schedules import SCHEDULES, alpha_at
from fusiondp.train.step import Batch, step
from fusiondp.tune.settings import read_settings, write_settings

SCHEMA = Schema("y", SENSITIVE, drop="id")
SMALL = dict(epochs=2, batch_size=32, public_batch_size=64, lr=0.1)
CFG = dict(epochs=2, batch_size=32, public_batch_size=64, lr=0.1, delta=1e-4, epsilon=3.0)


def _orthonormal(p, k, seed=0):
    q, _ = torch.linalg.qr(torch.randn(p, k, generator=torch.Generator().manual_seed(seed)))
    return q


def _params(sizes=((3, 4), (5,))):
    return {f"p{i}": torch.zeros(s) for i, s in enumerate(sizes)}


def _flat(d):
    return torch.cat([v.flatten() for v in d.values()])


# --- projection: the mechanism ---------------------------------------------------------------------------

def test_noise_lies_in_the_span_of_the_basis_and_has_k_dimensions():
    params = _params()
    p, k = 17, 3
    basis = _orthonormal(p, k)
    grads = {name: torch.zeros((0, *v.shape)) for name, v in params.items()}  # empty batch: pure noise
    draws = torch.stack([_flat(projected_noised_sum(grads, params, basis, 1.0, 2.0,
                                                    torch.Generator().manual_seed(s))[0]) for s in range(2000)])
    assert draws.abs().sum() > 0
    residual = draws - draws @ basis @ basis.T
    assert float(residual.abs().max()) < 1e-5  # nothing outside span(V)
    coords = draws @ basis
    assert float(coords.std(0).mean()) == pytest.approx(2.0, rel=0.05)  # σC per subspace coordinate
    # total noise energy k·(σC)², not P·(σC)²
    assert float(draws.square().sum(1).mean()) == pytest.approx(k * 4.0, rel=0.08)


def test_clip_bound_holds_in_the_subspace():
    params = _params()
    basis = _orthonormal(17, 5)
    g = torch.Generator().manual_seed(3)
    u = 50 * torch.randn(8, 17, generator=g)
    grads = {"p0": u[:, :12].reshape(8, 3, 4), "p1": u[:, 12:]}
    out, norms = projected_noised_sum(grads, params, basis, 0.7, 0.0, None)
    assert torch.allclose(norms, (u @ basis).norm(dim=1), rtol=1e-5) and (norms > 0.7).all()
    # sensitivity: replacing one record's gradient by anything moves the sum by at most 2C, removing it by C
    other = {"p0": grads["p0"].clone(), "p1": grads["p1"].clone()}
    other["p0"][0] = -1e6
    other["p1"][0] = 1e6
    moved, _ = projected_noised_sum(other, params, basis, 0.7, 0.0, None)
    assert float((_flat(moved) - _flat(out)).norm()) <= 2 * 0.7 + 1e-4
    zeroed = {k: v.clone() for k, v in grads.items()}
    for v in zeroed.values():
        v[0] = 0
    less, _ = projected_noised_sum(zeroed, params, basis, 0.7, 0.0, None)
    assert float((_flat(less) - _flat(out)).norm()) == pytest.approx(0.7, rel=1e-4)


def _step(method, basis, *, clip, sigma, ghost, seed=0):
    torch.manual_seed(seed)
    model = MLP(5, hidden=(8,), dropout=0.0)
    wrapper = _WithRepresentation(model)
    spec = METHODS[method]
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    term = per_sample_term(wrapper, spec, loss_for(2), beta=0.0, ch=None)
    g = torch.Generator().manual_seed(5)
    x, xt, px = (torch.randn(12, 5, generator=g) for _ in range(3))
    y = (torch.rand(12, generator=g) > 0.5).float()
    batch = Batch(px, y, x, xt, y, 12.0)
    step(model, wrapper, opt, batch, spec, term=term, loss_fn=loss_for(2), clip=clip, noise_multiplier=sigma,
         alpha=0.5, beta=0.0, radius=float("inf"), generator=torch.Generator().manual_seed(1),
         row_loss=row_loss_for(2) if ghost else None, basis=basis)
    return flat_weights(model)


@pytest.mark.parametrize("ghost", [True, False])
@pytest.mark.parametrize("clip", [0.05, float("inf")])
def test_full_rank_orthonormal_basis_equals_the_unprojected_step(ghost, clip):
    p = sum(v.numel() for v in MLP(5, hidden=(8,), dropout=0.0).parameters())
    full = _orthonormal(p, p, seed=2)
    torch.testing.assert_close(_step("fdp_fm", full, clip=clip, sigma=0.0, ghost=ghost),
                               _step("fdp_fm", None, clip=clip, sigma=0.0, ghost=ghost), rtol=1e-4, atol=1e-6)
    # and a rank-2 basis is a different step (the test can fail)
    assert not torch.allclose(_step("fdp_fm", full[:, :2], clip=clip, sigma=0.0, ghost=ghost),
                              _step("fdp_fm", None, clip=clip, sigma=0.0, ghost=ghost))


def test_estimated_basis_is_orthonormal_and_spans_the_top_directions():
    g = torch.Generator().manual_seed(0)
    top = _orthonormal(40, 3, seed=1)
    rows = torch.randn(30, 3, generator=g) * torch.tensor([10.0, 5.0, 3.0]) @ top.T
    rows = rows + 0.01 * torch.randn(30, 40, generator=g)
    v = estimate_basis(rows, 3)
    assert v.shape == (40, 3)
    torch.testing.assert_close(v.T @ v, torch.eye(3), atol=1e-5, rtol=0)
    assert float((top - v @ (v.T @ top)).norm()) < 0.05  # the same subspace
    assert estimate_basis(rows, 100).shape[1] <= 30  # never more than the rows


# --- projection: in training ------------------------------------------------------------------------------

def test_basis_reads_public_rows_only(monkeypatch):
    """Poisoned sensitive values leave every estimated basis identical (α = 0 and no noise keep the weights
    equal, so the bases are computed at the same weights); another hybrid table does change them."""
    seen: list[list[torch.Tensor]] = []

    def record(grads, rank):
        v = real(grads, rank)
        seen[-1].append(v)
        return v

    real = core.estimate_basis
    monkeypatch.setattr(core, "estimate_basis", record)
    table = make_table()
    cfg = TrainConfig(**SMALL, alpha=0.0, noise_multiplier=0.0, epsilon=None, projection_rank=4)
    for frame, hybrid in ((table, make_hybrid(table)), (poison(table), make_hybrid(table)),
                          (table, make_hybrid(table, seed=7))):
        seen.append([])
        run(frame, hybrid, SCHEMA, method="fusiondp", config=cfg, progress=False)
    assert len(seen[0]) >= 2
    for a, b in zip(seen[0], seen[1]):
        assert torch.equal(a, b)
    assert not torch.equal(seen[0][0], seen[2][0])


def test_projection_changes_training_and_keeps_the_budget():
    base = train("fusiondp", encoded_views(), config=TrainConfig(**CFG, insecure_noise_seed=0), progress=False)
    proj = train("fusiondp", encoded_views(), config=TrainConfig(**CFG, insecure_noise_seed=0, projection_rank=4),
                 progress=False)
    assert proj.epsilon == pytest.approx(base.epsilon) and proj.plan.noise_multiplier == base.plan.noise_multiplier
    assert not torch.equal(flat_weights(base.model), flat_weights(proj.model))


def test_projected_noise_does_not_follow_the_seed():
    cfg = TrainConfig(**CFG, projection_rank=4, seed=3)
    a = train("fusiondp", encoded_views(), config=cfg, progress=False)
    b = train("fusiondp", encoded_views(), config=cfg, progress=False)
    assert a.secure_randomness and not torch.equal(flat_weights(a.model), flat_weights(b.model))  # same --seed, fresh OS noise
    replay = TrainConfig(**CFG, projection_rank=4, seed=3, insecure_noise_seed=11)
    c = train("fusiondp", encoded_views(), config=replay, progress=False)
    d = train("fusiondp", encoded_views(), config=replay, progress=False)
    assert torch.equal(flat_weights(c.model), flat_weights(d.model))  # only the noise generator differed above


def test_projection_is_refused_where_it_cannot_apply():
    with pytest.raises(ConfigError, match="projection_rank"):
        train("dpsgd", encoded_views(), config=TrainConfig(**CFG, projection_rank=4), progress=False)
    data = encoded_views()
    data.x_reference = None
    with pytest.raises(ConfigError, match="reference"):
        train("fdp_fm", data, config=TrainConfig(**CFG, projection_rank=4), progress=False)
    with pytest.raises(ConfigError, match="projection_rank"):
        TrainConfig(projection_rank=0).validate()
    # non-private methods have no private term: the option is ignored (the public-baseline check reuses configs)
    cfg = dict(CFG, epsilon=None)
    a = train("sgd_hybrid", encoded_views(), config=TrainConfig(**cfg, projection_rank=4), progress=False)
    b = train("sgd_hybrid", encoded_views(), config=TrainConfig(**cfg), progress=False)
    assert torch.equal(flat_weights(a.model), flat_weights(b.model))


# --- α schedules ------------------------------------------------------------------------------------------

def test_schedule_values_and_endpoints():
    t = 100
    assert [alpha_at("constant", 0.3, s, t) for s in (0, 50, 99)] == [0.3, 0.3, 0.3]
    lin = [alpha_at("linear_up", 0.3, s, t) for s in range(t)]
    cos = [alpha_at("cosine_up", 0.3, s, t) for s in range(t)]
    for values in (lin, cos):
        assert values[-1] == pytest.approx(0.3) and values == sorted(values) and values[0] < 0.01
    assert lin[0] == pytest.approx(0.003) and lin[49] == pytest.approx(0.15)
    assert cos[49] == pytest.approx(0.15) and cos[9] < lin[9]  # cosine starts slower
    assert cos[0] == pytest.approx(0.3 * (1 - math.cos(math.pi / t)) / 2)
    with pytest.raises(ConfigError):
        alpha_at("nope", 1.0, 0, 1)
    with pytest.raises(ConfigError, match="alpha_schedule"):
        TrainConfig(alpha_schedule="nope").validate()
    assert set(SCHEDULES) == {"constant", "linear_up", "cosine_up"}


def test_engine_applies_the_schedule_to_alpha(monkeypatch):
    alphas = []
    real = core.noised_gradient

    def spy(*args, **kw):
        alphas.append(kw["alpha"])
        return real(*args, **kw)

    monkeypatch.setattr(core, "noised_gradient", spy)
    res = train("fusiondp", encoded_views(), config=TrainConfig(**CFG, alpha=0.4, alpha_schedule="linear_up"),
                progress=False)
    assert len(alphas) == res.steps
    assert alphas[-1] == pytest.approx(0.4) and alphas[0] == pytest.approx(0.4 / res.steps)
    assert alphas == sorted(alphas)


def test_schedule_is_refused_for_methods_not_weighted_by_alpha():
    for method in ("dpsgd", "naive_fusion"):
        with pytest.raises(ConfigError, match="alpha_schedule"):
            train(method, encoded_views(), config=TrainConfig(**CFG, alpha_schedule="linear_up"), progress=False)


# --- recorded like every other setting --------------------------------------------------------------------

def test_levers_round_trip_through_settings_files_and_reports(tmp_path):
    path = write_settings(tmp_path / "s.json", "fusiondp", {"projection_rank": 32, "alpha_schedule": "cosine_up"})
    assert read_settings(path)["settings"] == {"projection_rank": 32, "alpha_schedule": "cosine_up"}
    d = TrainConfig(projection_rank=32, alpha_schedule="cosine_up").to_dict()
    assert d["projection_rank"] == 32 and d["alpha_schedule"] == "cosine_up"


class Stop(Exception):
    pass


@pytest.mark.parametrize("change", [dict(projection_rank=8), dict(alpha_schedule="cosine_up")])
def test_resume_with_another_lever_is_refused(tmp_path, change):
    ckpt = tmp_path / "run.ckpt"
    first = dict(CFG, projection_rank=4, alpha_schedule="linear_up")
    with pytest.raises(Stop):
        train("fusiondp", encoded_views(), config=TrainConfig(**first), progress=False, checkpoint=ckpt,
              on_epoch=lambda row: (_ for _ in ()).throw(Stop()))
    name = next(iter(change))
    with pytest.raises(CheckpointError, match=name):
        train("fusiondp", encoded_views(), config=TrainConfig(**{**first, **change}), progress=False, checkpoint=ckpt)
    resumed = train("fusiondp", encoded_views(), config=TrainConfig(**first), progress=False, checkpoint=ckpt)
    assert [r["epoch"] for r in resumed.history] == [1, 2]


@pytest.mark.parametrize("method", ["fdp", "naive_fusion"])
def test_projection_runs_for_other_views_and_terms(method):
    """fdp pairs x with the noise view, naive_fusion has a plain loss term (its basis reads reference rows only)."""
    res = train(method, encoded_views(), config=TrainConfig(**CFG, projection_rank=4, insecure_noise_seed=0), progress=False)
    base = train(method, encoded_views(), config=TrainConfig(**CFG, insecure_noise_seed=0), progress=False)
    assert res.epsilon == pytest.approx(base.epsilon)
    assert not torch.equal(flat_weights(res.model), flat_weights(base.model))
