"""One run record (issue 24): the JSON report, the model file and the HTML page are serialisations of it."""

from __future__ import annotations

import html
import json
import re

import dp_accounting as dpa
import pytest
from typer.testing import CliRunner

from fusiondp.cli.app import _load_commands, app
from fusiondp.io import read_metadata
from fusiondp.privacy.accounting import RELATIONS
from fusiondp.privacy.relations import Relation
from fusiondp.report.record import RunRecord, event_from_json, event_to_json, summary_of
from tables import SENSITIVE, make_table

_load_commands()
FAST = ["--epochs", "1", "--batch-size", "32", "--public-batch-size", "64", "--delta", "1e-4", "--no-progress",
        "--no-public-baseline", "--learner", "mlp"]  # the network's record (a blend's: tests/trees/test_blend_save.py)


def _page_summary(page: str) -> dict:
    block = re.search(r'<meta name="fusiondp-privacy" content="([^"]*)">', page)
    assert block, "the page holds no privacy summary"
    return json.loads(html.unescape(block.group(1)))


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("record")
    make_table(240).to_csv(d / "train.csv", index=False)
    make_table(120, seed=7).to_csv(d / "support.csv", index=False)
    make_table(80, seed=5).to_csv(d / "test.csv", index=False)
    res = CliRunner().invoke(app, [
        "train", "--train", str(d / "train.csv"), "--support", str(d / "support.csv"), "--imputer", "mean",
        "--test", str(d / "test.csv"), "--target", "y", "--sensitive", ",".join(SENSITIVE), "--drop", "id",
        "--relation", "replace", "--epsilon", "3", "--report", str(d / "run.json"),
        "--save-model", str(d / "model.safetensors"), *FAST])
    assert res.exit_code == 0, res.output
    return (json.loads((d / "run.json").read_text()), read_metadata(d / "model.safetensors"),
            (d / "run.html").read_text())


def test_report_model_and_page_state_the_same_privacy(outputs):
    report, meta, page = outputs
    from_report, from_model, from_page = summary_of(report), summary_of(meta["privacy"]), _page_summary(page)
    assert from_report == from_model == from_page
    assert from_report["method"] == "fusiondp" and from_report["relation"] == Relation.REPLACE
    assert 0 < from_report["epsilon"] <= 3 and from_report["delta"] == 1e-4
    assert from_report["accountant"].startswith("dp-accounting ") and from_report["accountant"].endswith("PLD")
    # ... and the page's visible text says the same
    assert f"ε = {from_report['epsilon']:.2f}, δ = {from_report['delta']:g}" in page
    assert "· replace relation" in page and f"({from_report['accountant']})" in page
    # the other entries shared by the report and the model's privacy record agree too
    for key in ("noise_multiplier", "sample_rate", "steps", "clip", "ch", "labels", "dp_event", "imputer",
                "support_fingerprint", "epsilon_by_relation", "randomness", "target_epsilon"):
        assert report[key] == meta["privacy"][key], key
    assert report["neighbouring_text"] == meta["privacy"]["relation_text"]


def test_dp_event_is_dp_accountings_own_serialisation(outputs):
    """The stored event is read back by dp-accounting and gives the reported ε under the reported relation."""
    report, _, _ = outputs
    event = event_from_json(report["dp_event"])
    assert isinstance(event, dpa.SelfComposedDpEvent) and event.count == report["steps"]
    assert event.event.event.noise_multiplier == report["noise_multiplier"]
    acc = dpa.pld.PLDAccountant(neighboring_relation=RELATIONS[report["neighbouring"]])
    acc.compose(event)
    assert acc.get_epsilon(report["delta"]) == pytest.approx(report["epsilon"], rel=1e-6)
    assert event_to_json(event) == report["dp_event"]


def test_event_reader_refuses_foreign_classes():
    with pytest.raises(ValueError, match="not a dp-accounting event"):
        event_from_json({"module_name": "os", "class_name": "system", "command": "true"})


def test_hybrid_provenance_and_setting_sources_reach_the_report(outputs):
    report, _, _ = outputs
    assert report["imputation"]["imputer"] == "mean" and "tasks" in report["imputation"]
    assert report["imputer"] == "mean" and report["support_fingerprint"].startswith("sha256:")
    assert report["config_source"]["epochs"] == "user" and report["config_source"]["lr"] == "auto"


def test_record_is_frozen_and_sections_cannot_rewrite_the_run(tiny_run):
    _, _, record = tiny_run
    assert isinstance(record, RunRecord) and record["epsilon"] == record.epsilon
    with pytest.raises(TypeError):
        record["epsilon"] = 0.1  # type: ignore[index]
    with pytest.raises(AttributeError):
        record.epsilon = 0.1  # type: ignore[misc]
    with pytest.raises(ValueError, match="fields of the run"):
        record.with_sections(epsilon=0.1)
    more = record.with_sections(comparison=[{"method": "x"}])
    assert more.to_report()["comparison"] == [{"method": "x"}] and "comparison" not in record.to_report()
    assert more.privacy_summary() == record.privacy_summary()


def test_a_default_run_s_report_model_and_page_agree_too(tmp_path):
    """The default learner on a binary table with a labelled support set is the blend (round 8): its report, model
    file and page state the same privacy, and its stored event (trees and network composed) gives the reported ε
    under dp-accounting."""
    make_table(240).to_csv(tmp_path / "train.csv", index=False)
    make_table(120, seed=7).to_csv(tmp_path / "support.csv", index=False)
    res = CliRunner().invoke(app, [
        "train", "--train", str(tmp_path / "train.csv"), "--support", str(tmp_path / "support.csv"), "--imputer",
        "mean", "--target", "y", "--sensitive", ",".join(SENSITIVE), "--drop", "id", "--relation", "replace",
        "--epsilon", "3", "--report", str(tmp_path / "run.json"), "--save-model", str(tmp_path / "m.safetensors"),
        *FAST[:-2]])
    assert res.exit_code == 0, res.output
    report, meta = json.loads((tmp_path / "run.json").read_text()), read_metadata(tmp_path / "m.safetensors")
    page = (tmp_path / "run.html").read_text()
    assert report["learner_choice"]["learner"] == "blend" and report["method"] == "fusiondp_blend"
    assert summary_of(report) == summary_of(meta["privacy"]) == _page_summary(page)
    event = event_from_json(report["dp_event"])
    assert isinstance(event, dpa.ComposedDpEvent) and len(event.events) == 2
    acc = dpa.pld.PLDAccountant(neighboring_relation=RELATIONS[report["neighbouring"]])
    acc.compose(event)
    assert acc.get_epsilon(report["delta"]) == pytest.approx(report["epsilon"], rel=1e-6) and report["epsilon"] <= 3
