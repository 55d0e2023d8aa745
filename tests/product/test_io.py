"""Saved models: save → load gives identical predictions; foreign or corrupted files are refused."""

import json
import struct

import numpy as np
import pytest
from typer.testing import CliRunner

import fusiondp.io as fio
from fusiondp.cli.app import _load_commands, app
from fusiondp.errors import ModelFileError
from tables import make_table


@pytest.fixture(scope="module")
def saved(tiny_run, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "m.safetensors"
    fio.save(path, *tiny_run)
    return path


def test_roundtrip_identical_predictions(tiny_run, saved):
    result, prepared, _ = tiny_run
    from fusiondp.evaluate.metrics import predict_scores

    frame = make_table(50, seed=7)
    import torch

    expected = predict_scores(result.model, torch.from_numpy(prepared.pre.transform(frame)))
    m = fio.load(saved)
    np.testing.assert_array_equal(m.predict_proba(frame)[:, 1], expected)
    assert set(m.predict(frame)) <= set(prepared.labels.classes)


def test_privacy_record_complete(tiny_run, saved):
    p = fio.load(saved).privacy
    for key in ("method", "epsilon", "delta", "relation", "accountant", "noise_multiplier", "sample_rate", "steps",
                "clip", "ch", "imputer", "support_fingerprint", "labels", "dp_event"):
        assert p[key] is not None, key
    assert p["method"] == "fusiondp" and p["relation"] == "remove"
    assert p["epsilon"] == pytest.approx(tiny_run[0].epsilon) and 0 < p["epsilon"] < 10
    assert p["support_fingerprint"] == "sha256:test"


def _header(path):
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    return raw, n, json.loads(raw[8:8 + n])


def _rewrite(path, out, header):
    raw, n, _ = _header(path)
    body = json.dumps(header).encode()
    body += b" " * ((8 - len(body) % 8) % 8)
    out.write_bytes(struct.pack("<Q", len(body)) + body + raw[8 + n:])


@pytest.mark.parametrize("case", ["missing", "text", "empty", "truncated", "flipped", "no_meta", "version",
                                  "format"])
def test_bad_files_refused(saved, tmp_path, case):
    bad = tmp_path / "bad.safetensors"
    raw, n, header = _header(saved)
    if case == "missing":
        bad = tmp_path / "nope.safetensors"
    elif case == "text":
        bad.write_text("stay_id,hr\n1,80\n")
    elif case == "empty":
        bad.write_bytes(b"")
    elif case == "truncated":
        bad.write_bytes(raw[: len(raw) // 2])
    elif case == "flipped":
        data = bytearray(raw)
        data[-3] ^= 0xFF
        bad.write_bytes(bytes(data))
    elif case == "no_meta":
        header.pop("__metadata__")
        _rewrite(saved, bad, header)
    else:
        meta = json.loads(header["__metadata__"]["fusiondp"])
        meta.update({"format_version": 99} if case == "version" else {"format": "other"})
        header["__metadata__"]["fusiondp"] = json.dumps(meta)
        _rewrite(saved, bad, header)
    with pytest.raises(ModelFileError, match="fusiondp model|not found"):
        fio.load(bad)


def test_predict_cli(saved, tmp_path):
    _load_commands()
    data = tmp_path / "d.csv"
    make_table(30, seed=3).drop(columns=["y"]).to_csv(data, index=False)
    res = CliRunner().invoke(app, ["predict", "--model", str(saved), "--data", str(data), "--out",
                                   str(tmp_path / "p.csv")])
    assert res.exit_code == 0, res.output
    import pandas as pd

    p = pd.read_csv(tmp_path / "p.csv")
    assert list(p.columns) == ["id", "prediction", "proba_0", "proba_1"] and len(p) == 30
    np.testing.assert_allclose(p["proba_0"] + p["proba_1"], 1.0, atol=1e-6)


def test_predict_cli_foreign_model(tmp_path):
    _load_commands()
    (tmp_path / "m.safetensors").write_text("hello")
    (tmp_path / "d.csv").write_text("a\n1\n")
    res = CliRunner().invoke(app, ["predict", "--model", str(tmp_path / "m.safetensors"), "--data",
                                   str(tmp_path / "d.csv"), "--out", str(tmp_path / "p.csv")])
    assert res.exit_code == 1 and "not a usable fusiondp model" in res.output and "Traceback" not in res.output
