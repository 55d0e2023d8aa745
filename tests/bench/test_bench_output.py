"""`fusiondp bench` shows its results table in the terminal and writes everything under one output folder
(issue 26 item 1): never into a docs/ folder of the user's working directory."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from fusiondp.cli.bench_cmd import output_paths
from tables import make_table

runner = CliRunner()


ARGS = ["--target", "y", "--sensitive", "age,sex,unit", "--drop", "id", "--imputer", "mean", "--seeds", "2",
        "--epsilons", "2", "--methods", "sgd_ori,dpsgd", "--no-equal-protection", "--no-progress"]


def test_default_output_folder_and_terminal_table(app, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    make_table(500).to_csv(tmp_path / "clinic.csv", index=False)
    res = runner.invoke(app, ["bench", "--table", "clinic.csv", *ARGS])
    assert res.exit_code == 0, res.output
    folder = tmp_path / "fusiondp-bench" / "clinic"
    assert (folder / "clinic_runs.jsonl").exists() and (folder / "clinic.md").exists()
    assert (folder / "img" / "clinic.png").read_bytes()[:4] == b"\x89PNG"
    assert not (tmp_path / "docs").exists() and not (tmp_path / "bench_out").exists()
    assert f"results page: {Path('fusiondp-bench/clinic/clinic.md')}" in res.output
    # the table: one row per method and ε, with the relation, test AUROC mean ± sd over the 2 seeds, seconds
    recs = [json.loads(line) for line in (folder / "clinic_runs.jsonl").read_text().splitlines()]
    rows = {ln.split("│")[1].strip(): [c.strip() for c in ln.split("│")[1:-1]]
            for ln in res.output.splitlines() if ln.count("│") >= 6}
    assert set(rows) >= {"sgd_ori", "dpsgd"}, res.output
    assert rows["dpsgd"][1] == "2" and rows["dpsgd"][2] == "add_remove" and rows["dpsgd"][4] == "2"
    assert rows["sgd_ori"][1] == "∞ (none)" and rows["sgd_ori"][2] == "none"
    import statistics

    auroc = [r["test"]["auroc"] for r in recs if r["method"] == "dpsgd"]
    assert rows["dpsgd"][3] == f"{statistics.fmean(auroc):.3f} ± {statistics.stdev(auroc):.3f}"
    assert "test AUROC" in res.output and "s/run" in res.output


def test_explicit_out_folder_and_a_runs_file_path(app, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_table(400).to_csv(tmp_path / "t.csv", index=False)
    res = runner.invoke(app, ["bench", "--table", "t.csv", *ARGS, "--seeds", "1", "--out", "pages"])
    assert res.exit_code == 0, res.output
    assert {p.name for p in (tmp_path / "pages").iterdir()} == {"t_runs.jsonl", "t.md", "img"}
    # bench-report writes next to its first results file by default, or into --out
    res = runner.invoke(app, ["bench-report", "t", "--results", "pages/t_runs.jsonl", "--out", "elsewhere"])
    assert res.exit_code == 0 and (tmp_path / "elsewhere" / "t.md").exists(), res.output
    assert output_paths("t", Path("x/runs.jsonl")) == (Path("x/runs.jsonl"), Path("x"))
