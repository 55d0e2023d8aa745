"""A custom nn.Module through the CLI, the estimator, the pipeline and the engine; contract violations."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.base import clone
from torch import nn
from typer.testing import CliRunner

from fusiondp.data.schema import Schema
from fusiondp.errors import ConfigError, UnsupportedError
from fusiondp.estimator import FusionDPClassifier
from fusiondp.pipeline import run
from fusiondp.train.config import TrainConfig
from fusiondp.train.models import PlainModel, build_model, load_factory
from tables import SENSITIVE, make_hybrid, make_table

DOC = Path(__file__).resolve().parents[2] / "docs" / "custom_models.md"
FAST = TrainConfig(epochs=1, batch_size=32, public_batch_size=64, delta=1e-4, epsilon=4.0, accountant="rdp")

MODEL_FILE = '''
from torch import nn


class Tiny(nn.Module):
    def __init__(self, d, k):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(d, 8), nn.LayerNorm(8), nn.Tanh())
        self.out = nn.Linear(8, k)

    def representation(self, x):
        return self.body(x)

    def head(self, h):
        return self.out(h)

    def forward(self, x):
        return self.head(self.representation(x))


def make(n_features, n_outputs):
    return Tiny(n_features, n_outputs)


def plain(n_features, n_outputs):
    return nn.Sequential(nn.Linear(n_features, 8), nn.ReLU(), nn.Linear(8, n_outputs))
'''


class Tiny(nn.Module):
    def __init__(self, d: int, k: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(d, 8), nn.LayerNorm(8), nn.Tanh())
        self.out = nn.Linear(8, k)

    def representation(self, x):
        return self.body(x)

    def head(self, h):
        return self.out(h)

    def forward(self, x):
        return self.head(self.representation(x))


def tiny(d: int, k: int) -> nn.Module:
    return Tiny(d, k)


@pytest.fixture
def frames():
    t = make_table(240)
    return t.drop(columns="id"), make_hybrid(t).drop(columns="id")


def test_docs_example_runs_as_written(capsys):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert blocks, "docs/custom_models.md lost its example"
    exec(compile(blocks[0], str(DOC), "exec"), {"__name__": "docs_example"})
    out = capsys.readouterr().out
    assert out.startswith("TwoLayer epsilon spent") and float(out.split()[3]) <= 4.0


def test_pipeline_factory(frames):
    train_df, hybrid_df = frames
    seen = []
    result, prepared, rep = run(train_df, hybrid_df, Schema("y", SENSITIVE), method="fusiondp", config=FAST,
                                progress=False, model=lambda d, k: seen.append((d, k)) or Tiny(d, k))
    assert seen == [(prepared.pre.n_features, 1)]  # binary target: one output
    assert isinstance(result.model, Tiny) and rep["epsilon"] <= 4.0 and rep["method"] == "fusiondp"


def test_pipeline_module_instance(frames):
    train_df, hybrid_df = frames
    result0, prepared, _ = run(train_df, hybrid_df, Schema("y", SENSITIVE), method="fdp_fm", config=FAST,
                               progress=False)
    m = Tiny(prepared.pre.n_features, 1)
    before = m.out.weight.detach().clone()
    result, _, _ = run(train_df, hybrid_df, Schema("y", SENSITIVE), method="fusiondp", config=FAST, progress=False,
                       model=m)
    assert result.model is m and not torch.equal(before, m.out.weight)  # trained in place


def test_estimator_factory_module_and_clone():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    kw = dict(sensitive=[0], support_fraction=0.25, imputer="mean", epochs=1, batch_size=32, public_batch_size=64,
              accountant="rdp", epsilon=4.0)
    clf = FusionDPClassifier(model=tiny, **kw).fit(X, y)
    assert isinstance(clf.model_, Tiny) and clf.predict(X[:5]).shape == (5,)
    assert clone(clf).get_params()["model"] is tiny
    given = Tiny(4, 1)
    before = {k: v.clone() for k, v in given.state_dict().items()}
    fitted = FusionDPClassifier(model=given, **kw).fit(X, y)
    assert fitted.model_ is not given and all(torch.equal(before[k], v) for k, v in given.state_dict().items())
    assert clone(fitted).get_params()["model"] is not given  # clone deep-copies the module parameter
    with pytest.raises(ConfigError, match="BatchNorm"):
        FusionDPClassifier(model=lambda d, k: nn.Sequential(nn.Linear(d, 4), nn.BatchNorm1d(4), nn.Linear(4, k)),
                           **kw).fit(X, y)


def test_cli_model_option(tmp_path, monkeypatch):
    from fusiondp.cli.app import _load_commands, app

    _load_commands()
    t = make_table(200)
    t.to_csv(tmp_path / "train.csv", index=False)
    make_hybrid(t).to_csv(tmp_path / "hybrid.csv", index=False)
    (tmp_path / "my_models.py").write_text(MODEL_FILE)
    base = ["train", "--train", str(tmp_path / "train.csv"), "--hybrid", str(tmp_path / "hybrid.csv"), "--target",
            "y", "--sensitive", ",".join(SENSITIVE), "--drop", "id", "--epochs", "1", "--batch-size", "32",
            "--public-batch-size", "64", "--delta", "1e-4", "--no-progress"]
    runner = CliRunner()
    res = runner.invoke(app, [*base, "--model", f"{tmp_path / 'my_models.py'}:make",
                              "--report", str(tmp_path / "r.json")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "r.json").exists()
    monkeypatch.chdir(tmp_path)  # an importable module name, found from the current directory
    res = runner.invoke(app, [*base, "--model", "my_models:plain", "--method", "fdp_fm"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, [*base, "--model", "my_models:plain"])  # fusiondp, beta 0.5: R needs representation
    assert res.exit_code == 1 and "representation" in res.output and "Traceback" not in res.output
    res = runner.invoke(app, [*base, "--model", "my_models:make", "--save-model", str(tmp_path / "m.safetensors")])
    assert res.exit_code == 1 and "--save-model" in res.output and not (tmp_path / "m.safetensors").exists()
    res = runner.invoke(app, [*base, "--model", "my_models:nope"])
    assert res.exit_code == 1 and "no attribute 'nope'" in res.output
    res = runner.invoke(app, [*base, "--model", "no_such_module_xyz:make"])
    assert res.exit_code == 1 and "Cannot import" in res.output


def test_contract_errors():
    with pytest.raises(ConfigError, match="BatchNorm"):
        build_model(lambda d, k: nn.Sequential(nn.Linear(d, 4), nn.BatchNorm1d(4), nn.Linear(4, k)),
                    n_features=3, n_outputs=1, needs_representation=False)
    plain = lambda d, k: nn.Linear(d, k)  # noqa: E731
    with pytest.raises(ConfigError, match="representation"):
        build_model(plain, n_features=3, n_outputs=1, needs_representation=True)
    assert isinstance(build_model(plain, n_features=3, n_outputs=1, needs_representation=False), PlainModel)
    with pytest.raises(ConfigError, match=r"shape \(2, 3\).*needs \(B,\) or \(B, 1\)"):
        build_model(lambda d, k: Tiny(d, 3), n_features=5, n_outputs=1)
    with pytest.raises(ConfigError, match=r"needs \(B, 4\)"):
        build_model(lambda d, k: Tiny(d, 2), n_features=5, n_outputs=4)
    with pytest.raises(ConfigError, match="fails on a batch"):
        build_model(lambda d, k: Tiny(d + 1, k), n_features=5, n_outputs=1)
    with pytest.raises(ConfigError, match="not a torch.nn.Module"):
        build_model(lambda d, k: "model", n_features=5, n_outputs=1)
    with pytest.raises(ConfigError, match="'module:factory'"):
        load_factory("no_colon_here")


def test_engine_plain_model_with_methods_without_r(frames):
    train_df, hybrid_df = frames
    from tables import make_table

    for method in ("dpsgd", "fdp_fm", "sgd_ori"):
        result, prepared, rep = run(train_df, hybrid_df, Schema("y", SENSITIVE), method=method, config=FAST,
                                    progress=False, model=lambda d, k: nn.Sequential(nn.Linear(d, 4), nn.Linear(4, k)),
                                    support_df=make_table(80, seed=5).drop(columns=["id"], errors="ignore"))
        assert isinstance(result.model, PlainModel) and np.isfinite(rep["metrics"].get("val", {}).get("auroc", 0.0))


def test_saving_a_custom_model_is_refused(frames, tmp_path):
    from fusiondp.io import save

    train_df, hybrid_df = frames
    result, prepared, rep = run(train_df, hybrid_df, Schema("y", SENSITIVE), method="fdp_fm", config=FAST,
                                progress=False, model=tiny)
    with pytest.raises(UnsupportedError, match="custom model"):
        save(tmp_path / "m.safetensors", result, prepared, rep)
    assert not (tmp_path / "m.safetensors").exists()


def test_saved_mlp_from_a_factory_records_its_own_width(frames, tmp_path):
    from fusiondp.io import load, save
    from fusiondp.train.models import MLP

    train_df, hybrid_df = frames
    result, prepared, rep = run(train_df, hybrid_df, Schema("y", SENSITIVE), method="fdp_fm", config=FAST,
                                progress=False, model=lambda d, k: MLP(d, (16,), k, 0.0))
    loaded = load(save(tmp_path / "m.safetensors", result, prepared, rep))
    assert loaded.metadata["architecture"]["hidden"] == [16]
    assert np.allclose(loaded.predict_proba(train_df)[:, 1],
                       result.model.eval()(torch.from_numpy(prepared.pre.transform(train_df))).sigmoid()
                       .detach().numpy().ravel(), atol=1e-6)


class AdamTiny(Tiny):
    preferred_optimizer = "adam"


@pytest.mark.parametrize("given, used, source", [(None, "adam", "auto"), ("sgd", "sgd", "user")])
def test_model_states_its_optimizer_and_an_explicit_one_wins(frames, given, used, source):
    """`optimizer=None` takes the model's `preferred_optimizer` (and the rule's lr for it); a given one wins."""
    from dataclasses import replace

    from fusiondp.train.defaults import constants

    train_df, hybrid_df = frames
    cfg = replace(FAST, lr=None, optimizer=given)
    result, _, _ = run(train_df, hybrid_df, Schema("y", SENSITIVE), method="fusiondp", config=cfg, progress=False,
                       model=lambda d, k: AdamTiny(d, k))
    assert result.config.optimizer == used and result.config.config_source["optimizer"] == source
    k = constants()
    assert result.config.lr == (k["adam_lr"]["private"] if used == "adam" else k["private"]["lr"])
    assert result.config.radius == (float("inf") if used == "adam" else 10.0)  # no projection with Adam
    plain_model, _, _ = run(train_df, hybrid_df, Schema("y", SENSITIVE), method="fusiondp",
                            config=replace(FAST, optimizer=None), progress=False, model=tiny)
    assert plain_model.config.optimizer == "sgd"  # a model that states nothing trains with SGD


def test_text_classifier_prefers_adam():
    from fusiondp.text.model import TextClassifier
    from fusiondp.train.models import preferred_optimizer

    assert preferred_optimizer(TextClassifier(20, 3)) == "adam"
    assert preferred_optimizer(build_model(None, n_features=4, n_outputs=1)) == "sgd"


def test_bad_preferred_optimizer_is_a_config_error(frames):
    class Odd(Tiny):
        preferred_optimizer = "rmsprop"

    train_df, hybrid_df = frames
    with pytest.raises(ConfigError, match="preferred_optimizer must be one of sgd, adam"):
        run(train_df, hybrid_df, Schema("y", SENSITIVE), method="fusiondp", config=FAST, progress=False,
            model=lambda d, k: Odd(d, k))
