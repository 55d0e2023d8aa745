"""Training in a torch.distributed group (gloo, CPU, 2 processes) is the single-process mechanism.

Groups are started with `launch(..., start_method="fork")` (a fraction of a second instead of
re-importing torch in each process); the CLI test below uses the default spawn path.
"""

import time

import pytest
import torch

from fusiondp.errors import ConfigError, DistributedError
from fusiondp.train import distributed
from fusiondp.train.config import TrainConfig
from fusiondp.train.engine import train
from fusiondp.train.methods import get_method
from fusiondp.train.models import MLP, _WithRepresentation
from fusiondp.train.sampling import poisson_subset
from fusiondp.train.step import Batch, step
from tables import encoded_views, flat_weights

# Test-only replayable noise and sampling; no dropout (dropout masks are drawn per rank, see docs/scaling.md).
CFG = dict(epochs=3, batch_size=32, public_batch_size=64, lr=0.1, delta=1e-4, epsilon=3.0, insecure_noise_seed=7,
           dropout=0.0)


def _data(n=251, seed=0):
    return encoded_views(n, seed)


def run2(fn, *args, timeout=60.0, **kwargs):
    return distributed.launch(fn, 2, args, kwargs, timeout=timeout, threads=1, start_method="fork")


@pytest.mark.parametrize("method", ["dpsgd", "fdp_fm", "fusiondp"])
def test_two_processes_give_the_single_process_weights(method):
    cfg = TrainConfig(**CFG)
    one = train(method, _data(), config=cfg, progress=False)
    two = run2(train, method, _data(), config=cfg, progress=False)
    assert one.steps == two.steps and one.ch == two.ch
    torch.testing.assert_close(flat_weights(two.model), flat_weights(one.model), atol=1e-6, rtol=0)
    assert two.epsilon == one.epsilon
    assert [r["epsilon"] for r in two.history] == [r["epsilon"] for r in one.history]


def _noise_worker(steps: int, sigma: float, clip: float):
    """Steps whose private batch is empty on every rank: the update is exactly the aggregated noise."""
    d = distributed.context()
    torch.manual_seed(0)
    model = MLP(8, (16,), 1, 0.0)
    wrapper = _WithRepresentation(model)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    secret = distributed.randomness(d, None)  # real secret generators
    gen = distributed.noise_generator(d, secret)
    part = distributed.noise_part(d, sum(p.numel() for p in model.parameters()))  # this rank's slice
    empty = torch.zeros(0, 8)
    batch = Batch(None, None, empty, empty, torch.zeros(0), 1.0)
    draws = []
    for _ in range(steps):
        before = flat_weights(model)
        step(model, wrapper, opt, batch, get_method("dpsgd"), term=None, loss_fn=None, clip=clip,
             noise_multiplier=sigma, alpha=1.0, beta=0.0, radius=float("inf"), generator=gen,
             reduce=d.all_reduce_sum, noise_part=part)
        draws.append(before - flat_weights(model))
    w = flat_weights(model)
    gathered = [torch.empty_like(w) for _ in range(d.world_size)]
    torch.distributed.all_gather(gathered, w)
    return torch.cat(draws), all(torch.equal(g, w) for g in gathered), part


def test_aggregated_noise_has_std_sigma_c_not_scaled_by_the_number_of_ranks():
    """Each rank noises its own slice of the coordinates (issue 26): the sum is one draw per coordinate."""
    sigma, clip = 1.3, 0.7
    noise, same_weights, rank0_part = run2(_noise_worker, 200, sigma, clip)
    assert rank0_part == (0, noise.numel() // 200 // 2) and same_weights
    std = float(noise.std())
    # 200 steps x 193 coordinates: the estimate is within ~1 % of σC; σC√2 and σC/√2 are 41 % / 29 % away.
    assert std == pytest.approx(sigma * clip, rel=0.03), (std, sigma * clip)
    assert abs(float(noise.mean())) < 0.05 * sigma * clip


def _empty_shard_steps(n, batch_size, steps, seed):
    gen = torch.Generator().manual_seed(seed * 2 + 1)  # the insecure sampler's stream
    count = 0
    for _ in range(steps):
        sel = poisson_subset(n, batch_size / n, gen)  # the engine's draw
        lo_rows, hi_rows = int((sel < n // 2).sum()), int((sel >= n // 2).sum())
        count += (lo_rows == 0) != (hi_rows == 0)
    return count


@pytest.mark.parametrize("method", ["dpsgd", "fusiondp"])
def test_ranks_with_empty_private_batches_still_join_and_do_not_hang(method):
    n, b = 64, 1
    # C given: with b = 1 the defaults rule would cap C at its floor (1/64), where rounding differences of the
    # all-reduce grow through the projection (M = 10) to ~4e-4 over 128 steps (benchmarks/distributed_drift.py);
    # this test is about joining, not that.
    cfg = TrainConfig(**{**CFG, "batch_size": b, "public_batch_size": 4, "epochs": 2, "delta": 1e-3,
                         "epsilon": None, "noise_multiplier": 1.0, "clip": 1.0})
    steps = int(cfg.epochs * n / b)
    assert _empty_shard_steps(n, b, steps, cfg.insecure_noise_seed) > 10  # one rank empty, the other not
    one = train(method, _data(n), config=cfg, progress=False)
    t = time.perf_counter()
    two = run2(train, method, _data(n), config=cfg, progress=False, timeout=20.0)
    assert time.perf_counter() - t < 20
    torch.testing.assert_close(flat_weights(two.model), flat_weights(one.model), atol=1e-6, rtol=0)


def _fail_on_rank_1(kind: str):
    d = distributed.context()
    if d.rank == 1:
        if kind == "error":
            raise ValueError("boom on rank 1")
        if kind == "config":
            raise ConfigError("bad setting on rank 1")
        time.sleep(60)  # "hang": alive but never joins the collective
    d.all_reduce_sum({"x": torch.ones(3)})
    return "unreachable"


def test_a_failed_rank_stops_the_job_with_its_error():
    t = time.perf_counter()
    with pytest.raises(DistributedError, match="rank 1 of 2 failed: ValueError: boom on rank 1"):
        run2(_fail_on_rank_1, "error", timeout=60.0)
    assert time.perf_counter() - t < 30  # the peer is stopped, not left waiting for the timeout
    with pytest.raises(ConfigError, match="bad setting on rank 1"):
        run2(_fail_on_rank_1, "config", timeout=60.0)


def test_a_hung_rank_times_out_instead_of_hanging():
    t = time.perf_counter()
    with pytest.raises(DistributedError, match="rank 0 of 2 failed"):
        run2(_fail_on_rank_1, "hang", timeout=2.0)
    assert time.perf_counter() - t < 30


class Stop(Exception):
    pass


def _stop_after_first(row):
    if row["epoch"] == 1:
        raise Stop


@pytest.mark.parametrize("first,second", [(2, 1), (1, 2)])
def test_resume_with_another_number_of_ranks(tmp_path, first, second):
    ckpt = tmp_path / "run.ckpt"
    cfg = TrainConfig(**CFG)
    full = train("fusiondp", _data(), config=cfg, progress=False)

    def go(nproc, **kw):
        if nproc == 1:
            return train("fusiondp", _data(), config=cfg, progress=False, checkpoint=ckpt, **kw)
        return run2(train, "fusiondp", _data(), config=cfg, progress=False, checkpoint=ckpt, **kw)

    with pytest.raises((Stop, DistributedError)):
        go(first, on_epoch=_stop_after_first)
    assert ckpt.exists()
    resumed = go(second)
    assert [r["epoch"] for r in resumed.history] == [1, 2, 3]
    assert resumed.epsilon == full.epsilon
    torch.testing.assert_close(flat_weights(resumed.model), flat_weights(full.model), atol=1e-6, rtol=0)


def test_single_process_helpers_are_no_ops():
    d = distributed.context()
    assert not d.active and d.is_main and distributed.is_main()
    t = {"a": torch.ones(2)}
    assert d.all_reduce_sum(t) is t and d.broadcast_object(5) == 5
    assert torch.equal(d.local(torch.tensor([3, 1]), 10), torch.tensor([3, 1]))


def test_shards_cover_every_row_once():
    n, world = 11, 3
    rows = []
    for r in range(world):
        lo, hi = distributed.Dist(r, world).shard(n)
        rows += list(range(lo, hi))
        idx = torch.arange(n)
        assert torch.equal(distributed.Dist(r, world).local(idx, n) + lo, torch.arange(lo, hi))
    assert rows == list(range(n))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown when CUDA is absent")
def test_cuda_without_a_gpu_is_a_clear_error():
    from fusiondp.errors import BackendUnavailableError

    with pytest.raises(BackendUnavailableError, match="no CUDA device"):
        distributed.resolve_device("cuda")
    with pytest.raises(BackendUnavailableError, match="no CUDA device"):
        train("dpsgd", _data(), config=TrainConfig(**CFG), progress=False, device="cuda")


def test_bad_device_and_nproc_are_refused():
    with pytest.raises(ConfigError, match="'tpu'"):
        distributed.resolve_device("tpu")
    with pytest.raises(ConfigError, match="nproc"):
        distributed.launch(print, 0)


def test_model_is_broadcast_from_rank_zero():
    """Ranks that build different initial models (torchrun, unseeded) still train one model."""
    cfg = TrainConfig(**CFG)
    torch.manual_seed(123)
    model = MLP(6, (8,), 1, 0.0)
    one = train("dpsgd", _data(), config=cfg, model=model, progress=False)
    torch.manual_seed(123)
    two = run2(_train_with_rank_dependent_model, cfg)
    torch.testing.assert_close(flat_weights(two.model), flat_weights(one.model), atol=1e-6, rtol=0)


def _train_with_rank_dependent_model(cfg):
    model = MLP(6, (8,), 1, 0.0)  # rank 0: the parent's seed-123 stream (fork); rank 1: reseeded below
    if distributed.context().rank == 1:
        with torch.no_grad():
            for p in model.parameters():
                p.add_(1.0)
    return train("dpsgd", _data(), config=cfg, model=model, progress=False)


def test_training_flushes_denormals_and_restores_the_mode(monkeypatch):
    from fusiondp.train import numerics

    seen = []
    cfg = TrainConfig(**{**CFG, "epochs": 1, "epsilon": None, "noise_multiplier": 1.0})
    record = lambda row: seen.append(numerics.flush_denormal_enabled())  # noqa: E731
    train("dpsgd", _data(), config=cfg, progress=False, on_epoch=record)
    assert seen == [True] and not numerics.flush_denormal_enabled()
    monkeypatch.setenv(numerics.ENV, "0")
    seen.clear()
    train("dpsgd", _data(), config=cfg, progress=False, on_epoch=record)
    assert seen == [False]
