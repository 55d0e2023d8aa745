"""Before/after numbers of docs/results/privacy_review.md (round 2, issue 23): the attacks of the tests, printed.

Runs `fusiondp train` (dpsgd, --val, a public reference table) on a synthetic table of 2,000 rows and on the same
table without row 17, same --seed, and prints the released public-baseline score of both runs; then trains dpsgd
with a checkpoint on the table and on the table with one label flipped and prints whether the checkpoint's data
binding differs. Run it against any checkout to compare:

    PYTHONPATH=src python benchmarks/privacy_round2.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from typer.testing import CliRunner  # noqa: E402

from tables import SENSITIVE, make_hybrid, make_table  # noqa: E402
from fusiondp.cli.app import _load_commands, app  # noqa: E402

FAST = ["--epochs", "2", "--batch-size", "64", "--public-batch-size", "128", "--delta", "1e-4", "--no-progress"]


def train(folder: Path, table, *extra: str) -> dict:
    folder.mkdir()
    table.to_csv(folder / "train.csv", index=False)
    make_hybrid(table).to_csv(folder / "hybrid.csv", index=False)
    make_table(400, seed=5).to_csv(folder / "reference.csv", index=False)
    make_table(400, seed=7).to_csv(folder / "val.csv", index=False)
    res = CliRunner().invoke(app, ["train", "--train", str(folder / "train.csv"), "--hybrid",
                                   str(folder / "hybrid.csv"), "--public-reference", str(folder / "reference.csv"),
                                   "--method", "dpsgd", "--target", "y", "--sensitive", ",".join(SENSITIVE), "--drop",
                                   "id", "--report", str(folder / "run.json"), *FAST, *extra])
    assert res.exit_code == 0, res.output
    return json.loads((folder / "run.json").read_text())


def main() -> None:
    _load_commands()
    table = make_table(2000)
    minus = table.drop(index=17).reset_index(drop=True)
    flipped = table.copy()
    flipped.loc[17, "y"] = 1 - flipped.loc[17, "y"]
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        a = train(t / "a", table, "--val", str(t / "a" / "val.csv"))["public_baseline"]["baseline"]
        b = train(t / "b", minus, "--val", str(t / "b" / "val.csv"))["public_baseline"]["baseline"]
        print(f"dpsgd --val public baseline AUROC: all 2000 rows {a:.5f}, without row 17 {b:.5f} "
              f"({'identical' if a == b else 'DIFFERENT: membership oracle'})")
        from fusiondp.train.checkpoint import read

        digests = []
        for name, frame in (("c", table), ("d", flipped)):
            train(t / name, frame, "--checkpoint", str(t / f"{name}.ckpt"))
            digests.append(read(t / f"{name}.ckpt")[0]["run"]["data_sha256"])
        print(f"dpsgd checkpoint data binding after flipping one label: "
              f"{'unchanged' if digests[0] == digests[1] else 'CHANGED: the label can be confirmed'}")


if __name__ == "__main__":
    main()
