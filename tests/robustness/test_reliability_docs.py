"""docs/reliability.md is generated from the robustness table: the committed file must match."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_reliability_docs_up_to_date():
    spec = importlib.util.spec_from_file_location("gen_reliability_docs", ROOT / "scripts" / "gen_reliability_docs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert (ROOT / "docs" / "reliability.md").read_text() == mod.generate(), \
        "docs/reliability.md is stale: run `python scripts/gen_reliability_docs.py`"
