"""`fusiondp demo --quick`: runs end to end with the library defaults and writes its reports.

With the defaults rule (not settings hand-picked for the demo) fusiondp and dpsgd are within run-to-run noise of
each other on this synthetic table (test AUROC about 0.87-0.88 each), so the test checks that both learn, not
which one leads."""

import json

from typer.testing import CliRunner

from fusiondp.cli.app import _load_commands, app
from fusiondp.data.synthetic import make_icu


def test_generator_is_seeded_and_disjoint():
    a, b = make_icu(n_train=100, n_support=20, n_val=20, n_test=20, seed=3), make_icu(n_train=100, n_support=20,
                                                                                      n_val=20, n_test=20, seed=3)
    assert a.frames["train"].equals(b.frames["train"])
    ids = [set(f["stay_id"]) for f in a.frames.values()]
    assert sum(map(len, ids)) == len(set().union(*ids))


def test_demo_quick(tmp_path):
    _load_commands()
    res = CliRunner().invoke(app, ["demo", "--quick", "--out", str(tmp_path), "--no-progress"])
    assert res.exit_code == 0, res.output
    rows = {r["method"]: r for r in json.loads((tmp_path / "comparison.json").read_text())["rows"]}
    assert rows["fusiondp"]["auroc"] > 0.8 and rows["dpsgd"]["auroc"] > 0.8
    assert rows["fusiondp"]["epsilon"] <= 2.0 and rows["dpsgd"]["relation"] == "add_remove"
    for name in ("fusiondp.html", "dpsgd.html", "fusiondp.json", "fusiondp.safetensors"):
        assert (tmp_path / name).is_file(), name
    assert " leads by " in res.output and "fusiondp.html" in res.output
