"""Privacy round 2 (issue 23): nothing released is a noise-free function of what a run protects.

One test (or a few) per item of the issue; each failed on the code before the fix (docs/results/privacy_review.md,
round 2). Attacks where possible: retrain without a record or with a changed value, compare every released number.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from tables import SENSITIVE, encoded_views, make_hybrid, make_table
from fusiondp.cli.app import _load_commands, app
from fusiondp.data.schema import Schema
from fusiondp.errors import DataError
from fusiondp.pipeline import run
from fusiondp.train.config import TrainConfig

_load_commands()
runner = CliRunner()
SCHEMA = Schema("y", SENSITIVE, drop="id")
RUN = dict(epochs=1, batch_size=32, public_batch_size=64, lr=0.1, epsilon=2.0, delta=1e-4, seed=0, hidden=(16,))
FAST = ["--epochs", "1", "--batch-size", "32", "--public-batch-size", "64", "--delta", "1e-4", "--no-progress"]
TARGET = 17  # the record removed or changed by the attacks


def _without(table: pd.DataFrame, row: int = TARGET) -> pd.DataFrame:
    return table.drop(index=row).reset_index(drop=True)


# ------------------------------------------------------------------ 1. dpsgd + --val: the public baseline
def _dpsgd_cli(tmp_path, name: str, table: pd.DataFrame) -> tuple[dict, str, str]:
    d = tmp_path / name
    d.mkdir()
    table.to_csv(d / "train.csv", index=False)
    make_hybrid(table).to_csv(d / "hybrid.csv", index=False)
    make_table(120, seed=5).to_csv(d / "reference.csv", index=False)
    make_table(80, seed=7).to_csv(d / "val.csv", index=False)
    res = runner.invoke(app, ["train", "--train", str(d / "train.csv"), "--hybrid", str(d / "hybrid.csv"),
                              "--public-reference", str(d / "reference.csv"), "--val", str(d / "val.csv"),
                              "--method", "dpsgd", "--target", "y", "--sensitive", ",".join(SENSITIVE), "--drop",
                              "id", "--report", str(d / "run.json"), *FAST,
                              # σ fixed: N differs between the two runs, so calibrating would cost two PLD searches;
                              # the public baseline under attack does not depend on σ
                              "--noise-multiplier", "2"])
    assert res.exit_code == 0, res.output
    return json.loads((d / "run.json").read_text()), res.output, (d / "run.html").read_text()


def test_dpsgd_public_baseline_does_not_move_when_a_record_is_removed(tmp_path):
    """Before: sgd_hybrid was trained without noise on the training rows; removing one moved its score."""
    table = make_table(200)
    numbers, trained_on = [], []
    for name, t in (("all", table), ("minus_one", _without(table))):
        rep, terminal, html = _dpsgd_cli(tmp_path, name, t)
        check = rep["public_baseline"]
        trained_on.append(check.get("trained_on", ""))
        shown = re.search(r"sgd_hybrid \((?:ε = 0\) validation \w+ )?([0-9.]+)", terminal)
        assert shown, terminal
        numbers.append((check["baseline"], shown.group(1), f"{check['baseline']:.4f}" in terminal,
                        html.count(f"{check['baseline']:.4f}")))
    assert numbers[0] == numbers[1], numbers  # JSON, terminal and HTML: identical baseline numbers
    assert all("public reference" in t for t in trained_on), trained_on


# ------------------------------------------------------------------ 2. checkpoints hold no digest of protected data
def _checkpoint_meta(tmp_path, name: str, table: pd.DataFrame, method: str) -> dict:
    from fusiondp.train.checkpoint import read

    path = tmp_path / f"{name}.ckpt"
    run(table, make_hybrid(table), SCHEMA, method=method, config=TrainConfig(**RUN), progress=False,
        support_df=make_table(80, seed=5), checkpoint=path)
    return read(path)[0]


def test_dpsgd_checkpoint_binding_is_independent_of_a_label_a_value_and_a_removed_record(tmp_path):
    """Before: a SHA-256 of (hybrid, noise, reference views, labels) let anyone confirm a guessed label."""
    table = make_table(200)
    changed = table.copy()
    changed.loc[TARGET, "y"] = 1 - changed.loc[TARGET, "y"]   # a label
    changed.loc[TARGET, "hr"] = 150.0                          # a public column (private for dpsgd)
    base = _checkpoint_meta(tmp_path, "base", table, "dpsgd")["run"]
    assert _checkpoint_meta(tmp_path, "changed", changed, "dpsgd")["run"] == base
    removed = _checkpoint_meta(tmp_path, "removed", _without(table), "dpsgd")["run"]
    # Only N differs (N is treated as public, item 3); the digest covers the public reference alone.
    assert removed["data_sha256"] == base["data_sha256"] and removed["settings"] == base["settings"]
    assert removed["shape"] == [base["shape"][0] - 1, *base["shape"][1:]]
    other_reference = tmp_path / "other"
    other_reference.mkdir()
    from fusiondp.train.checkpoint import read

    run(table, make_hybrid(table), SCHEMA, method="dpsgd", config=TrainConfig(**RUN), progress=False,
        support_df=make_table(80, seed=6), checkpoint=other_reference / "r.ckpt")
    assert read(other_reference / "r.ckpt")[0]["run"]["data_sha256"] != base["data_sha256"]  # bound to public input


def test_feature_level_checkpoint_binding_is_independent_of_a_sensitive_value(tmp_path):
    """Regression guard (held before too): the feature-level digest covers public views only."""
    table = make_table(200)
    changed = table.copy()
    changed.loc[TARGET, "age"] = 99.0
    hybrid = make_hybrid(table)

    def meta(name, t):
        from fusiondp.train.checkpoint import read

        run(t, hybrid, SCHEMA, method="fusiondp", config=TrainConfig(**RUN), progress=False,
            checkpoint=tmp_path / f"{name}.ckpt")
        return read(tmp_path / f"{name}.ckpt")[0]["run"]

    assert meta("a", table) == meta("b", changed)


# ------------------------------------------------------------------ 3. N is released exactly: treated as public
def test_every_artefact_states_that_n_is_treated_as_public(tmp_path):
    from fusiondp.io import save
    from fusiondp.report.html import render_html

    table = make_table(200)
    for method, extra in (("fusiondp", "membership"), ("dpsgd", "replace-one")):
        result, prepared, rep = run(table, make_hybrid(table), SCHEMA, method=method, config=TrainConfig(**RUN),
                                    progress=False, support_df=make_table(80, seed=5), learner="mlp")
        text = rep["training_rows_text"]
        assert rep["training_rows"] == 200 and "N = 200" in text and "treated as public" in text and extra in text
        assert rep["sample_rate"] == pytest.approx(32 / 200)  # q = b/N is released exactly: it is public
        assert "treated as public" in render_html(rep)
        blob = save(tmp_path / f"{method}.safetensors", result, prepared, rep).read_bytes()
        assert b"treated as public" in blob
    # The replace-one epsilon (same N) is the dpsgd guarantee that holds with N public: it is reported.
    assert set(rep["epsilon_by_relation"]) == {"add_remove", "replace"}


# ------------------------------------------------------------------ 4. audits
def _saved_model(tmp_path):
    from fusiondp import io as fio

    table = make_table(200)
    cfg = TrainConfig(**{**RUN, "epsilon": None})
    result, prep, rep = run(table, make_hybrid(table), SCHEMA, method="sgd_ori", config=cfg, progress=False)
    return fio.save(tmp_path / "m.safetensors", result, prep, rep), table


def _attribute_cli(tmp_path, name, model_path, train):
    d = tmp_path / name
    d.mkdir()
    train.to_csv(d / "train.csv", index=False)
    make_table(100, seed=11).to_csv(d / "held.csv", index=False)
    make_table(150, seed=12).to_csv(d / "sup.csv", index=False)
    res = runner.invoke(app, ["audit", "attribute", "--model", str(model_path), "--train", str(d / "train.csv"),
                              "--heldout", str(d / "held.csv"), "--support", str(d / "sup.csv"), "--imputer",
                              "mean", "--bootstrap", "50", "--rows", "0", "--out", str(d / "a.json"), "--html",
                              str(d / "a.html")])
    assert res.exit_code == 0, res.output
    return json.loads((d / "a.json").read_text()), res.output, (d / "a.html").read_text()


def test_attribute_audit_output_is_marked_private_in_every_output(tmp_path):
    """Its reference numbers are computed on the training rows' true values: changing one moves them, so every
    output must say it is not for release (before: nothing said so)."""
    model_path, table = _saved_model(tmp_path)
    changed = table.copy()
    changed.loc[TARGET, "age"] = np.nan  # one more training row without a known age
    a, terminal, html = _attribute_cli(tmp_path, "a", model_path, table)
    b, _, _ = _attribute_cli(tmp_path, "b", model_path, changed)
    assert a["columns"]["age"]["train"]["rows"] == b["columns"]["age"]["train"]["rows"] + 1  # a private statistic
    for out in (json.dumps(a), terminal, html):
        assert "NOT FOR RELEASE" in out and "private training data" in out


def test_canary_audit_states_the_budget_it_spends(tmp_path):
    table = make_table(200)
    table.to_csv(tmp_path / "train.csv", index=False)
    make_hybrid(table).to_csv(tmp_path / "hybrid.csv", index=False)
    res = runner.invoke(app, ["audit", "canary", "--train", str(tmp_path / "train.csv"), "--hybrid",
                              str(tmp_path / "hybrid.csv"), "--target", "y", "--sensitive", ",".join(SENSITIVE),
                              "--drop", "id", "--epsilon", "3", "--delta", "1e-4", "--epochs", "1", "--batch-size",
                              "32", "--public-batch-size", "64", "--canaries", "40", "--no-progress", "--out",
                              str(tmp_path / "c.json"), "--html", str(tmp_path / "c.html")])
    assert res.exit_code == 0, res.output
    d = json.loads((tmp_path / "c.json").read_text())
    spent = f"ε = {d['epsilon_trained']:.4g}"
    for out in (d["budget_spent"], res.output.replace("\n", " "), (tmp_path / "c.html").read_text()):
        assert "retrained" in out and spent in out and "compose" in out


# ------------------------------------------------------------------ 5. low items
def test_repeat_search_progress_does_not_reveal_the_number_of_candidates(capsys, monkeypatch):
    """Before: one progress bar per candidate, so the terminal showed the secret count K."""
    from fusiondp.tune.accounting import draw_repetitions
    from fusiondp.tune.search import tune

    seeds = {}
    for s in range(200):
        seeds.setdefault(draw_repetitions(4.0, 1.0, np.random.default_rng(s)), s)
        if 1 in seeds and 3 in seeds:
            break
    data = encoded_views(128)
    val = (data.x[:64], data.y[:64])
    import fusiondp.tune.search as search
    from dataclasses import replace

    real = search.train
    # Each candidate trains for a few steps only (the test is about what the terminal shows, not the models).
    monkeypatch.setattr(search, "train", lambda m, d, *, config, progress: real(m, d, config=replace(
        config, epochs=0.3), progress=progress))
    outputs = []
    for k in (1, 3):
        tune("fusiondp", data, val, epsilon=2.0, delta=1e-4, mode="repeat", candidates=4.0, progress=True,
             rng=np.random.default_rng(seeds[k]))
        outputs.append(capsys.readouterr())
    texts = [re.sub(r"\s+", " ", o.out + o.err) for o in outputs]
    assert texts[0] == texts[1], texts
    assert "secret" in texts[0]


def test_dpsgd_error_lines_quote_no_training_value_of_a_public_column(tmp_path):
    table = make_table(200)
    hybrid = make_hybrid(table)
    table["hr"] = table["hr"].astype(object)
    table.loc[3, "hr"] = "SECRET123"
    hybrid["hr"] = table["hr"]
    table.to_csv(tmp_path / "train.csv", index=False)
    hybrid.to_csv(tmp_path / "hybrid.csv", index=False)
    make_table(80, seed=5).to_csv(tmp_path / "ref.csv", index=False)
    res = runner.invoke(app, ["train", "--train", str(tmp_path / "train.csv"), "--hybrid", str(tmp_path / "hybrid.csv"),
                              "--public-reference", str(tmp_path / "ref.csv"), "--method", "dpsgd", "--target", "y",
                              "--sensitive", ",".join(SENSITIVE), "--drop", "id", *FAST])
    assert res.exit_code == 1
    assert "SECRET123" not in res.output and "'hr'" in res.output and "row 3" in res.output


def _with_missing_age(table: pd.DataFrame, rows) -> pd.DataFrame:
    t = table.copy()
    t.loc[list(rows), "age"] = np.nan
    return t


def test_a_hybrid_that_copies_the_sensitive_missingness_is_refused():
    """Before: a hybrid with NaN exactly where the true value is missing was accepted, and its missingness
    indicator (public) published the private pattern."""
    table = _with_missing_age(make_table(200), [3, 10, 40])
    for copied in ([3, 10, 40], [10]):  # the whole pattern, or part of it
        hybrid = _with_missing_age(make_hybrid(table), copied)
        with pytest.raises(DataError, match="missing") as e:
            run(table, hybrid, SCHEMA, method="fusiondp", config=TrainConfig(**RUN), progress=False)
        assert not re.search(r"\d", str(e.value)), e.value  # names no row and no count (the private pattern)
    # A hybrid with every sensitive cell imputed is accepted, and so is one whose missing cells are not a copy.
    run(table, make_hybrid(table), SCHEMA, method="fusiondp", config=TrainConfig(**RUN), progress=False)
    run(table, _with_missing_age(make_hybrid(table), [5, 10]), SCHEMA, method="fusiondp", config=TrainConfig(**RUN),
        progress=False)


@pytest.mark.parametrize("copy", ["same file", "shuffled copy"])
def test_validation_table_equal_to_the_training_table_is_refused(tmp_path, copy):
    table = make_table(200)
    table.to_csv(tmp_path / "train.csv", index=False)
    make_hybrid(table).to_csv(tmp_path / "hybrid.csv", index=False)
    val = tmp_path / "train.csv"
    if copy == "shuffled copy":
        val = tmp_path / "val.csv"
        table.sample(frac=1.0, random_state=3).to_csv(val, index=False)
    res = runner.invoke(app, ["train", "--train", str(tmp_path / "train.csv"), "--hybrid", str(tmp_path / "hybrid.csv"),
                              "--val", str(val), "--target", "y", "--sensitive", ",".join(SENSITIVE), "--drop", "id",
                              *FAST])
    assert res.exit_code == 1 and "training" in res.output, res.output


def _sampling_worker(n: int, q: float, steps: int):
    import torch.distributed as tdist

    from fusiondp.train import distributed

    d = distributed.context()
    sent = []
    real = {name: getattr(tdist, name) for name in ("broadcast", "broadcast_object_list", "scatter", "send",
                                                     "all_reduce", "all_gather")}
    for name, fn in real.items():
        setattr(tdist, name, lambda *a, _n=name, _f=fn, **k: sent.append(_n) or _f(*a, **k))
    try:
        secret = distributed.randomness(d, None)
        sizes = [int(distributed.private_sample(d, n, q, secret).numel()) for _ in range(steps)]
    finally:
        for name, fn in real.items():
            setattr(tdist, name, fn)
    lo, hi = d.shard(n)
    total = torch.tensor([float(sum(sizes))])
    tdist.all_reduce(total)
    return sent, secret.local_sampling, type(secret.sampler).__name__, hi - lo, float(total) / steps


def test_no_secret_of_the_sampler_crosses_the_network():
    """Before: rank 0 broadcast the sampler's 63-bit seed in plaintext over the process group."""
    from fusiondp.train import distributed

    n, q, steps = 1000, 0.05, 400
    sent, local, kind, _, mean = distributed.launch(_sampling_worker, 2, (n, q, steps), threads=1, timeout=60,
                                                    start_method="fork")
    assert sent == [] and local and kind == "SecureRandom"
    # The union of the per-rank masks is Poisson sampling of all N rows: mean size qN (sd of the mean ≈ 0.34).
    assert mean == pytest.approx(q * n, abs=2.0)


# ------------------------------------------------------------------ 6. noise and mask from a CSPRNG by default
def test_secure_mode_has_no_seed_to_replay(monkeypatch):
    """An attacker who learns the OS seed replays the seeded generators exactly (--no-secure-rng); the default
    CSPRNG has no seed or state, so pinning every seed source changes nothing."""
    import secrets

    monkeypatch.setattr(secrets, "randbits", lambda k: 12345)  # the attacker knows every seed
    table = make_table(200)
    hybrid = make_hybrid(table)

    def weights(secure: bool):
        r = run(table, hybrid, SCHEMA, method="fusiondp", config=TrainConfig(**RUN, secure_rng=secure),
                progress=False)
        return torch.cat([p.detach().flatten() for p in r[0].model.parameters()]), r[2]

    (a, _), (b, _) = weights(False), weights(False)
    assert torch.equal(a, b)  # seeded mode with a known seed: replayed exactly (the attack works)
    (c, rep), (d, _) = weights(True), weights(True)
    assert not torch.equal(c, d)
    assert rep["rng"] == "os.urandom CSPRNG" and "cryptographically secure" in rep["randomness"]
    assert TrainConfig().secure_rng is True  # the default


def test_secure_noise_is_the_normalised_sum_of_four_draws_and_standard_normal(monkeypatch):
    from fusiondp.privacy import randomness
    from fusiondp.privacy.randomness import SecureRandom

    asked = []
    real = SecureRandom._standard_normal.__func__

    monkeypatch.setattr(SecureRandom, "_standard_normal", classmethod(lambda cls, n: asked.append(n) or real(cls, n)))
    z = SecureRandom.gaussian((50_000,), torch.float64)
    assert asked == [4 * 50_000] and randomness.DRAWS == 4
    assert abs(float(z.mean())) < 0.02 and float(z.std()) == pytest.approx(1.0, abs=0.02)
    assert float(((z - z.mean()) ** 4).mean() / z.var() ** 2) == pytest.approx(3.0, abs=0.15)  # Gaussian kurtosis


def test_secure_poisson_mask_has_the_poisson_law():
    from fusiondp.privacy.randomness import SecureRandom

    n, q, steps = 200, 0.1, 3000
    counts = torch.zeros(n)
    sizes = []
    for _ in range(steps):
        s = SecureRandom.poisson_subset(n, q)
        assert bool((s.diff() > 0).all()) and (s.numel() == 0 or (0 <= int(s[0]) and int(s[-1]) < n))
        counts[s] += 1
        sizes.append(s.numel())
    sizes_t = torch.tensor(sizes, dtype=torch.float64)
    # Tolerances at 5 standard errors: a CSPRNG cannot be seeded, so these draws differ at every run.
    assert float(sizes_t.mean()) == pytest.approx(n * q, abs=0.4)
    assert float(sizes_t.var()) == pytest.approx(n * q * (1 - q), rel=0.13)
    # Each record in with probability q, evenly over the rows (first and last rows included).
    assert float((counts / steps).mean()) == pytest.approx(q, abs=0.005)
    assert float(counts[:20].mean() / steps) == pytest.approx(q, abs=0.02)
    assert float(counts[-20:].mean() / steps) == pytest.approx(q, abs=0.02)
    assert SecureRandom.poisson_subset(5, 1.0).tolist() == [0, 1, 2, 3, 4] and SecureRandom.poisson_subset(5, 0.0).numel() == 0
