"""Is the default release ever below the free models? Per table, method and ε, from the runs of `benchmarks/trees.py`
and `benchmarks/blend.py` (and optionally `benchmarks/equal_protection.py`'s record-level `dpsgd`).

Issue 25's target: on every table and ε the default release is ≥ `sgd_hybrid` (the network on the hybrid rows,
ε = 0) and ≥ the tree public stage (`hybrid_trees`, ε = 0). Means hide single noise draws, so this counts runs:
for each private method and ε, how many runs have a test AUROC below the public stage, below `sgd_hybrid`'s mean
over seeds, and below the `sgd_hybrid` run of the same seed.

    python benchmarks/release_floor.py --trees docs/results/trees_runs_r6_fresh.jsonl \\
        --blend docs/results/blend_runs_r6_fresh.jsonl --eqp docs/results/equal_protection_runs_r6_fresh.jsonl

Prints one markdown table per table (test AUROC and AUPR, mean ± std over seeds).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path


def _rows(path: Path | None) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path else []


def _ms(v: list[float]) -> str:
    return f"{statistics.mean(v):.3f} ± {statistics.stdev(v) if len(v) > 1 else 0.0:.3f}"


def _released(what: list) -> str:
    """What the release guard released, counted (the tree learner: private / public / sgd_hybrid)."""
    counts = {w: what.count(w) for w in dict.fromkeys(what) if w is not None}
    return ", ".join(f"{w} {n}" for w, n in counts.items()) or "–"


def report(trees: list[dict], blend: list[dict], eqp: list[dict]) -> str:
    out = []
    for name in dict.fromkeys(r["dataset"] for r in trees):
        t = [r for r in trees if r["dataset"] == name]
        public = next(r["test"]["auroc"] for r in t if r["method"] == "hybrid_trees")
        public_pr = next(r["test"]["aupr"] for r in t if r["method"] == "hybrid_trees")
        sgd = {r["seed"]: r["test"] for r in t if r["method"] == "sgd_hybrid"}
        sgd_mean = statistics.mean(m["auroc"] for m in sgd.values())
        # (label, ε, [(seed, ε spent, ε replace, test metrics, released)])
        groups: dict[tuple[str, float], list] = {}
        for r in t:
            if r["method"] == "fusiondp_trees":
                groups.setdefault(("trees (`benchmarks/trees.py`)", r["epsilon_target"]), []).append(
                    (r["seed"], r["epsilon"], r["replace_epsilon"], r["test"], r.get("released")))
        for r in blend:
            if r["dataset"] == name and not r["design"]:
                label = {"trees": "trees (`benchmarks/blend.py`)", "mlp": "mlp `fusiondp` (release guard)",
                         "blend": f"blend (tree share {r.get('tree_share')})"}[r["learner"]]
                released = r.get("released")
                if isinstance(released, dict):  # the blend: each part's guard
                    released = " + ".join(f"{k} {v}" for k, v in sorted(released.items()))
                groups.setdefault((label, r["epsilon_target"]), []).append(
                    (r["seed"], r["epsilon"], r["epsilon_replace"], r["test"], released))
        lines = [f"### {name}", "",
                 f"Public stage `hybrid_trees`: test AUROC {public:.3f}, AUPR {public_pr:.3f} (deterministic). "
                 f"`sgd_hybrid`: AUROC {_ms([m['auroc'] for m in sgd.values()])}, "
                 f"AUPR {_ms([m['aupr'] for m in sgd.values()])} ({len(sgd)} seeds).", "",
                 "| method | ε | ε spent (remove) | ε (replace) | test AUROC | test AUPR | runs < public stage "
                 "| runs < `sgd_hybrid` mean | runs < same-seed `sgd_hybrid` | released | runs |",
                 "|---|---|---|---|---|---|---|---|---|---|---|"]
        for (label, eps), g in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            auc = [m["auroc"] for _, _, _, m, _ in g]
            paired = sum(m["auroc"] < sgd[s]["auroc"] for s, _, _, m, _ in g if s in sgd)
            lines.append(f"| {label} | {eps:g} | {max(e for _, e, _, _, _ in g):.3f} | "
                         f"{max(e for _, _, e, _, _ in g):.3f} | {_ms(auc)} | {_ms([m['aupr'] for *_, m, _ in g])} | "
                         f"{sum(a < public for a in auc)} (lowest {min(auc):.3f}) | {sum(a < sgd_mean for a in auc)} | "
                         f"{paired} | {_released([x for *_, x in g])} | {len(g)} |")
        e = [r for r in eqp if r["dataset"] == name]
        if e:
            lines += ["", "Reference (`benchmarks/equal_protection.py`: the MLP, no release guard; test AUROC):",
                      "", "| ε | " + " | ".join(dict.fromkeys(r["variant"] for r in e)) + " |",
                      "|---|" + "---|" * len(dict.fromkeys(r["variant"] for r in e))]
            for eps in sorted({r["epsilon"] for r in e}):
                cells = [[r["test_auroc"] for r in e if r["epsilon"] == eps and r["variant"] == v]
                         for v in dict.fromkeys(r["variant"] for r in e)]
                lines.append(f"| {eps:g} | " + " | ".join(f"{_ms(c)} ({len(c)})" if c else "–" for c in cells) + " |")
        out.append("\n".join(lines))
    return "\n\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trees", type=Path, required=True, help="runs of benchmarks/trees.py (with its guard)")
    ap.add_argument("--blend", type=Path, default=None, help="runs of benchmarks/blend.py")
    ap.add_argument("--eqp", type=Path, default=None, help="runs of benchmarks/equal_protection.py")
    args = ap.parse_args()
    print(report(_rows(args.trees), _rows(args.blend), _rows(args.eqp)))


if __name__ == "__main__":
    main()
