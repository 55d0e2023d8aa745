"""The default learner `auto` (fusiondp.blend.auto): the blend where it can run, the network elsewhere, with the
reason recorded; chosen from public quantities only."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from fusiondp.blend.auto import auto_learner
from fusiondp.blend.learner import BlendModel
from fusiondp.pipeline import run
from fusiondp.train.config import TrainConfig
from tests.tables import make_hybrid, make_table, poison
from tests.trees.test_blend import FAST, SCHEMA, frames

ALL_MET = dict(method="fusiondp", epsilon=2.0, noise_multiplier=None, n_classes=2, support_classes=2,
               custom_model=False, checkpoint=False, nproc=1, device=None)


def test_the_rule_chooses_the_blend_only_when_every_condition_holds():
    assert auto_learner(**ALL_MET).learner == "blend"
    assert auto_learner(**{**ALL_MET, "device": "cpu"}).learner == "blend"
    for change, words in [({"method": "dpsgd"}, "'dpsgd'"), ({"n_classes": 3}, "3 classes"),
                          ({"support_classes": 0}, "no labelled support set"),
                          ({"support_classes": 1}, "no labelled support set"),
                          ({"epsilon": None}, "no target epsilon"),
                          ({"noise_multiplier": 1.0}, "a fixed noise multiplier"),
                          ({"custom_model": True}, "a custom model"), ({"checkpoint": True}, "a checkpoint"),
                          ({"nproc": 2}, "2 processes"), ({"device": "cuda"}, "device 'cuda'")]:
        choice = auto_learner(**{**ALL_MET, **change})
        assert choice.learner == "mlp" and words in choice.why, (change, choice.why)


def test_a_default_run_is_the_blend_and_says_why():
    train, hybrid, support = frames()
    cfg = TrainConfig(epsilon=2.0, accountant="rdp", epochs=1, insecure_noise_seed=5)
    result, _, record = run(train, hybrid, SCHEMA, method="fusiondp", config=cfg, support_df=support,
                            progress=False, tree_settings=FAST, guard=False)
    assert record["learner_choice"]["learner"] == "blend" and record["learner"] == "blend"
    assert isinstance(result.model, BlendModel) and record["epsilon"] <= 2.0 * (1 + 1e-9)
    explicit = run(train, hybrid, SCHEMA, method="fusiondp", config=cfg, support_df=support, progress=False,
                   tree_settings=FAST, guard=False, learner="blend")[2]
    assert "learner_choice" not in explicit and explicit["epsilon"] == record["epsilon"]


@pytest.mark.parametrize("case", ["unlabelled support", "three classes", "noise multiplier"])
def test_the_network_where_the_blend_cannot_run(case):
    train, hybrid, support = frames()
    cfg = dict(epsilon=2.0, epochs=1)
    if case == "unlabelled support":
        support = support.drop(columns="y")
    elif case == "three classes":
        train, hybrid, support = (f.assign(y=np.arange(len(f)) % 3) for f in (train, hybrid, support))
    else:
        cfg = dict(epsilon=None, noise_multiplier=1.0, epochs=1)
    result, _, record = run(train, hybrid, SCHEMA, method="fusiondp", config=TrainConfig(**cfg),
                            support_df=support, progress=False, guard=False)
    assert record["learner_choice"]["learner"] == "mlp" and not isinstance(result.model, BlendModel)
    assert "learner" not in record  # a network run has no learner section


def test_the_choice_reads_no_sensitive_value_and_no_label_under_a_record_level_method():
    """Poisoning the training rows' sensitive values leaves the choice as it was; under `dpsgd` (labels protected)
    the choice and its sentence do not depend on the labels."""
    from fusiondp.pipeline import _auto_learner

    train, _, support = frames()
    cfg = TrainConfig(epsilon=2.0)
    kw = dict(method="fusiondp", cfg=cfg, model=None, checkpoint=None, nproc=1, device=None)
    assert _auto_learner(train, support, SCHEMA, **kw) == _auto_learner(poison(train), support, SCHEMA, **kw)
    kw["method"] = "dpsgd"
    three = train.assign(y=np.arange(len(train)) % 3)
    assert _auto_learner(train, support, SCHEMA, **kw) == _auto_learner(three, support, SCHEMA, **kw)


def test_the_cli_prints_the_choice(tmp_path):
    from fusiondp.cli.app import _load_commands, app

    _load_commands()
    table = make_table(450, seed=2)
    table.iloc[:300].to_csv(tmp_path / "train.csv", index=False)
    make_hybrid(table.iloc[:300]).to_csv(tmp_path / "hybrid.csv", index=False)
    table.iloc[300:].to_csv(tmp_path / "support.csv", index=False)
    args = ["train", "--train", str(tmp_path / "train.csv"), "--hybrid", str(tmp_path / "hybrid.csv"),
            "--public-reference", str(tmp_path / "support.csv"), "--target", "y", "--sensitive", "age,sex,unit",
            "--drop", "id", "--categorical", "ward,unit", "--method", "fusiondp", "--epsilon", "2", "--epochs", "1",
            "--no-progress", "--no-public-baseline"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "learner: blend (--learner auto:" in " ".join(res.output.split())
    res = CliRunner().invoke(app, args + ["--learner", "mlp"])
    assert res.exit_code == 0 and "--learner auto" not in res.output
    res = CliRunner().invoke(app, args + ["--learner", "forest"])
    assert res.exit_code != 0 and "auto, mlp, trees, blend" in " ".join(res.output.split())


def test_under_torchrun_the_default_is_the_network_and_the_blend_is_refused(monkeypatch):
    """Several processes of one torchrun group each running the CLI: `auto` must not start a blend (one CPU
    process learner) in every rank, and an explicit blend or tree run is refused there, as with --nproc."""
    import torch.distributed as tdist

    from fusiondp.errors import ConfigError
    from fusiondp.pipeline import _auto_learner, _refuse_network_options

    train, _, support = frames()
    kw = dict(method="fusiondp", cfg=TrainConfig(epsilon=2.0), model=None, checkpoint=None, nproc=1, device=None)
    assert _auto_learner(train, support, SCHEMA, **kw).learner == "blend"
    monkeypatch.setattr(tdist, "is_initialized", lambda: True)
    monkeypatch.setattr(tdist, "get_world_size", lambda: 2)
    choice = _auto_learner(train, support, SCHEMA, **kw)
    assert choice.learner == "mlp" and "2 processes" in choice.why
    with pytest.raises(ConfigError, match="several processes"):
        _refuse_network_options("blend", checkpoint=None, model=None, nproc=1, device=None)
