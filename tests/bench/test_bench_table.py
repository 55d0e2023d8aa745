"""`fusiondp bench --table` / `--dataset-file` on a small generated table, the entry format, and its errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from fusiondp.bench import registry
from fusiondp.bench.datasets import (USER_SPLIT, builtin_specs, get_spec, load_dataset_file, spec_from_dict,
                                     spec_from_toml, spec_to_dict, table_spec)
from fusiondp.bench.user_table import register_table
from fusiondp.errors import ConfigError, DataError
from tables import make_table

runner = CliRunner()


def _args(tmp_path, table, *extra):
    return ["bench", "--table", str(table), "--target", "y", "--sensitive", "age,sex,unit", "--drop", "id",
            "--imputer", "mean", "--out", str(tmp_path / "r.jsonl"), "--docs", str(tmp_path / "docs"),
            "--no-progress", *extra]


def test_bench_table_end_to_end(app, tmp_path):
    table = tmp_path / "clinic.csv"
    make_table(600).to_csv(table, index=False)
    res = runner.invoke(app, _args(tmp_path, table, "--seeds", "1", "--epsilons", "2"))
    assert res.exit_code == 0, res.output
    recs = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    # the eight methods, and dpsgd again calibrated under replace-one (the equal-protection view)
    assert sorted(r["method"] for r in recs) == sorted(["sgd_ori", "sgd_hybrid", "sgd_pub", "dpsgd", "dpsgd",
                                                        "naive_fusion", "fdp", "fdp_fm", "fusiondp"])
    assert all(r["settings"] == "defaults" for r in recs)  # the defaults rule, not settings tuned elsewhere
    assert {r["dataset"] for r in recs} == {"clinic"}
    # 600 rows: 60 support rows carved out and removed from training, then 70/10/20 of the other 540
    assert recs[0]["info"]["train"] == 378 and recs[0]["info"]["val"] == 54 and recs[0]["info"]["test"] == 108
    assert all(r["config"]["batch_size"] <= 378 // 4 for r in recs)  # small-table cap
    priv = [r for r in recs if r["epsilon"] is not None]
    assert len(priv) == 6 and all(r["spent_epsilon"] <= 2.0 * (1 + 1e-9) for r in priv)
    page = (tmp_path / "docs" / "clinic.md").read_text()
    assert "Your table `clinic.csv` (600 rows, 2 classes)" in page and "the first 60 (10 %)" in page
    assert "rerunning the same `fusiondp bench --table" in page and "defaults rule" in page and "## Two views" in page
    assert (tmp_path / "docs" / "img" / "clinic.png").read_bytes()[:4] == b"\x89PNG"
    # rerun: every run is skipped and the page is rewritten
    res = runner.invoke(app, _args(tmp_path, table, "--seeds", "1", "--epsilons", "2", "--page", "again"))
    assert res.exit_code == 0 and "0 new run(s)" in res.output and (tmp_path / "docs" / "again.md").exists()


def test_split_removes_support_rows_from_training(tmp_path):
    table = tmp_path / "t.csv"
    make_table(400).to_csv(table, index=False)
    parts = table_spec(table, target="y", sensitive="age,sex").frames(seed=0)
    ids = {k: set(v["id"]) for k, v in parts.items()}
    assert len(ids["support"]) == 40 and sum(map(len, ids.values())) == 400
    assert not ids["support"] & (ids["train"] | ids["val"] | ids["test"]) and not ids["train"] & ids["test"]
    assert parts["train"].equals(table_spec(table, target="y", sensitive="age,sex").frames(seed=3)["train"])  # seeded


def test_support_file_and_dataset_file(tmp_path):
    make_table(400).to_csv(tmp_path / "t.csv", index=False)
    make_table(50, seed=9).to_csv(tmp_path / "s.csv", index=False)
    (tmp_path / "mine.toml").write_text('target = "y"\nsensitive = ["age", "sex"]\ndrop = ["id"]\n'
                                        '[files]\nall = "t.csv"\nsupport = "s.csv"\n')
    spec = load_dataset_file(tmp_path / "mine.toml")
    assert spec == table_spec(tmp_path / "t.csv", target="y", sensitive="age,sex", drop="id",
                              support=tmp_path / "s.csv", name="mine")
    parts = spec.frames(seed=0)
    assert len(parts["support"]) == 50 and len(parts["train"]) + len(parts["val"]) + len(parts["test"]) == 400
    with pytest.raises(ConfigError, match="carve no support rows"):
        spec_from_dict({"name": "x", "target": "y", "sensitive": "age", "files": {"all": "a", "support": "b"},
                        "split": {"support_rows": 10}})
    with pytest.raises(ConfigError, match="unknown key"):
        spec_from_toml('name = "x"\ntarget = "y"\nsensitive = ["age"]\ncolour = 1\n[files]\nall = "a.csv"\n')


def test_builtin_entries_are_the_same_format():
    """The built-in entries are TOML data files in the user's format, and the one registry holds them."""
    from importlib.resources import files

    folder = files("fusiondp.bench").joinpath("entries")
    texts = {f.name.removesuffix(".toml"): f.read_text() for f in folder.iterdir() if f.name.endswith(".toml")}
    assert set(texts) == {s.name for s in builtin_specs()} == {"adult", "sepsis", "sepsis_ours"}
    for name, text in texts.items():
        spec = get_spec(name)
        assert registry.get_dataset(name).spec is spec
        assert spec_from_toml(text) == spec and spec_from_dict(spec_to_dict(spec)) == spec
    import fusiondp.bench.datasets as datasets_module

    assert not hasattr(datasets_module, "DATASETS")  # one registry: fusiondp.bench.registry.DATASETS
    adult = get_spec("adult")
    assert adult.split.support_rows == 512 and adult.split.support_fraction is None
    assert adult.description.startswith("UCI Adult (30,162 complete rows)")
    assert USER_SPLIT.support_fraction == 0.1 and USER_SPLIT.fractions == (0.7, 0.1, 0.2)


@pytest.mark.parametrize("extra, sensitive, expect", [
    ((), "age,weight", "'weight' not found"),
    (("--settings", "selected"), "age", "a user's table has none"),
    ((), "age,y", "listed as sensitive"),
    (("--categorical", "colour"), "age", "categorical column(s) 'colour' not found"),
    (("--name", "adult"), "age", "built-in benchmark dataset"),
])
def test_bench_table_errors(app, tmp_path, extra, sensitive, expect):
    table = tmp_path / "t.csv"
    make_table(300).to_csv(table, index=False)
    args = _args(tmp_path, table, *extra)
    args[args.index("--sensitive") + 1] = sensitive
    res = runner.invoke(app, args)
    assert res.exit_code == 1 and expect in res.output and "Traceback" not in res.output, res.output
    assert not (tmp_path / "r.jsonl").exists()


def test_tiny_table_and_option_mixes(app, tmp_path):
    table = tmp_path / "t.csv"
    make_table(80).to_csv(table, index=False)
    res = runner.invoke(app, _args(tmp_path, table))
    assert res.exit_code == 1 and "too small to benchmark" in res.output and "val has 7 rows (need >= 10)" in res.output
    res = runner.invoke(app, ["bench", "adult", "--table", str(table)])
    assert res.exit_code == 1 and "exactly one of DATASET" in res.output
    res = runner.invoke(app, ["bench", "adult", "--target", "y"])
    assert res.exit_code == 1 and "go with --table" in res.output
    res = runner.invoke(app, ["bench", "--table", str(table), "--target", "y"])
    assert res.exit_code == 1 and "--sensitive" in res.output
    with pytest.raises(DataError, match="too small"):
        register_table(table_spec(table, target="y", sensitive="age"))


