"""Engine behaviour: budget, per-epoch ε, checkpoint/resume with the accountant's state."""

import pytest
import torch

from fusiondp.errors import CheckpointError, ConfigError
from fusiondp.train.config import TrainConfig
from fusiondp.train.engine import train
from tables import encoded_views, flat_weights

CFG = dict(epochs=3, batch_size=32, public_batch_size=64, lr=0.1, delta=1e-4, epsilon=3.0)


def test_epsilon_reported_per_epoch_and_within_budget():
    res = train("fusiondp", encoded_views(), config=TrainConfig(**CFG), progress=False)
    eps = [row["epsilon"] for row in res.history]
    assert len(eps) == 3 and eps == sorted(eps) and eps[0] > 0
    assert res.epsilon <= 3.0 and eps[-1] <= 3.0 * 1.01  # per-epoch values use a slightly coarser grid


class Stop(Exception):
    pass


def test_resume_continues_the_accountant_and_reproduces_the_run(tmp_path):
    """In the test-only replayable mode a resumed run equals the uninterrupted one."""
    ckpt = tmp_path / "run.ckpt"
    cfg = dict(CFG, insecure_noise_seed=0)
    full = train("fusiondp", encoded_views(), config=TrainConfig(**cfg), progress=False)

    def stop_after_first(row):
        if row["epoch"] == 1:
            raise Stop

    with pytest.raises(Stop):
        train("fusiondp", encoded_views(), config=TrainConfig(**cfg), progress=False, checkpoint=ckpt,
              on_epoch=stop_after_first)
    assert ckpt.exists()
    resumed = train("fusiondp", encoded_views(), config=TrainConfig(**cfg), progress=False, checkpoint=ckpt)
    assert [r["epoch"] for r in resumed.history] == [1, 2, 3]
    assert resumed.history[-1]["epsilon"] == pytest.approx(full.history[-1]["epsilon"])
    torch.testing.assert_close(flat_weights(resumed.model), flat_weights(full.model))


def test_resume_under_another_budget_is_refused(tmp_path):
    ckpt = tmp_path / "run.ckpt"
    with pytest.raises(Stop):
        train("fusiondp", encoded_views(), config=TrainConfig(**CFG), progress=False, checkpoint=ckpt,
              on_epoch=lambda row: (_ for _ in ()).throw(Stop()))
    with pytest.raises(CheckpointError, match="epsilon = 8.0 here but 3.0"):
        train("fusiondp", encoded_views(), config=TrainConfig(**{**CFG, "epsilon": 8.0}), progress=False, checkpoint=ckpt)


def test_method_needing_a_missing_view_is_refused():
    d = encoded_views()
    d.x_noise = None
    with pytest.raises(ConfigError, match="noise"):
        train("fdp", d, config=TrainConfig(**CFG), progress=False)


def test_batchnorm_model_is_refused():
    class BN(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bn = torch.nn.BatchNorm1d(6)
            self.lin = torch.nn.Linear(6, 1)

        def representation(self, x):
            return self.bn(x)

        def head(self, h):
            return self.lin(h)

        def forward(self, x):
            return self.head(self.representation(x))

    with pytest.raises(ConfigError, match="BatchNorm"):
        train("dpsgd", encoded_views(), config=TrainConfig(**CFG), model=BN(), progress=False)


def test_custom_model_through_vmap_path_matches_contract():
    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(6, 4))  # a bare parameter: ghost clipping does not apply
            self.out = torch.nn.Linear(4, 1)

        def representation(self, x):
            return torch.tanh(x @ self.w)

        def head(self, h):
            return self.out(h)

        def forward(self, x):
            return self.head(self.representation(x))

    res = train("fusiondp", encoded_views(), config=TrainConfig(**CFG), model=Tiny(), progress=False)
    assert res.epsilon <= 3.0


def test_ghost_and_vmap_paths_train_identically():
    a = train("fusiondp", encoded_views(), config=TrainConfig(**CFG, per_sample="ghost", dropout=0.0, insecure_noise_seed=0), progress=False)
    b = train("fusiondp", encoded_views(), config=TrainConfig(**CFG, per_sample="vmap", dropout=0.0, insecure_noise_seed=0), progress=False)
    torch.testing.assert_close(flat_weights(a.model), flat_weights(b.model), rtol=1e-4, atol=1e-5)
