"""Round 8: which learner should a default run train? The blend learner against the round-7 default release.

Reads runs already made (no training here): the round-7 default release per run (the network with its full
release guard, `benchmarks/default_release.py`, rule "round 7 (with the blend)") and the blend learner at its
defaults (`benchmarks/blend.py --learners blend`), and prints, per binary table and ε, the mean validation and
test AUROC of both, the blend runs below the tree public stage and below the same seed's `sgd_hybrid` (their
test scores recorded by the release runs), then both pooled over the tables whose validation split is not their
support set (sepsis's is: in-sample for the weight choice). The rule, written before the blend runs were made: the default becomes the
blend where it can run if its pooled validation mean is at least the round-7 default's.

    python benchmarks/default_learner.py \\
        --release docs/results/default_release_runs_r7.jsonl \\
        --blend docs/results/blend_runs_r8_default.jsonl
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def rows(files: list[str]) -> list[dict]:
    return [json.loads(line) for f in files for line in Path(f).read_text().splitlines() if line.strip()]


def table(release: list[dict], blend: list[dict]) -> str:
    from default_release import RULES, by_rule

    shipped = RULES[2]
    out = ["| table | ε | round-7 default (val) | blend learner (val) | round-7 default (test) | blend learner (test) "
           "| blend − default (test) | blend runs < tree public stage | blend runs < same-seed `sgd_hybrid` "
           "| runs (default / blend) |", "|---|---|---|---|---|---|---|---|---|---|"]
    pooled = {k: [] for k in ("dv", "bv", "dt", "bt")}
    mean = statistics.mean
    metric = {r["dataset"]: r["metric"] for r in release}  # one headline metric per table
    tables = [d for d in metric if metric[d] == "auroc" and any(b["dataset"] == d for b in blend)]
    for d in tables:
        # The free models' test scores, from the release runs (one tree stage per table, sgd_hybrid per seed).
        runs = [r for r in release if r["dataset"] == d]
        stage, free = runs[0]["test"]["hybrid_trees"], {r["seed"]: r["test"]["sgd_hybrid"] for r in runs}
        for e in sorted({r["epsilon_target"] for r in runs}):
            g = [r for r in runs if r["epsilon_target"] == e]
            b = [r for r in blend if (r["dataset"], r["epsilon_target"]) == (d, e) and r["learner"] == "blend"
                 and not r.get("design")]
            if not b:
                continue
            dv, dt = mean(by_rule(r, "val")[shipped] for r in g), mean(by_rule(r, "test")[shipped] for r in g)
            bv, bt = mean(r["val"]["auroc"] for r in b), mean(r["test"]["auroc"] for r in b)
            in_sample = g[0].get("val_is_support", False)
            mark = " (in-sample)" if in_sample else ""
            below_stage = sum(r["test"]["auroc"] < stage - 1e-12 for r in b)
            below_free = sum(r["test"]["auroc"] < free[r["seed"]] - 1e-12 for r in b if r["seed"] in free)
            out.append(f"| {d} | {e:g} | {dv:.4f}{mark} | {bv:.4f}{mark} | {dt:.4f} | {bt:.4f} | {bt - dt:+.4f} | "
                       f"{below_stage} | {below_free} | {len(g)} / {len(b)} |")
            if not in_sample:
                pooled["dv"].append(dv)
                pooled["bv"].append(bv)
            pooled["dt"].append(dt)
            pooled["bt"].append(bt)
    c = lambda v: f"{mean(v):.4f}" if v else "–"
    out.append(f"| pooled (val: tables whose validation split is not the support set) | | {c(pooled['dv'])} | "
               f"{c(pooled['bv'])} | {c(pooled['dt'])} | {c(pooled['bt'])} | "
               f"{mean(pooled['bt']) - mean(pooled['dt']):+.4f} | | | |")
    rule = ("the blend becomes the default (pooled validation mean at least the round-7 default's)"
            if pooled["bv"] and mean(pooled["bv"]) >= mean(pooled["dv"]) else
            "the network stays the default (pooled validation mean below the round-7 default's)")
    return "\n".join(out) + f"\n\nRule: {rule}."


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--release", nargs="+", required=True, help="default_release.py runs (.jsonl)")
    ap.add_argument("--blend", nargs="+", required=True, help="blend.py runs (.jsonl)")
    a = ap.parse_args()
    print(table(rows(a.release), rows(a.blend)))


if __name__ == "__main__":
    main()
