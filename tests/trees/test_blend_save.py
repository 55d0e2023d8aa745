"""Saving the blend (and the tree learner) as a model file: save → load → predict equality (Python and CLI),
the file's privacy record is the run's composed statement, nothing secret is stored, bad files are refused."""

from __future__ import annotations

import copy
import dataclasses
import json
import secrets

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

import fusiondp.io as fio
from fusiondp._sealed import pack, unpack
from fusiondp.blend import BlendModel
from fusiondp.cli.app import _load_commands, app
from fusiondp.errors import ModelFileError
from fusiondp.evaluate.metrics import predict_scores
from fusiondp.train.config import TrainConfig
from tests.tables import SENSITIVE, make_hybrid, make_table
from tests.trees.test_blend import FAST, SCHEMA, fit, frames

_load_commands()
runner = CliRunner()


@pytest.fixture(scope="module")
def blend_run():
    return fit(*frames())


@pytest.fixture(scope="module")
def saved(blend_run, tmp_path_factory):
    return fio.save(tmp_path_factory.mktemp("blend") / "blend.safetensors", *blend_run)


def _expected(run_, frame: pd.DataFrame) -> np.ndarray:
    result, prepared, _ = run_
    return predict_scores(result.model, torch.from_numpy(prepared.pre.transform(frame, public_rows=True)))


def test_python_roundtrip_gives_identical_predictions(blend_run, saved):
    frame = make_table(60, seed=7)
    m = fio.load(saved)
    assert isinstance(m.model, BlendModel)
    np.testing.assert_array_equal(m.predict_proba(frame)[:, 1], _expected(blend_run, frame))
    assert set(m.predict(frame)) <= {0, 1}
    # both parts and the weight came back, not only their sum
    x = torch.from_numpy(blend_run[1].pre.transform(frame, public_rows=True))
    with torch.no_grad():
        for part in ("trees", "network"):
            assert torch.equal(getattr(m.model, part)(x), getattr(blend_run[0].model, part).eval()(x)), part
    assert float(m.model.weight) == float(blend_run[0].model.weight)


def test_saved_privacy_record_is_the_composed_statement(blend_run, saved):
    result, _, record = blend_run
    p = fio.load(saved).privacy
    assert p["method"] == "fusiondp_blend" and p["learner"] == "blend"
    assert p["epsilon"] == result.epsilon == record["epsilon"] and p["epsilon"] <= 2.0
    assert p["relation"] == "remove" and p["delta"] == 1e-5 and "RDP" in p["accountant"]
    by = p["epsilon_by_relation"]
    assert set(by) == {"remove", "replace"} and by["replace"]["epsilon"] == record["epsilon_by_relation"]["replace"]["epsilon"]
    assert by["replace"]["accountant"] == "pld" and by["replace"]["epsilon"] > p["epsilon"]
    assert p["dp_event"] == record["dp_event"] and p["dp_event"]["class_name"] == "ComposedDpEvent"
    b, section = p["blend"], record["blend"]
    for k in ("tree_sigma", "network_sigma", "scale", "tree_share", "tree_releases", "network_steps",
              "network_sample_rate", "weight"):
        assert b[k] == section[k], k
    assert b["tree_sigma"] == pytest.approx(b["scale"] * b["tree_alone_sigma"])
    meta = fio.read_metadata(saved)
    assert meta["architecture"]["type"] == "Blend"
    assert meta["architecture"]["parts"]["trees"]["type"] == "TreeEnsemble"
    assert meta["architecture"]["parts"]["network"]["type"] == "MLP"


def test_blend_with_an_mlp_part_roundtrips(blend_run, tmp_path):
    """The trees' release guard may release the network's free baseline as the 'trees' part: an MLP there."""
    result, prepared, record = blend_run
    net = result.model.network
    swapped = dataclasses.replace(result, model=BlendModel(copy.deepcopy(net), net, float(result.model.weight)))
    m = fio.load(fio.save(tmp_path / "m.safetensors", swapped, prepared, record))
    assert m.metadata["architecture"]["parts"]["trees"]["type"] == "MLP"
    frame = make_table(40, seed=8)
    np.testing.assert_array_equal(m.predict_proba(frame)[:, 1],
                                  _expected((swapped, prepared, record), frame))


def _train_cli_args(d, learner: str, *extra: str) -> list[str]:
    return ["train", "--train", str(d / "train.csv"), "--hybrid", str(d / "hybrid.csv"), "--public-reference",
            str(d / "support.csv"), "--target", "y", "--sensitive", ",".join(SENSITIVE), "--drop", "id",
            "--categorical", "ward,unit", "--test", str(d / "test.csv"), "--learner", learner, "--accountant",
            "rdp", "--epsilon", "2", "--no-progress", "--no-public-baseline", "--report", str(d / "run.json"),
            *extra]


@pytest.fixture
def files(tmp_path):
    t = make_table(300)
    t.iloc[:220].to_csv(tmp_path / "train.csv", index=False)
    t.iloc[220:].to_csv(tmp_path / "support.csv", index=False)
    make_hybrid(t.iloc[:220]).to_csv(tmp_path / "hybrid.csv", index=False)
    make_table(80, seed=5).to_csv(tmp_path / "test.csv", index=False)
    make_table(80, seed=5).drop(columns=["y"]).to_csv(tmp_path / "score.csv", index=False)
    return tmp_path


@pytest.mark.parametrize("learner", ["blend", "trees"])
def test_cli_save_then_predict_equals_the_trained_model(files, learner, monkeypatch):
    """`train --save-model` then `predict --model`: the CSV's probabilities are the in-memory model's."""
    import fusiondp.pipeline as pipeline

    trained = []
    real = pipeline.run
    monkeypatch.setattr(pipeline, "run", lambda *a, **k: trained.append(real(*a, **k)) or trained[-1])
    model = files / "m.safetensors"
    extra = ("--epochs", "1") if learner == "blend" else ()
    res = runner.invoke(app, _train_cli_args(files, learner, *extra, "--save-model", str(model)))
    assert res.exit_code == 0, res.output
    assert f"model: {model}" in res.output and len(trained) == 1
    res = runner.invoke(app, ["predict", "--model", str(model), "--data", str(files / "score.csv"), "--out",
                              str(files / "p.csv")])
    assert res.exit_code == 0, res.output
    pred = pd.read_csv(files / "p.csv")
    expected = _expected(trained[0], pd.read_csv(files / "score.csv"))
    np.testing.assert_allclose(pred["proba_1"].to_numpy(), expected, rtol=1e-6, atol=1e-7)
    assert list(pred.columns) == ["id", "prediction", "proba_0", "proba_1"]
    rep = json.loads((files / "run.json").read_text())
    p = fio.load(model).privacy
    assert p["epsilon"] == rep["epsilon"] and p["epsilon_by_relation"].keys() == rep["epsilon_by_relation"].keys()
    assert p["method"] == rep["method"] == {"blend": "fusiondp_blend", "trees": "fusiondp_trees"}[learner]
    assert f"ε = {p['epsilon']:.4g}" in res.output


def test_cli_blend_checkpoint_is_refused_with_the_reason(files):
    res = runner.invoke(app, _train_cli_args(files, "blend", "--checkpoint", str(files / "run.ckpt"),
                                             "--save-model", str(files / "m.safetensors")))
    assert res.exit_code != 0 and "--checkpoint" in res.output and "not resumed" in res.output
    assert "no resumable state" in res.output and "Traceback" not in res.output
    assert not any((files / n).exists() for n in ("run.ckpt", "m.safetensors", "run.json"))


def test_saved_blend_holds_no_training_sensitive_value_and_no_secret_generator_state(tmp_path, monkeypatch):
    """Every secret seed drawn (OS-seeded mode, both parts) and every training record's sensitive value (raw
    and encoded, float64/float32 bytes and decimal text) are searched for in the model file's bytes; the
    same search finds what the file does hold (a weight's bytes, a preprocessing mean), so it can fail."""
    from fusiondp.pipeline import run

    drawn: list[int] = []
    real = secrets.randbits
    monkeypatch.setattr(secrets, "randbits", lambda k: drawn.append(v := real(k)) or v)
    train, hybrid, support = frames()
    cfg = TrainConfig(epsilon=2.0, accountant="rdp", epochs=1, secure_rng=False)
    result, prepared, record = run(train, hybrid, SCHEMA, method="fusiondp", config=cfg, support_df=support,
                                   progress=False, learner="blend", tree_settings=FAST, guard=False)
    blob = fio.save(tmp_path / "m.safetensors", result, prepared, record).read_bytes()
    assert len(drawn) >= 2  # the network's and the trees' generators were seeded from OS entropy
    for v in drawn:
        assert str(v).encode() not in blob and v.to_bytes(8, "little") not in blob
    meta, tensors = unpack(blob, key="fusiondp")
    assert not [k for k in tensors if any(w in k for w in ("rng", "generator", "noise", "sampler", "seed"))]
    encoded = prepared.pre.transform(train, public_rows=True)
    ages = train["age"].to_numpy(np.float64)
    needles = {repr(float(a)).encode() for a in ages} | {a.tobytes() for a in ages} | \
              {np.float32(a).tobytes() for a in ages}
    age_col = _encoded_column(prepared, train, "age")
    needles |= {np.float32(v).tobytes() for v in encoded[:, age_col]} | {np.float64(v).tobytes()
                                                                         for v in encoded[:, age_col]}
    assert not [n for n in needles if n in blob]
    # the search sees what is there: a network weight's bytes and a preprocessing statistic's text
    w = next(v for k, v in sorted(tensors.items()) if k.startswith("network.") and v.ndim == 2).reshape(-1)[0]
    assert w.numpy().tobytes() in blob and repr(meta["preprocessor"]["mean"]["hr"]).encode() in blob


def _encoded_column(prepared, frame: pd.DataFrame, column: str) -> int:
    """The encoded column that moves when only `column` changes (found by changing it: no layout assumed)."""
    a = prepared.pre.transform(frame, public_rows=True)
    b = prepared.pre.transform(frame.assign(**{column: frame[column] + 7.0}), public_rows=True)
    moved = np.flatnonzero((a != b).any(0))
    assert len(moved) >= 1
    return int(moved[0])


def _resealed(path, tmp_path, edit):
    """A copy of the model file with `edit(meta, tensors)` applied and its digest recomputed (an edit the
    digest cannot see: the schema and load checks must)."""
    meta, tensors = unpack(path.read_bytes(), key="fusiondp")
    meta.pop("sha256")
    edit(meta, tensors)
    out = tmp_path / "edited.safetensors"
    out.write_bytes(pack(tensors, meta, key="fusiondp"))
    return out


def _set_feature(t):
    t["trees.feature"] = torch.full_like(t["trees.feature"], 999)


@pytest.mark.parametrize("case,edit,message", [
    ("unknown type", lambda m, t: m["architecture"].update(type="Stacked"), "not a known architecture"),
    ("parts missing", lambda m, t: m["architecture"].pop("parts"), "architecture.parts"),
    ("nested blend", lambda m, t: m["architecture"]["parts"]["trees"].update(type="Blend"),
     "architecture.parts.trees"),
    ("wrong part size", lambda m, t: m["architecture"]["parts"]["network"].update(hidden=[3]),
     "does not fit its weights"),
    ("tree count", lambda m, t: m["architecture"]["parts"]["trees"].update(n_trees=1), "does not fit its weights"),
    ("split index", lambda m, t: _set_feature(t), "feature index out of range"),
    ("weight tensor", lambda m, t: t.update(weight=torch.tensor(0.123)), "weight"),
    ("no blend record", lambda m, t: m["privacy"].pop("blend"), "privacy.blend"),
    ("sigma", lambda m, t: m["privacy"]["blend"].update(tree_sigma=-1.0), "privacy.blend.tree_sigma"),
])
def test_edited_blend_files_are_refused(saved, tmp_path, case, edit, message):
    bad = _resealed(saved, tmp_path, edit)
    with pytest.raises(ModelFileError, match="not a usable fusiondp model") as e:
        fio.load(bad)
    assert message in str(e.value), (case, str(e.value))


def test_corrupted_blend_tree_tensor_is_refused(saved, tmp_path):
    meta, tensors = unpack(saved.read_bytes(), key="fusiondp")
    raw = bytearray(saved.read_bytes())
    needle = tensors["trees.leaf"].numpy().tobytes()[:16]
    at = bytes(raw).index(needle)
    raw[at] ^= 0x01
    (tmp_path / "c.safetensors").write_bytes(bytes(raw))
    with pytest.raises(ModelFileError, match="digest"):
        fio.load(tmp_path / "c.safetensors")
