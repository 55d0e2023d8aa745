"""The blend learner (fusiondp.blend): composed accounting, σ of each part, public weight choice, errors."""

from __future__ import annotations

import dp_accounting as dpa
import numpy as np
import pytest
import torch

import fusiondp.blend.learner as blend_learner
from fusiondp.blend import blend_noise
from fusiondp.data.schema import Schema
from fusiondp.errors import ConfigError
from fusiondp.pipeline import run
from fusiondp.privacy.accounting import epsilon
from fusiondp.train.config import TrainConfig
from tests.tables import SENSITIVE, make_hybrid, make_table, poison

SCHEMA = Schema("y", SENSITIVE, drop=["id"], categorical=["ward", "unit"])
FAST = {"public_rounds": 10, "private_rounds": 3}


def frames(n: int = 300, seed: int = 0):
    table = make_table(n + 150, seed)
    train, support = table.iloc[:n].reset_index(drop=True), table.iloc[n:].reset_index(drop=True)
    return train, make_hybrid(train), support


def fit(train, hybrid, support, *, eps=2.0, accountant="rdp", noise_seed=5, **kw):
    cfg = TrainConfig(epsilon=eps, accountant=accountant, epochs=1, insecure_noise_seed=noise_seed)
    return run(train, hybrid, SCHEMA, method="fusiondp", config=cfg, support_df=support, progress=False,
               learner="blend", tree_settings=FAST, guard=kw.pop("guard", False), **kw)


@pytest.fixture(scope="module")
def clean():
    return fit(*frames())


def composed_by_hand(b: dict, relation: str, delta: float = 1e-5) -> float:
    """The composed ε from dp-accounting directly, from the σ the section says each part ran with."""
    rel = {"remove": dpa.NeighboringRelation.REPLACE_SPECIAL, "replace": dpa.NeighboringRelation.REPLACE_ONE}[relation]
    acc = dpa.pld.PLDAccountant(neighboring_relation=rel)
    gauss = lambda s, q, k: dpa.SelfComposedDpEvent(dpa.PoissonSampledDpEvent(q, dpa.GaussianDpEvent(s)), k)
    acc.compose(dpa.ComposedDpEvent([gauss(b["tree_sigma"], 1.0, b["tree_releases"]),
                                     gauss(b["network_sigma"], b["network_sample_rate"], b["network_steps"])]))
    return float(acc.get_epsilon(delta))


def test_composed_epsilon_is_the_target_and_each_part_ran_its_sigma(clean):
    result, _, record = clean
    b = record["blend"]
    assert record["epsilon"] == pytest.approx(2.0, rel=2e-3) and record["epsilon"] <= 2.0
    assert b["tree_sigma"] == pytest.approx(b["scale"] * b["tree_alone_sigma"])
    assert b["network_sigma"] == pytest.approx(b["scale"] * b["network_alone_sigma"])
    # the released models are the parts that ran with those σ (their own plans, checked in fit_blend)
    assert b["epsilon_parts_alone"]["trees"] == pytest.approx(
        epsilon(noise_multiplier=b["tree_sigma"], sample_rate=1.0, steps=b["tree_releases"], delta=1e-5,
                relation="remove", accountant="rdp"))
    assert b["epsilon_parts_alone"]["network"] == pytest.approx(
        epsilon(noise_multiplier=b["network_sigma"], sample_rate=b["network_sample_rate"], steps=b["network_steps"],
                delta=1e-5, relation="remove", accountant="rdp"))
    # the record's statement is the composed event's, under both relations
    assert record["dp_event"]["class_name"] == "ComposedDpEvent"
    assert set(record["epsilon_by_relation"]) == {"remove", "replace"}
    assert record["epsilon_by_relation"]["replace"]["epsilon"] == pytest.approx(composed_by_hand(b, "replace"), rel=1e-3)
    assert record["epsilon_by_relation"]["replace"]["epsilon"] > record["epsilon"]


def test_pld_composed_epsilon_matches_dp_accounting_by_hand():
    result, _, record = fit(*frames(), eps=1.0, accountant="pld")
    b = record["blend"]
    assert record["epsilon"] == pytest.approx(composed_by_hand(b, "remove"), rel=1e-6)
    assert 1.0 * (1 - 2e-3) <= record["epsilon"] <= 1.0
    assert result.epsilon == record["epsilon"]


def test_composition_is_counted(clean):
    """Each part alone at its σ spends less than the blend: the composed ε is not one part's."""
    b = clean[2]["blend"]
    alone = b["epsilon_parts_alone"]
    assert clean[2]["epsilon"] > max(alone.values()) * 1.05
    # and the joint calibration gives each part more noise than it would need alone at the whole ε
    n = blend_noise(epsilon=2.0, delta=1e-5, relation="remove", accountant="rdp", tree_steps=b["tree_releases"],
                    network_rate=b["network_sample_rate"], network_steps=b["network_steps"], tree_share=b["tree_share"])
    assert (n.tree_sigma, n.network_sigma) == (b["tree_sigma"], b["network_sigma"])
    assert n.tree_sigma == pytest.approx(n.scale * n.tree_alone_sigma)
    assert n.network_sigma == pytest.approx(n.scale * n.network_alone_sigma)
    assert epsilon(noise_multiplier=n.network_sigma, sample_rate=b["network_sample_rate"], steps=b["network_steps"],
                   delta=1e-5, relation="remove", accountant="rdp") < 2.0 * 0.95


def test_weight_is_chosen_on_support_rows_only(clean, monkeypatch):
    """Poisoning training rows' sensitive values changes neither σ, ε nor the public inputs of the weight choice;
    the weight is the support-AUROC argmax of the two released parts."""
    seen = []
    real = blend_learner.choose_weight
    monkeypatch.setattr(blend_learner, "choose_weight", lambda t, m, s, g: seen.append(s) or real(t, m, s, g))
    train, hybrid, support = frames()
    poisoned = poison(train)
    r1, p1, rec1 = fit(train, hybrid, support)
    r2, _, rec2 = fit(poisoned, hybrid, support)
    assert len(seen) == 2 and all(np.array_equal(seen[0][i], seen[1][i]) for i in (0, 1))
    # the rows it scores are the support rows (as encoded), not a training row
    enc = p1.pre.transform(support, what="support")
    assert np.array_equal(seen[0][0], enc) and len(seen[0][1]) == len(support)
    for k in ("epsilon", "epsilon_by_relation"):
        assert rec1[k] == rec2[k]
    for k in ("tree_sigma", "network_sigma", "tree_releases", "network_steps"):
        assert rec1["blend"][k] == rec2["blend"][k]
    # the private parts did read the poisoned values (else this test could not tell anything)
    x = torch.from_numpy(enc.astype(np.float32))
    assert not torch.equal(r1.model.network(x), r2.model.network(x))
    # w is the argmax over the grid of the support AUROC of the released parts
    b = rec1["blend"]
    assert b["support_auroc"]["blend"] == max(b["support_auroc"]["by_weight"].values())
    from sklearn.metrics import roc_auc_score
    with torch.no_grad():
        s = r1.model(x).numpy()
    assert roc_auc_score(seen[0][1], s) == pytest.approx(b["support_auroc"]["blend"])
    assert float(r1.model.weight) == pytest.approx(b["weight"])


def test_replayable_with_the_test_noise_seed(clean):
    again = fit(*frames())
    x = torch.randn(20, clean[1].data.x.shape[1])
    assert torch.equal(clean[0].model(x), again[0].model(x))


def test_blend_prediction_interface(clean):
    from fusiondp.evaluate.metrics import predict_scores

    x = clean[1].data.x[:10]
    p = predict_scores(clean[0].model, x)
    assert p.shape == (10,) and ((p > 0) & (p < 1)).all()
    assert clean[2]["method"] == "fusiondp_blend" and clean[2]["learner"] == "blend"


def test_errors_are_clear():
    train, hybrid, support = frames(200)
    with pytest.raises(ConfigError, match="blend"):
        run(train, hybrid, SCHEMA, method="fusiondp", support_df=support, learner="blnd", progress=False)
    with pytest.raises(ConfigError, match="labelled public support set"):
        fit(train, hybrid, None)
    with pytest.raises(ConfigError, match="labelled public support set"):
        fit(train, hybrid, support.drop(columns=["y"]))
    with pytest.raises(ConfigError, match="noise multiplier"):
        run(train, hybrid, SCHEMA, method="fusiondp", config=TrainConfig(noise_multiplier=1.0), support_df=support,
            learner="blend", progress=False)
    with pytest.raises(ConfigError, match="method 'fusiondp'"):
        run(train, hybrid, SCHEMA, method="dpsgd", support_df=support, learner="blend", progress=False)


def test_blend_cli_run_writes_the_composed_statement(tmp_path):
    import json

    from typer.testing import CliRunner

    from fusiondp.cli.app import _load_commands, app

    _load_commands()
    t = make_table(300)
    t.iloc[:220].to_csv(tmp_path / "train.csv", index=False)
    t.iloc[220:].to_csv(tmp_path / "support.csv", index=False)
    make_hybrid(t.iloc[:220]).to_csv(tmp_path / "hybrid.csv", index=False)
    args = ["train", "--train", str(tmp_path / "train.csv"), "--hybrid", str(tmp_path / "hybrid.csv"),
            "--public-reference", str(tmp_path / "support.csv"), "--target", "y", "--sensitive", ",".join(SENSITIVE),
            "--drop", "id", "--categorical", "ward,unit", "--learner", "blend", "--accountant", "rdp",
            "--epochs", "1", "--no-progress", "--no-public-baseline", "--report", str(tmp_path / "run.json")]
    res = CliRunner().invoke(app, [*args, "--epsilon", "2"])
    assert res.exit_code == 0, res.output
    rep = json.loads((tmp_path / "run.json").read_text())
    assert rep["method"] == "fusiondp_blend" and rep["epsilon"] <= 2.0 and rep["noise_multiplier"] is None
    assert rep["dp_event"]["class_name"] == "ComposedDpEvent" and "σ trees" in res.output and "blend: weight" in res.output
    (tmp_path / "run.json").unlink()
    res = CliRunner().invoke(app, [*args, "--noise-multiplier", "1.0"])
    assert res.exit_code != 0 and "--noise-multiplier" in res.output and not (tmp_path / "run.json").exists()


def test_estimator_blend_fits_predicts_and_reports_the_composed_event():
    """`FusionDPClassifier(learner="blend")`: the support set comes from `support_fraction` (labelled, public);
    the fitted report's ε is the composed event's, spent to the target; a fit without a labelled support set
    (a given hybrid and no support) is refused clearly."""
    from fusiondp.estimator import FusionDPClassifier

    train, hybrid, _ = frames(400)
    X, y = train.drop(columns=["y", "id"]), train["y"]
    clf = FusionDPClassifier(sensitive=SENSITIVE, categorical=["ward", "unit"], learner="blend", epsilon=2.0,
                             accountant="rdp", support_fraction=0.3, imputer="mean", epochs=1, progress=False)
    clf.fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2) and np.allclose(proba.sum(1), 1)
    rep = clf.report_
    assert rep["learner"] == "blend" and "ComposedDpEvent" in str(rep["dp_event"])
    assert 2.0 * 0.99 <= clf.epsilon_spent_ <= 2.0 + 1e-9
    # the privacy record (the one a model file stores) carries both noise levels of the composed event
    b = clf.privacy_record_["blend"]
    assert (b["tree_sigma"], b["network_sigma"]) == (rep["blend"]["tree_sigma"], rep["blend"]["network_sigma"])
    with pytest.raises(ConfigError, match="support"):
        FusionDPClassifier(sensitive=SENSITIVE, categorical=["ward", "unit"], learner="blend", epsilon=2.0,
                           accountant="rdp", epochs=1, progress=False).fit(X, y, hybrid=hybrid.drop(columns=["y", "id"]))
