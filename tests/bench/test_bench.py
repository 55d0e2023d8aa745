"""The benchmark runner, resume, aggregation and the CLI on a fake tiny dataset (fast)."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from fusiondp.bench import registry, settings
from fusiondp.bench.registry import BenchData, BenchDataset, register_dataset
from fusiondp.bench.report import aggregate, write_report
from fusiondp.bench.runner import load_records, plan_runs, run_bench, select
from fusiondp.errors import ConfigError
from fusiondp.train.config import TrainConfig
from fusiondp.train.engine import TrainData

METHODS = ["sgd_ori", "sgd_hybrid", "dpsgd", "fusiondp"]


def _prepare(data_dir, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(200, 4, generator=g)
    y = (x[:, 0] > 0).float()
    xh = x.clone()
    xh[:, 0] = xh[:, 0] * 0.5
    data = TrainData(x=x, x_hybrid=xh, y=y, x_noise=torch.randn(200, 4, generator=g), x_reference=xh.flip(0))
    xv = torch.randn(60, 4, generator=g)
    val, test = (xv, (xv[:, 0] > 0).float()), (xv.flip(0), (xv.flip(0)[:, 0] > 0).float())
    # Tensors need no preprocessing, so the record-level encoding is the same data.
    return BenchData(data, val, test, None, {"train": 200},
                     record_level=BenchData(data, val, test, None, {"train": 200}))


def _config(method, epsilon):
    return TrainConfig(epochs=1, batch_size=50, public_batch_size=50, lr=0.1, alpha=1.0, clip=1.0,
                       hidden=(8,), dropout=0.0, noise_multiplier=3.0, accountant="rdp")  # fixed σ: fast


@pytest.fixture
def fake():
    entry = register_dataset(BenchDataset("fake_tiny", _prepare, "auroc", ("auroc", "accuracy"), _config,
                                          description="A fake dataset.", tuning="Not tuned.",
                                          grid={"sgd_ori": ({"lr": 0.1}, {"lr": 0.2})}), force=True)
    yield entry
    registry.DATASETS.pop("fake_tiny", None)


def test_plan_runs_nonprivate_once_per_seed():
    runs = plan_runs(["sgd_ori", "dpsgd"], [1.0, 4.0], [0, 1])
    assert runs.count(("sgd_ori", None, 0)) == 1 and ("dpsgd", 4.0, 1) in runs and len(runs) == 6


def test_grid_resume_and_report(fake, tmp_path):
    out = tmp_path / "r.jsonl"
    first = run_bench("fake_tiny", seeds=1, epsilons=[1.0, 4.0], methods=METHODS[:3], out=out, progress=False,
                      command="test", settings="selected")
    # sgd_ori, sgd_hybrid once; dpsgd at two ε, under add/remove and (equal protection) under replace-one
    assert len(first) == 6
    assert sorted(r["relation"] for r in first if r["method"] == "dpsgd") == ["add_remove"] * 2 + ["replace"] * 2
    again = run_bench("fake_tiny", seeds=1, epsilons=[1.0, 4.0], methods=METHODS, out=out, progress=False,
                      command="test", settings="selected")
    assert [(r["method"], r["epsilon"]) for r in again] == [("fusiondp", 1.0), ("fusiondp", 4.0)]
    with out.open("a") as fh:
        fh.write('{"dataset": "fake_tiny", "meth')  # a run killed mid-write
    recs = load_records(out)
    assert len(recs) == 8 and run_bench("fake_tiny", seeds=1, epsilons=[1.0, 4.0], methods=METHODS, out=out,
                                         progress=False, settings="selected") == []
    priv = [r for r in recs if r["epsilon"] is not None]
    assert all(r["spent_epsilon"] <= r["epsilon"] * (1 + 1e-9) and r["sigma"] > 0 for r in priv)
    assert {r["relation"] for r in priv} == {"add_remove", "remove", "replace"}
    assert all("test" in r and "auroc" in r["val"] and r["settings"] == "selected" for r in recs)

    rows = aggregate(recs, ("auroc", "accuracy"))
    assert len(rows) == 8 and all(r["n"] == 1 for r in rows)
    assert [r["epsilon"] for r in rows if r["method"] == "dpsgd (equal protection)"] == [1.0, 4.0]
    page = write_report("fake_tiny", out, docs=tmp_path / "docs")
    text = page.read_text()
    assert "Made by: `test`" in text and "| `fusiondp` | 4 |" in text and "img/fake_tiny.png" in text
    assert "Not tuned." in text and "## Two views" in text and "| 4 | `fusiondp` |" in text
    png = tmp_path / "docs" / "img" / "fake_tiny.png"
    assert png.read_bytes()[:4] == b"\x89PNG"
    # a hand-written reading section survives regeneration
    page.write_text(text + "\n<!-- reading:start -->\nMy notes.\n<!-- reading:end -->\n")
    assert "My notes." in write_report("fake_tiny", out, docs=tmp_path / "docs").read_text()


def test_defaults_settings_source(fake, tmp_path):
    """--settings defaults ignores the entry's settings (the rule fills them) and says so on the page."""
    from fusiondp.errors import ConfigError

    out = tmp_path / "d.jsonl"
    recs = run_bench("fake_tiny", seeds=1, epsilons=[2.0], methods=["fusiondp"], out=out, progress=False,
                     command="test")  # 'defaults' is the default source
    cfg = recs[0]["config"]
    assert recs[0]["settings"] == "defaults" and cfg["hidden"] != [8] and cfg["noise_multiplier"] is None
    text = write_report("fake_tiny", out, docs=tmp_path / "docs").read_text()
    assert "defaults rule" in text and "Not tuned." not in text
    # the same key under the other source is a different run (not skipped), and unknown sources fail early
    assert len(run_bench("fake_tiny", seeds=1, epsilons=[2.0], methods=["fusiondp"], out=out, progress=False,
                         settings="selected")) == 1
    with pytest.raises(ConfigError, match="settings source"):
        run_bench("fake_tiny", seeds=1, epsilons=[2.0], methods=["fusiondp"], out=out, progress=False,
                  settings="tuned")


def test_settings_files_of_fusiondp_tune(fake, tmp_path):
    """--settings FILE: a tune settings file sets its method; the page quotes the search's cost."""
    from fusiondp.errors import ConfigError
    from fusiondp.tune.settings import write_settings

    f = write_settings(tmp_path / "fd.json", "fusiondp", {"alpha": 0.5, "clip": 2.0},
                       selection={"mode": "repeat", "total_epsilon": 2.0})
    out = tmp_path / "s.jsonl"
    recs = run_bench("fake_tiny", seeds=1, epsilons=[2.0], methods=["fusiondp", "fdp_fm"], out=out,
                     progress=False, command="test", settings=str(f))
    cfg = {r["method"]: r["config"] for r in recs}
    assert cfg["fusiondp"]["alpha"] == 0.5 and cfg["fusiondp"]["clip"] == 2.0
    assert cfg["fdp_fm"]["clip"] != 2.0  # no file: the defaults rule
    text = write_report("fake_tiny", out, docs=tmp_path / "docs").read_text()
    assert "total ε = 2" in text and "spends its ε on top of the search's" in text
    with pytest.raises(ConfigError, match="Two settings files"):
        run_bench("fake_tiny", seeds=1, epsilons=[2.0], methods=["fusiondp"], out=out, progress=False,
                  settings=f"{f},{f}")


def test_record_level_method_needs_the_public_encoding(tmp_path):
    """dpsgd may not run on data whose preprocessing was fitted on training rows."""
    from fusiondp.errors import ConfigError

    def prepare(data_dir, seed):
        full = _prepare(data_dir, seed)
        return BenchData(full.data, full.val, full.test, None, full.info)  # no record_level encoding

    register_dataset(BenchDataset("fake_nosupport", prepare, "auroc", ("auroc",), _config), force=True)
    try:
        with pytest.raises(ConfigError, match="no public support set"):
            run_bench("fake_nosupport", seeds=1, epsilons=[1.0], methods=["dpsgd"], out=tmp_path / "r.jsonl",
                      progress=False, command="test")
    finally:
        registry.DATASETS.pop("fake_nosupport", None)


def test_old_tuning_records_still_make_their_page(fake, tmp_path):
    """Results files written by older versions hold `phase: "tune"` records; their page still shows them, and
    they never enter the results table (tuning itself now goes through `fusiondp tune` only)."""
    out = tmp_path / "t.jsonl"
    rec = {"phase": "tune", "dataset": "fake_tiny", "method": "sgd_ori", "epsilon": None, "seed": 0,
           "overrides": {"lr": 0.1}, "settings": "selected", "val": {"auroc": 0.7}}
    out.write_text(json.dumps(rec) + "\n" + json.dumps({**rec, "overrides": {"lr": 0.2}, "val": {"auroc": 0.8}}) + "\n")
    assert select(load_records(out), "auroc")["sgd_ori"]["overrides"] == {"lr": 0.2}
    assert aggregate(load_records(out), ("auroc",)) == []
    assert "Hyperparameter selection" in write_report("fake_tiny", out, docs=tmp_path / "d").read_text()


def test_bench_tune_is_refused_with_a_pointer_to_the_accounted_search(tmp_path):
    """`fusiondp bench --tune` trained a grid on the private rows without accounting it: it now refuses and
    points at `fusiondp tune` + `--settings FILE`; nothing is run or written."""
    from typer.testing import CliRunner

    from fusiondp.cli.app import _load_commands, app

    _load_commands()
    for flag in ("--tune", "--tuned"):
        res = CliRunner().invoke(app, ["bench", "adult", flag, "--out", str(tmp_path / "r.jsonl"), "--no-report"])
        text = " ".join(res.output.split())
        assert res.exit_code == 1, res.output
        assert f"{flag} was removed" in text and "without accounting" in text
        assert "fusiondp tune" in text and "--settings" in text
    assert not (tmp_path / "r.jsonl").exists()
    import fusiondp.bench.runner as runner_module

    assert not hasattr(runner_module, "run_tune")


def test_bad_inputs(fake, tmp_path):
    with pytest.raises(ConfigError, match="Unknown benchmark dataset"):
        run_bench("nope", out=tmp_path / "x.jsonl", progress=False)
    with pytest.raises(ConfigError, match="Unknown method"):
        run_bench("fake_tiny", methods=["sgd_nope"], out=tmp_path / "x.jsonl", progress=False)
    with pytest.raises(ConfigError, match="epsilon"):
        run_bench("fake_tiny", epsilons=[0.0], out=tmp_path / "x.jsonl", progress=False)


def test_cli(fake, tmp_path):
    from fusiondp.cli.app import _load_commands, app

    _load_commands()
    out = tmp_path / "c.jsonl"
    res = CliRunner().invoke(app, ["bench", "fake_tiny", "--quick", "--methods", "sgd_ori,dpsgd", "--out",
                                   str(out), "--docs", str(tmp_path / "docs"), "--no-progress", "--settings",
                                   "selected", "--no-equal-protection"])
    assert res.exit_code == 0, res.output
    assert [json.loads(line)["method"] for line in out.read_text().splitlines()] == ["sgd_ori", "dpsgd", "dpsgd"]
    assert (tmp_path / "docs" / "fake_tiny.md").exists()
    res = CliRunner().invoke(app, ["bench-report", "fake_tiny", "--results", str(tmp_path / "none.jsonl")])
    assert res.exit_code == 1 and "No results file" in res.output
    res = CliRunner().invoke(app, ["bench", "nope", "--out", str(out), "--no-progress"])
    assert res.exit_code == 1 and "Unknown benchmark dataset" in res.output


def test_select_per_epsilon_and_settings_at():
    def rec(method, eps, ov, val):
        return {"phase": "tune", "dataset": "d", "method": method, "epsilon": eps, "seed": 0, "overrides": ov,
                "val": {"auroc": val}}

    recs = [rec("fusiondp", 1.0, {"alpha": 0.25}, 0.80), rec("fusiondp", 1.0, {"alpha": 1.0}, 0.70),
            rec("fusiondp", 4.0, {"alpha": 0.25}, 0.81), rec("fusiondp", 4.0, {"alpha": 1.0}, 0.90)]
    # mean over ε: alpha 0.25 (0.805) beats alpha 1.0 (0.800); per ε the winners differ
    assert select(recs, "auroc")["fusiondp"]["overrides"] == {"alpha": 0.25}
    per = select(recs, "auroc", per_epsilon=True)["fusiondp"]
    assert per[1.0]["overrides"] == {"alpha": 0.25} and per[4.0]["overrides"] == {"alpha": 1.0}
    table = {e: v["overrides"] for e, v in per.items()}
    assert settings.settings_at(table, 0.5) == {"alpha": 0.25}   # nearest tuned ε on a log scale
    assert settings.settings_at(table, 3.0) == {"alpha": 1.0}
    assert settings.settings_at(table, 2.0) == {"alpha": 0.25}   # a tie goes to the more private ε
    assert settings.settings_at({"alpha": 0.5}, 8.0) == {"alpha": 0.5}
    with pytest.raises(ConfigError):
        settings.settings_at(table, None)
