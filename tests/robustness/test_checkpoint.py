"""Checkpoint contents: no secret generator state, no digest of sensitive values, run identity enforced."""

import pytest
import torch

from fusiondp.errors import CheckpointError
from fusiondp.train import checkpoint
from fusiondp.train.config import TrainConfig
from fusiondp.train.engine import TrainData, train
from fusiondp.train.methods import get_method

CFG = dict(epochs=1, batch_size=32, public_batch_size=64, lr=0.1, delta=1e-4, epsilon=3.0)


def _data(sensitive_shift: float = 0.0) -> TrainData:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 6, generator=g)
    xh = x.clone()
    xh[:, -2:] = torch.randn(256, 2, generator=g)
    x[:, -2:] += sensitive_shift  # only the private (original) sensitive values change
    y = (xh[:, 0] > 0).float()
    return TrainData(x=x, x_hybrid=xh, y=y, x_noise=xh.flip(0), x_reference=xh.roll(1, 0))


@pytest.mark.parametrize("insecure", [None, 3])
def test_secret_generators_are_never_stored(tmp_path, insecure):
    path = tmp_path / "run.ckpt"
    train("fusiondp", _data(), config=TrainConfig(**CFG, insecure_noise_seed=insecure), progress=False,
          checkpoint=path)
    meta, tensors = checkpoint.read(path)
    rng = sorted(k for k in tensors if k.startswith("rng."))
    expected = ["rng.public", "rng.torch"] + (["rng.insecure_noise", "rng.insecure_sampler"] if insecure else [])
    assert rng == sorted(expected)
    assert meta["finished"] and meta["step"] == meta["total_steps"]


def test_identity_ignores_sensitive_values_but_not_public_ones():
    spec, cfg = get_method("fusiondp"), TrainConfig(**CFG)
    base = checkpoint.identify(spec, cfg, _data())
    assert checkpoint.identify(spec, cfg, _data(sensitive_shift=5.0)).data_sha256 == base.data_sha256
    other = _data()
    other.x_hybrid[0, 0] += 1.0
    assert checkpoint.identify(spec, cfg, other).data_sha256 != base.data_sha256


def test_resume_with_other_settings_names_them(tmp_path):
    path = tmp_path / "run.ckpt"
    train("fusiondp", _data(), config=TrainConfig(**CFG), progress=False, checkpoint=path)
    with pytest.raises(CheckpointError, match=r"lr = 0\.2 here but 0\.1"):
        train("fusiondp", _data(), config=TrainConfig(**{**CFG, "lr": 0.2}), progress=False, checkpoint=path)
    # same settings: the finished run is returned as it is, with its history
    again = train("fusiondp", _data(), config=TrainConfig(**CFG), progress=False, checkpoint=path)
    assert [r["epoch"] for r in again.history] == [1]
