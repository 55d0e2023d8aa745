"""Regime map (issue 16 item 3): when does feature-level DP beat record-level `dpsgd`?

Grid: training-set size N (seeded subsamples of the training rows) × ε × seed, on sepsis and Adult, with the
defaults rule's settings (`TrainConfig(epsilon, delta=1e-5, seed, relation)`, resolved by the engine from the
subsample's N), so every setting is what a user with N rows and budget ε would get.

Per (dataset, seed, N, ε): `fusiondp` and `fdp_fm` (zero-out ε), `dpsgd` at equal nominal ε (add/remove) and
`dpsgd` at equal protection (replace-one ε, so its guarantee for the sensitive columns under zero-out is ≤ ε;
docs/results/equal_protection.md). Per (dataset, seed, N): `sgd_hybrid` and `sgd_ori` (non-private references).

Subsampling (`fusiondp.bench.subsample.subsample_bench`): the first N rows of a numpy ``default_rng(seed)``
permutation of the training rows, the same rows in every view and in `dpsgd`'s record-level encoding;
validation, test and support unchanged; preprocessing and the hybrid table not refitted (fitted on public data:
the full hybrid table / the support set).

Cell of the map: mean over seeds of (best feature-level − `dpsgd`) test AUROC, where "best feature-level" is
whichever of `fusiondp` and `fdp_fm` has the higher mean *validation* AUROC in that cell (selection on
validation, reported on test).

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/regime_map.py --seeds 0 --out docs/results/regime_map_runs.jsonl
    PYTHONPATH=src python benchmarks/regime_map.py --report docs/results/regime_map_runs.jsonl \
        --page docs/results/regime_map.md

`--report` writes docs/results/img/regime_map.png and (with `--page`) docs/results/regime_map.md, keeping the
page's hand-written reading; without `--page` it prints the tables.
The run is resumable: finished (dataset, seed, N, ε, variant) rows in `--out` are skipped.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from fusiondp.bench.registry import get_dataset
from fusiondp.bench.subsample import subsample_bench
from fusiondp.evaluate.metrics import classification_metrics, predict_scores
from fusiondp.train.config import TrainConfig
from fusiondp.train.engine import train

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ("sepsis", "adult")
SIZES = ("1000", "2000", "5000", "10000", "full")
EPSILONS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
DELTA = 1e-5
#: (variant label, method, relation) of the private runs.
PRIVATE = (("fusiondp", "fusiondp", "remove"), ("fdp_fm", "fdp_fm", "remove"),
           ("dpsgd_nominal", "dpsgd", "remove"), ("dpsgd_protection", "dpsgd", "replace"))
NONPRIVATE = ("sgd_hybrid", "sgd_ori")
VIEWS = (("dpsgd_nominal", "equal nominal ε (dpsgd add/remove)"),
         ("dpsgd_protection", "equal protection (dpsgd replace-one)"))


def _key(r: dict) -> tuple:
    return (r["dataset"], r["seed"], r["n_label"], r["epsilon"], r["variant"])


def _load(paths: list[Path]) -> list[dict]:
    return [json.loads(line) for p in paths if p.exists() for line in p.read_text().splitlines() if line.strip()]


def run(datasets: list[str], seeds: list[int], sizes: list[str], epsilons: list[float], out: Path, *,
        variants: list[str] | None = None) -> None:
    """Train every missing cell of the grid (only `variants` when given), appending one JSON line per run."""
    private = [v for v, _, _ in PRIVATE if variants is None or v in variants]
    nonprivate = [v for v in NONPRIVATE if variants is None or v in variants]
    torch.set_num_threads(1)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = {_key(r) for r in _load([out])}
    for seed in seeds:  # all of seed 0 first, so a cut-short run still covers the whole map once
        for name in datasets:
            full = None
            for n_label in sizes:
                todo = [(e, v) for e in epsilons for v in private if (name, seed, n_label, e, v) not in done]
                todo += [(None, v) for v in nonprivate if (name, seed, n_label, None, v) not in done]
                if not todo:
                    continue
                if full is None:
                    full = get_dataset(name).prepare(None, seed)
                n = full.data.n if n_label == "full" else int(n_label)
                if n > full.data.n:
                    print(f"skip {name} N={n}: only {full.data.n} training rows", flush=True)
                    continue
                bench = subsample_bench(full, n, seed)
                for eps, variant in todo:
                    method, relation = ({v: (m, r) for v, m, r in PRIVATE}.get(variant, (variant, "remove")))
                    b = bench.record_level if method == "dpsgd" else bench
                    cfg = TrainConfig(epsilon=eps, delta=DELTA, seed=seed, relation=relation)
                    t0 = time.perf_counter()
                    res = train(method, b.data, config=cfg, progress=False)
                    secs = time.perf_counter() - t0
                    val = classification_metrics(b.val[1].numpy(), predict_scores(res.model, b.val[0]))
                    test = classification_metrics(b.test[1].numpy(), predict_scores(res.model, b.test[0]))
                    c = res.config
                    row = {"dataset": name, "seed": seed, "n_label": n_label, "n": n, "n_full": full.data.n,
                           "epsilon": eps, "variant": variant, "method": method,
                           "relation": res.plan.relation if res.plan else None,
                           "sigma": res.plan.noise_multiplier if res.plan else None,
                           "spent": res.epsilon, "steps": res.steps, "batch_size": c.batch_size, "epochs": c.epochs,
                           "lr": c.lr, "clip": c.clip, "alpha": c.alpha, "val_auroc": val["auroc"],
                           "test_auroc": test["auroc"], "seconds": round(secs, 2)}
                    with out.open("a") as fh:
                        fh.write(json.dumps(row) + "\n")
                    print(json.dumps(row), flush=True)


# --------------------------------------------------------------------------- report
def _cells(rows: list[dict]) -> dict:
    """{(dataset, n_label, ε, variant): {seed: row}} (the last row of a key wins)."""
    cells: dict[tuple, dict[int, dict]] = {}
    for r in rows:
        cells.setdefault((r["dataset"], r["n_label"], r["epsilon"], r["variant"]), {})[r["seed"]] = r
    return cells


def regime(rows: list[dict]) -> dict:
    """Per (dataset, view, n_label, ε): the map cell, or absent when a variant is missing.

    Each cell: ``best`` (fusiondp or fdp_fm, by mean validation AUROC over the seeds both have), ``diff`` (mean
    over seeds of best − dpsgd test AUROC, on the seeds all three runs share), ``std`` (seed std of that
    difference, None with one seed), ``seeds``, and the mean test AUROCs ``feat`` and ``dpsgd``.
    """
    cells = _cells(rows)
    res = {}
    for (name, n_label, eps, variant) in list(cells):
        if variant != "fusiondp":
            continue
        fus, fm = cells[(name, n_label, eps, "fusiondp")], cells.get((name, n_label, eps, "fdp_fm"), {})
        shared = sorted(set(fus) & set(fm))
        if not shared:
            continue
        mv = lambda runs: statistics.mean(runs[s]["val_auroc"] for s in shared)  # noqa: E731
        best_name, best = ("fusiondp", fus) if mv(fus) >= mv(fm) else ("fdp_fm", fm)
        for view, _ in VIEWS:
            dp = cells.get((name, n_label, eps, view), {})
            seeds = [s for s in shared if s in dp]
            if not seeds:
                continue
            d = [best[s]["test_auroc"] - dp[s]["test_auroc"] for s in seeds]
            res[(name, view, n_label, eps)] = {
                "best": best_name, "diff": statistics.mean(d), "std": statistics.stdev(d) if len(d) > 1 else None,
                "seeds": len(seeds), "feat": statistics.mean(best[s]["test_auroc"] for s in seeds),
                "dpsgd": statistics.mean(dp[s]["test_auroc"] for s in seeds),
                "sigma_feat": best[seeds[0]]["sigma"], "sigma_dpsgd": dp[seeds[0]]["sigma"]}
    return res


def _sizes(rows: list[dict], name: str) -> list[str]:
    present = {r["n_label"] for r in rows if r["dataset"] == name}
    return [s for s in SIZES if s in present]


def _n_text(rows: list[dict], name: str, n_label: str) -> str:
    if n_label != "full":
        return f"{int(n_label):,}"
    n = next(r["n"] for r in rows if r["dataset"] == name and r["n_label"] == "full")
    return f"full ({n:,})"


def heatmaps(rows: list[dict], path: Path) -> None:
    """2×2 panels (dataset × view): rows N, columns ε, colour = best feature-level − dpsgd test AUROC."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.colors import TwoSlopeNorm

    reg = regime(rows)
    names = [d for d in DATASETS if any(k[0] == d for k in reg)]
    lim = max([abs(c["diff"]) for c in reg.values()] + [0.01])
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-lim, vmax=lim)
    fig, axes = plt.subplots(len(names), len(VIEWS), figsize=(6.6 * len(VIEWS), 3.6 * len(names)), squeeze=False,
                             layout="constrained")
    for i, name in enumerate(names):
        sizes = _sizes(rows, name)
        for j, (view, title) in enumerate(VIEWS):
            ax = axes[i][j]
            grid = np.full((len(sizes), len(EPSILONS)), np.nan)
            for a, n_label in enumerate(sizes):
                for b, eps in enumerate(EPSILONS):
                    c = reg.get((name, view, n_label, eps))
                    if c is None:
                        continue
                    grid[a, b] = c["diff"]
                    mark = "" if c["best"] == "fusiondp" else " M"
                    ax.text(b, a, f"{c['diff']:+.3f}{mark}", ha="center", va="center", fontsize=8,
                            color="white" if abs(c["diff"]) > 0.6 * lim else "black")
            im = ax.imshow(grid, cmap="RdBu", norm=norm, aspect="auto")
            ax.set_xticks(range(len(EPSILONS)), [f"{e:g}" for e in EPSILONS])
            ax.set_yticks(range(len(sizes)), [_n_text(rows, name, s) for s in sizes])
            ax.set_xlabel("ε")
            ax.set_ylabel("training rows N")
            ax.set_title(f"{name}: {title}", fontsize=10)
    fig.colorbar(im, ax=axes, shrink=0.8, label="best feature-level − dpsgd test AUROC (blue: feature-level ahead)")
    seeds = sorted({r["seed"] for r in rows})
    fig.suptitle(f"Regime map (defaults rule, δ = 1e-5, mean over seeds {', '.join(map(str, seeds))}; "
                 "M: fdp_fm selected on validation, else fusiondp)", fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def tables(rows: list[dict]) -> str:
    """Markdown: per dataset and view, the map's numbers (± seed std), the selected method and the seeds."""
    reg = regime(rows)
    cells = _cells(rows)
    ms = lambda xs: f"{statistics.mean(xs):.3f}" + (f" ± {statistics.stdev(xs):.3f}" if len(xs) > 1 else "")  # noqa: E731
    out = []
    for name in DATASETS:
        sizes = _sizes(rows, name)
        if not sizes:
            continue
        for view, title in VIEWS:
            out.append(f"\n**{name}, {title}**: best feature-level − `dpsgd` test AUROC, mean ± seed std "
                       "[selected method: F = `fusiondp`, M = `fdp_fm`; seeds]\n")
            out.append("| N | " + " | ".join(f"ε = {e:g}" for e in EPSILONS) + " |")
            out.append("|---|" + "---|" * len(EPSILONS))
            for n_label in sizes:
                parts = []
                for eps in EPSILONS:
                    c = reg.get((name, view, n_label, eps))
                    if c is None:
                        parts.append("–")
                        continue
                    sd = f" ± {c['std']:.3f}" if c["std"] is not None else ""
                    parts.append(f"{c['diff']:+.3f}{sd} [{'F' if c['best'] == 'fusiondp' else 'M'}; {c['seeds']}]")
                out.append(f"| {_n_text(rows, name, n_label)} | " + " | ".join(parts) + " |")
        out.append(f"\n**{name}, test AUROC of every run** (mean ± seed std; σ of the first seed in brackets)\n")
        labels = [v for v, _, _ in PRIVATE]
        out.append("| N | ε | " + " | ".join(f"`{v}`" for v in labels) + " | `sgd_hybrid` | `sgd_ori` |")
        out.append("|---|---|" + "---|" * (len(labels) + 2))
        for n_label in sizes:
            ref = [cells.get((name, n_label, None, v), {}) for v in NONPRIVATE]
            ref_txt = [ms([r["test_auroc"] for r in c.values()]) if c else "–" for c in ref]
            for eps in EPSILONS:
                if not any((name, n_label, eps, v) in cells for v in labels):
                    continue
                vals = []
                for v in labels:
                    c = cells.get((name, n_label, eps, v), {})
                    vals.append(f"{ms([r['test_auroc'] for r in c.values()])} ({next(iter(c.values()))['sigma']:.2f})"
                                if c else "–")
                out.append(f"| {_n_text(rows, name, n_label)} | {eps:g} | " + " | ".join(vals) + " | "
                           + " | ".join(ref_txt) + " |")
    return "\n".join(out)


READING_START, READING_END = "<!-- reading: kept by --report -->", "<!-- /reading -->"
COMMANDS = """```bash
# one process at a time, 2 shared CPU cores; resumable (finished runs in the file are skipped)
export OMP_NUM_THREADS=1 PYTHONPATH=src
python benchmarks/regime_map.py --seeds 0 --only private --out docs/results/regime_map_runs.jsonl
python benchmarks/regime_map.py --seeds 0 --only sgd_hybrid --out docs/results/regime_map_runs.jsonl
python benchmarks/regime_map.py --seeds 1 --only private --out docs/results/regime_map_runs.jsonl
python benchmarks/regime_map.py --seeds 0 --only sgd_ori --out docs/results/regime_map_runs.jsonl
python benchmarks/regime_map.py --seeds 2 --only private --out docs/results/regime_map_runs.jsonl
python benchmarks/regime_map.py --seeds 1,2 --only nonprivate --out docs/results/regime_map_runs.jsonl
python benchmarks/regime_map.py --report docs/results/regime_map_runs.jsonl --page docs/results/regime_map.md
```"""


def summary(rows: list[dict], tie: float = 0.005) -> str:
    """Per dataset and view: how many cells have feature-level ahead / within ±tie / behind, and the seeds."""
    reg = regime(rows)
    out = [f"| table | view | cells | seeds per cell | feature-level ahead by > {tie} | within ±{tie} | "
           f"`dpsgd` ahead by > {tie} | `fdp_fm` selected |", "|---|---|---|---|---|---|---|---|"]
    for name in DATASETS:
        for view, title in VIEWS:
            cs = [c for k, c in reg.items() if k[0] == name and k[1] == view]
            if not cs:
                continue
            seeds = sorted({c["seeds"] for c in cs})
            seed_txt = str(seeds[0]) if len(seeds) == 1 else f"{seeds[0]}–{seeds[-1]}"
            out.append(f"| {name} | {title} | {len(cs)} | {seed_txt} | {sum(c['diff'] > tie for c in cs)} | "
                       f"{sum(abs(c['diff']) <= tie for c in cs)} | {sum(c['diff'] < -tie for c in cs)} | "
                       f"{sum(c['best'] == 'fdp_fm' for c in cs)} |")
    return "\n".join(out)


def coverage(rows: list[dict]) -> str:
    """Markdown: which runs the file holds, per dataset and variant (cells of the full grid, seeds)."""
    out = ["| table | variant | runs | of the full grid (3 seeds) | seeds |", "|---|---|---|---|---|"]
    for name in DATASETS:
        for v in [v for v, _, _ in PRIVATE] + list(NONPRIVATE):
            rs = [r for r in rows if r["dataset"] == name and r["variant"] == v]
            if not rs:
                continue
            grid = len(SIZES) * (len(EPSILONS) if v not in NONPRIVATE else 1) * 3
            seeds = sorted({r["seed"] for r in rs})
            out.append(f"| {name} | `{v}` | {len(rs)} | {grid} | {', '.join(map(str, seeds))} |")
    return "\n".join(out)


def page(rows: list[dict], image: Path, old: str | None) -> str:
    """docs/results/regime_map.md: commands, map, summary, tables; the hand-written reading of `old` is kept."""
    reading = f"{READING_START}\n## Reading\n\n(not written yet)\n{READING_END}"
    if old and READING_START in old and READING_END in old:
        reading = old[old.index(READING_START):old.index(READING_END) + len(READING_END)]
    seeds = sorted({r["seed"] for r in rows})
    full = {r["dataset"]: r["n_full"] for r in rows}
    sizes = ", ".join(f"{n} full = {v:,}" for n, v in full.items())
    return f"""# Regime map: when does feature-level DP beat record-level `dpsgd`?

Issue 16 item 3. Training-set size N × ε on sepsis and Adult, with the **defaults rule's settings** (no tuning:
`TrainConfig(epsilon=ε, delta=1e-5, seed=s, relation=...)`, resolved by the engine from N, so batch, steps, C
and α are what a user with N rows and budget ε gets; docs/training.md, "Default settings"). Seeds present:
{", ".join(map(str, seeds))} (the tables give the seeds of every cell). User-facing summary:
[when to use feature-level DP](../when_to_use_feature_level_dp.md).

Made by (regenerates this page and the image; the reading section below is kept):

{COMMANDS}

Runs: [regime_map_runs.jsonl](regime_map_runs.jsonl) (one line per training run: settings, σ, ε spent,
validation and test AUROC, seconds). The file holds:

{coverage(rows)}

**Set-up.**

* **N**: 1,000 / 2,000 / 5,000 / 10,000 / full ({sizes}) training rows: the first N of a numpy
  `default_rng(seed)` permutation of the training rows (`fusiondp.bench.subsample`), the *same* records in every
  view (original, hybrid, noise, reference) and in `dpsgd`'s record-level encoding. Validation, test and the public
  support set are unchanged.
* **Preprocessing is not refitted** on the subsample: the feature-level encoding is fitted on the full hybrid
  table (sensitive columns on support ∪ hybrid) and `dpsgd`'s on the support set only. Both are public by
  construction (the hybrid table reads no sensitive training value), so this reads no private value, but a user
  with only N rows would fit it on their N hybrid rows; the imputer (fitted on the support set) is also unchanged.
* **Methods**: `fusiondp` and `fdp_fm` calibrated for ε under zero-out (`remove`); `dpsgd` in two views
  ([equal_protection.md](equal_protection.md)): **equal nominal ε** (add/remove at ε, the paper's comparison) and
  **equal protection** (`relation="replace"`: replace-one at ε, so its guarantee for the sensitive columns under
  zero-out is at most ε, like the feature-level methods'). `sgd_hybrid` (ε = 0 for the sensitive columns; labels
  unprotected) and `sgd_ori` (non-private) are references, once per (N, seed).
* **Map cell**: mean over seeds of (best feature-level − `dpsgd`) test AUROC, where *best feature-level* is
  whichever of `fusiondp` and `fdp_fm` has the higher mean **validation** AUROC in that cell (selected on
  validation, reported on test; the selection is between two runs on the same private rows, whose ε compose: the
  released model's cost is up to 2ε by plain composition, not counted here, as in every benchmark table).
  Positive (blue): feature-level ahead. δ = 1e-5 throughout. The Poisson mask and the noise come from OS
  entropy, so reruns differ by run-to-run noise.

![regime map](img/regime_map.png)

Cell counts (ahead / tie / behind by more than 0.005 AUROC):

{summary(rows)}

{reading}

## Tables
{tables(rows)}
"""


def _variants(only: str | None) -> list[str] | None:
    """`--only` as a list of variant names (None: all)."""
    if not only:
        return None
    groups = {"private": [v for v, _, _ in PRIVATE], "nonprivate": list(NONPRIVATE)}
    names = [v for part in only.split(",") for v in groups.get(part, [part])]
    unknown = sorted(set(names) - set(groups["private"]) - set(groups["nonprivate"]))
    if unknown:
        raise SystemExit(f"--only: unknown variant(s) {', '.join(unknown)}")
    return names


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--sizes", default=",".join(SIZES))
    ap.add_argument("--epsilons", default=",".join(f"{e:g}" for e in EPSILONS))
    ap.add_argument("--only", help="comma-separated variants to run, or 'private' / 'nonprivate' (default: all): "
                    + ", ".join([v for v, _, _ in PRIVATE] + list(NONPRIVATE)))
    ap.add_argument("--out", type=Path, default=Path("bench_out/regime_map.jsonl"))
    ap.add_argument("--report", nargs="*", type=Path)
    ap.add_argument("--image", type=Path, default=ROOT / "docs/results/img/regime_map.png")
    ap.add_argument("--page", type=Path, help="with --report: write the results page here (its reading is kept)")
    a = ap.parse_args()
    if a.report:
        rows = _load(a.report)
        heatmaps(rows, a.image)
        if a.page:
            old = a.page.read_text() if a.page.exists() else None
            a.page.write_text(page(rows, a.image, old))
            print(f"wrote {a.page} and {a.image}")
        else:
            print(summary(rows) + "\n" + tables(rows))
        return
    run(a.datasets.split(","), [int(s) for s in a.seeds.split(",")], a.sizes.split(","),
        [float(e) for e in a.epsilons.split(",")], a.out, variants=_variants(a.only))


if __name__ == "__main__":
    main()
