"""HTML report: generated from a run's JSON, self-contained, with the privacy statement in plain words."""

import json

from typer.testing import CliRunner

from fusiondp.cli.app import _load_commands, app
from fusiondp.report.html import privacy_statement, render_html


def test_html_has_privacy_statement_and_plots(tiny_run, tmp_path):
    rep = dict(tiny_run[2])
    rep["imputation_quality"] = {"measured_on": "public support set", "columns": {
        "age": {"metric": "r2", "value": 0.4, "baseline": 0.0, "rows": 100}}}
    page = render_html(json.loads(json.dumps(rep, default=float)))
    assert privacy_statement(rep) in page.replace("&#x27;", "'")
    assert "feature-level" in page and "cannot tell" in page and "Not protected" in page
    assert "labels" in page.lower() and "Imputation quality" in page
    assert page.count("data:image/png;base64,") == 2
    assert "<link" not in page and "<script" not in page  # self-contained
    assert f"ε = {rep['epsilon']:.2f}" in page


def test_report_cli_and_bad_input(tiny_run, tmp_path):
    _load_commands()
    path = tmp_path / "run.json"
    path.write_text(json.dumps(tiny_run[2].to_report(), default=float))
    res = CliRunner().invoke(app, ["report", str(path)])
    assert res.exit_code == 0, res.output
    assert "Privacy statement" in (tmp_path / "run.html").read_text()
    (tmp_path / "x.json").write_text("[1, 2]")
    res = CliRunner().invoke(app, ["report", str(tmp_path / "x.json")])
    assert res.exit_code == 1 and "not a fusiondp run report" in res.output


def test_statement_for_record_level_and_none():
    dp = {"method": "dpsgd", "neighbouring": "add_remove", "neighbouring_text": "record-level add/remove",
          "epsilon": 2.0, "delta": 1e-5, "steps": 10, "sample_rate": 0.1, "noise_multiplier": 1.0, "clip": 1.0,
          "schema": {"sensitive": ["age"]}}
    assert "whole training record" in privacy_statement(dp)
    assert "NO formal privacy" in privacy_statement({"method": "sgd_ori"})
    assert "ε = 0" in render_html({"method": "sgd_hybrid", "schema": {"sensitive": ["age"]}})


def test_blend_page_plots_the_weight_choice():
    """A blend run's page shows the support AUROC over the weight grid with the chosen weight; others do not."""
    from fusiondp.report.html import blend_weight_curve

    base = {"method": "fusiondp", "epsilon": 2.0, "delta": 1e-5, "neighbouring": "remove", "metrics": {},
            "history": []}
    blend = {"weight": 0.7, "support_auroc": {"by_weight": {"0": 0.80, "0.5": 0.84, "0.7": 0.85, "1": 0.83}},
             "tree_releases": 100, "tree_sigma": 20.0, "tree_clip": 1.0, "network_steps": 300,
             "network_sample_rate": 0.01, "network_sigma": 1.2, "network_clip": 1.0}
    assert blend_weight_curve(base) is None
    page, plain = render_html({**base, "blend": blend}), render_html(base)
    assert "the weight chosen (0.7)" in page and "weight chosen" not in plain
    assert page.count("data:image/png;base64,") == plain.count("data:image/png;base64,") + 1


def test_page_names_the_released_candidate():
    """A run whose release guard ran says on its page which candidate the metrics (and a saved file) are, with
    every support score, the blend weight and the bar; a run without the guard has no such section."""
    base = {"method": "fusiondp", "epsilon": 2.0, "delta": 1e-5, "neighbouring": "remove", "metrics": {},
            "history": []}
    guard = {"released": "private+hybrid_trees", "metric": "auroc", "chosen_on": "labelled public support set (300 rows)",
             "candidates": {"private": 0.81, "sgd_hybrid": 0.84, "hybrid_trees": 0.80, "private+hybrid_trees": 0.83},
             "blend_weight": 0.6, "bar": {"z": 2.0, "auroc_lead": 0.01, "bootstrap_se": 0.02,
                                          "kept_runner_up": True, "against": "private+hybrid_trees"},
             "private_score": 0.81, "baseline_score": 0.84, "baseline": "sgd_hybrid"}
    page, plain = render_html({**base, "release_guard": guard}), render_html(base)
    assert "<h2>Release</h2>" in page and "<h2>Release</h2>" not in plain
    assert "the private network blended with the free trees" in page and "0.6" in page
    assert "runner-up was released" in page and "0.8300" in page
    skipped = render_html({**base, "release_guard": {"released": "private", "skipped": "no reset_parameters"}})
    assert "Release guard skipped: no reset_parameters" in skipped


def test_page_names_the_learner_auto_chose():
    """A run whose learner `auto` chose says which and why under the title; a learner asked for by name does not."""
    base = {"method": "fusiondp", "epsilon": 2.0, "delta": 1e-5, "neighbouring": "remove", "metrics": {},
            "history": []}
    choice = {"asked": "auto", "learner": "mlp", "why": "the network (mlp): here no labelled support set <x>"}
    page, plain = render_html({**base, "learner_choice": choice}), render_html(base)
    assert "Learner: mlp (--learner auto: the network (mlp): here no labelled support set &lt;x&gt;)." in page
    assert "--learner auto" not in plain
