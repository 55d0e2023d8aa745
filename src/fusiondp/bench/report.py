"""Aggregate benchmark records into a results page (mean ± std table) and a headline-vs-ε plot.

The page is regenerated from the JSONL file; a hand-written section between
``<!-- reading:start -->`` and ``<!-- reading:end -->`` in an existing page is kept.
"""

from __future__ import annotations

import json
import math
import re
import statistics
from collections import defaultdict
from pathlib import Path

from fusiondp.bench.registry import get_dataset
from fusiondp.bench.runner import load_records, select, variant
from fusiondp.evaluate.labels import METRIC_LABELS
from fusiondp.train.methods import METHODS

__all__ = ["aggregate", "write_report", "plot"]

_KEEP = re.compile(r"<!-- reading:start -->.*?<!-- reading:end -->", re.S)
_NAMES = {**METRIC_LABELS, "f1": "F1 (at 0.5)"}


def _ms(values: list[float]) -> tuple[float, float]:
    vals = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not vals:
        return math.nan, math.nan
    return statistics.fmean(vals), statistics.stdev(vals) if len(vals) > 1 else 0.0


def aggregate(records: list[dict], metrics: tuple[str, ...], split: str = "test") -> list[dict]:
    """One row per (method, ε): mean and std over seeds of each metric, spent ε and σ."""
    groups: dict[tuple[str, float | None], list[dict]] = defaultdict(list)
    for r in records:
        if r.get("phase", "bench") == "bench" and split in r:
            groups[(variant(r), r["epsilon"])].append(r)
    names = list(METHODS)
    order = {m: i for i, m in enumerate([*names[:3], "ebm", names[3], "dpsgd (equal protection)", "dp_ebm",
                                         *names[4:]])}
    rows = []
    for (m, e), rs in sorted(groups.items(), key=lambda kv: (order.get(kv[0][0], 99), kv[0][1] or -1)):
        row = {"method": m, "epsilon": e, "n": len(rs), "seeds": sorted(r["seed"] for r in rs),
               "spent_epsilon": _ms([r["spent_epsilon"] for r in rs])[0] if e is not None else None,
               "sigma": _ms([r["sigma"] for r in rs])[0] if e is not None else None,
               "seconds": _ms([r["seconds"] for r in rs])[0]}
        for k in metrics:
            row[k] = _ms([r[split].get(k) for r in rs])
        rows.append(row)
    return rows


def plot(rows: list[dict], headline: str, path: Path, title: str) -> Path:
    """Headline metric vs ε per private method (error bars: ±1 std), non-private methods as bands."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    private = [r for r in rows if r["epsilon"] is not None]
    eps = sorted({r["epsilon"] for r in private}) or [1.0]
    styles = {"dpsgd": ("tab:red", "o"), "naive_fusion": ("tab:orange", "v"), "fdp": ("tab:purple", "s"),
              "fdp_fm": ("tab:brown", "D"), "fusiondp": ("tab:blue", "^"),
              "dpsgd (equal protection)": ("tab:pink", "x"), "dp_ebm": ("tab:olive", "P")}
    flat = {"sgd_ori": ("black", "-"), "sgd_hybrid": ("tab:green", "--"), "sgd_pub": ("tab:gray", ":"),
            "ebm": ("tab:cyan", "-.")}
    lo, hi = min(eps) / 1.3, max(eps) * 1.3
    for r in rows:
        if r["epsilon"] is None:
            c, ls = flat.get(r["method"], ("tab:olive", "-."))
            m, s = r[headline]
            what = "no privacy" if r["method"] in ("sgd_ori", "ebm") else "ε = 0, public data only"
            ax.axhline(m, color=c, ls=ls, lw=1.5, label=f"{r['method']} ({what}; band ±1 std)")
            ax.fill_between([lo, hi], m - s, m + s, color=c, alpha=0.08, lw=0)
    by_method: dict[str, list[dict]] = defaultdict(list)
    for r in private:
        by_method[r["method"]].append(r)
    for i, (m, rs) in enumerate(by_method.items()):
        rs = sorted(rs, key=lambda r: r["epsilon"])
        c, mk = styles.get(m, (f"C{i}", "x"))
        x = [r["epsilon"] * (1 + 0.025 * (i - 2)) for r in rs]  # small dodge so error bars do not overlap
        ax.errorbar(x, [r[headline][0] for r in rs], yerr=[r[headline][1] for r in rs], color=c, marker=mk,
                    capsize=3, lw=2 if m == "fusiondp" else 1.3, label=m)
    ax.set_xscale("log")
    ax.set_xticks(eps)
    ax.set_xticklabels([f"{e:g}" for e in eps])
    ax.set_xlim(lo, hi)
    ax.set_xlabel("privacy budget ε (δ = 1e-5; smaller = more private)")
    n = max((r["n"] for r in rows), default=0)
    ax.set_ylabel(f"test {_NAMES.get(headline, headline)} (mean ± std over {n} seeds)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="lower right", ncol=2)
    fig.tight_layout()
    import io

    from fusiondp._files import write_file

    buf = io.BytesIO()
    fig.savefig(buf, format=path.suffix.lstrip(".") or "png")
    plt.close(fig)
    return write_file(path, buf.getvalue())


def _fmt(ms: tuple[float, float]) -> str:
    m, s = ms
    return "–" if math.isnan(m) else f"{m:.3f} ± {s:.3f}"


def _table(rows: list[dict], metrics: tuple[str, ...]) -> list[str]:
    head = ["method", "ε target", "ε spent", "σ", *(_NAMES.get(k, k) for k in metrics), "seeds", "s/run"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        e = r["epsilon"]
        lines.append("| " + " | ".join([
            f"`{r['method']}`", "∞ (none)" if e is None else f"{e:g}",
            "–" if e is None else f"{r['spent_epsilon']:.3f}",
            "–" if e is None or r["sigma"] is None or math.isnan(r["sigma"]) else f"{r['sigma']:.3f}",
            *(_fmt(r[k]) for k in metrics), str(r["n"]), f"{r['seconds']:.1f}"]) + " |")
    return lines


#: Feature-level methods among which the two-views table picks the best, by validation score.
_FEATURE_LEVEL = ("fdp", "fdp_fm", "fusiondp")


def _views_lines(rows: list[dict], val_rows: list[dict], headline: str) -> list[str]:
    """The two comparison views (issue 16 item 2): best feature-level method vs `dpsgd` at equal nominal ε and
    at equal protection of the sensitive columns; empty when the equal-protection runs are missing."""
    test = {(r["method"], r["epsilon"]): r for r in rows}
    val = {(r["method"], r["epsilon"]): r for r in val_rows}
    eps = sorted({e for m, e in test if m == "dpsgd (equal protection)" and e is not None})
    if not eps:
        return []
    name = _NAMES.get(headline, headline)
    anchor = any(m == "dp_ebm" for m, _ in test)
    head = ["ε", "best feature-level (by validation)", f"its test {name}", "`dpsgd`, equal nominal ε",
            "`dpsgd`, equal protection", *(["`dp_ebm`"] if anchor else []), "best − `dpsgd`, nominal",
            "best − `dpsgd`, equal protection"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for e in eps:
        cands = [m for m in _FEATURE_LEVEL if (m, e) in test and (m, e) in val]
        if not cands or ("dpsgd", e) not in test:
            continue
        best = max(cands, key=lambda m: val[(m, e)][headline][0])
        b, d, p = test[(best, e)][headline], test[("dpsgd", e)][headline], test[("dpsgd (equal protection)", e)][headline]
        cells = [f"{e:g}", f"`{best}`", _fmt(b), _fmt(d), _fmt(p)]
        if anchor:
            cells.append(_fmt(test[("dp_ebm", e)][headline]) if ("dp_ebm", e) in test else "–")
        cells += [f"{b[0] - d[0]:+.3f}", f"{b[0] - p[0]:+.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return ["## Two views: equal nominal ε and equal protection of the sensitive columns", "",
            "The feature-level methods are accounted under the zero-out relation (`remove`): their ε bounds what "
            "the model reveals about a record's sensitive values. `dpsgd` at equal nominal ε (the paper's view) is "
            "calibrated under record-level add/remove with the same σ, so for the sensitive columns under zero-out "
            "its guarantee is only its replace-one ε (about twice ε, [relation_epsilons.md](relation_epsilons.md)). "
            "`dpsgd (equal protection)` is calibrated under replace-one at ε, so its guarantee for the sensitive "
            "columns is at most ε too, while it also protects labels and public columns. The best feature-level "
            "method is picked per ε by mean validation " + name + " (the test split is not read to pick it)"
            + ("; `dp_ebm` is interpret's record-level DP-EBM on the support-fitted encoding" if anchor else "")
            + ".", "", *lines, ""]


def guarded_release(records: list[dict], headline: str) -> list[dict]:
    """What the release guard would have released in each feature-level run that was scored on the support set.

    Per (method, ε, seed): the run's own test score when its support score is at least the same seed's
    `sgd_hybrid` support score, otherwise `sgd_hybrid`'s (`fusiondp.tune.baseline.release_guard`, which trains
    that baseline with the same seed and the defaults rule, as the grid does). One row per (method, ε).
    """
    base = {r["seed"]: r for r in records if r["method"] == "sgd_hybrid" and "support" in r and "test" in r}
    groups: dict[tuple[str, float], list[tuple[dict, dict]]] = defaultdict(list)
    for r in records:
        if (r["method"] in _FEATURE_LEVEL and not (r.get("overrides") or {}) and "support" in r and "test" in r
                and r["seed"] in base):
            groups[(r["method"], r["epsilon"])].append((r, base[r["seed"]]))
    rows = []
    for (m, e), pairs in sorted(groups.items(), key=lambda kv: (_FEATURE_LEVEL.index(kv[0][0]), kv[0][1])):
        kept = [r["support"][headline] >= b["support"][headline] for r, b in pairs]
        rows.append({"method": m, "epsilon": e, "n": len(pairs),
                     "trained": _ms([r["test"][headline] for r, _ in pairs]),
                     "baseline": _ms([b["test"][headline] for _, b in pairs]),
                     "released": _ms([(r if k else b)["test"][headline] for (r, b), k in zip(pairs, kept)]),
                     "baseline_released": kept.count(False)})
    return rows


def _guard_lines(records: list[dict], headline: str) -> list[str]:
    rows = guarded_release(records, headline)
    if not rows:
        return []
    name = _NAMES.get(headline, headline)
    lines = ["## Release guard: never below the free baseline", "",
             "A feature-level run with a labelled public support set releases whichever of its model and the free "
             f"baseline `sgd_hybrid` (same seed, ε = 0) scores higher on that support set ({name}); the choice is "
             "post-processing of the private model with public data, so the release keeps the run's ε. (These "
             "are the guard's network candidates; since round 7 the built-in network's guard also weighs the free "
             "tree public stage and, for binary targets, the private network blended with it: "
             "benchmarks/default_release.py, docs/results/defaults.md \"Round 7\".) Test "
             f"{name}, mean ± std over seeds:", "",
             "| method | ε | as trained | `sgd_hybrid` | released | baseline released in | released − `sgd_hybrid` |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| `{r['method']}` | {r['epsilon']:g} | {_fmt(r['trained'])} | {_fmt(r['baseline'])} | "
                     f"{_fmt(r['released'])} | {r['baseline_released']} of {r['n']} | "
                     f"{r['released'][0] - r['baseline'][0]:+.3f} |")
    return lines + [""]


def _tuning_lines(records: list[dict], headline: str, per_epsilon: bool = False) -> list[str]:
    tune = [r for r in records if r.get("phase") == "tune"]
    if not tune:
        return []
    cells: dict[tuple[str, str], dict] = defaultdict(dict)
    eps_set = sorted({r["epsilon"] for r in tune if r["epsilon"] is not None})
    for r in tune:
        cells[(r["method"], json.dumps(r["overrides"], sort_keys=True))][r["epsilon"]] = r["val"][headline]
    best = select(records, headline, per_epsilon=per_epsilon)  # {m: {ε: choice}} or {m: choice}
    name = _NAMES.get(headline, headline)
    lines = ["| method | candidate | " + " | ".join(f"val {name}, ε={e:g}" for e in eps_set) + " | mean | selected |",
             "|" + "---|" * (len(eps_set) + 4)]
    for (m, ov), by_eps in cells.items():
        vals = list(by_eps.values())
        if per_epsilon:
            won = [e for e in eps_set if e in best.get(m, {}) and best[m][e]["overrides"] == json.loads(ov)]
            cols = [(f"**{by_eps[e]:.3f}**" if e in won else f"{by_eps[e]:.3f}") if e in by_eps else "–"
                    for e in eps_set]
            chosen = ("**ε = " + ", ".join(f"{e:g}" for e in won) + "**") if won else ""
        else:
            cols = [f"{by_eps[e]:.3f}" if e in by_eps else (f"{by_eps[None]:.3f}" if None in by_eps else "–")
                    for e in eps_set]
            chosen = "**yes**" if json.loads(ov) == best[m]["overrides"] else ""
        lines.append(f"| `{m}` | `{ov}` | " + " | ".join(cols) + f" | {statistics.fmean(vals):.3f} | {chosen} |")
    seeds = sorted({r["seed"] for r in tune})
    cmds = sorted({r.get("command", "") for r in tune})
    return ["## Hyperparameter selection (validation split only)", "",
            f"Tuning command: `{'`, `'.join(cmds)}` (seed {', '.join(map(str, seeds))}). Selection: "
            + (f"highest validation {name} at each ε (bold)" if per_epsilon else
               f"highest mean validation {name} over the ε values shown")
            + "; the test split is not scored in tuning runs. Every candidate below trained on the private "
            "rows at the ε of its column, so the selection's privacy cost is the composition of all of them, "
            "not the ε of one run.", "",
            *lines, ""]


def write_report(dataset: str, results: str | Path | list[str | Path], *, docs: str | Path = "docs/results",
                 command: str | None = None, page_name: str | None = None) -> Path:
    """Write ``<docs>/<page_name>.md`` and ``<docs>/img/<page_name>.png`` (default: the dataset's name).

    `results` is one JSONL file or several (e.g. the grid and the anchors' runs of `benchmarks/anchors.py`).
    """
    ds = get_dataset(dataset)
    paths = [results] if isinstance(results, (str, Path)) else list(results)
    records = [r for p in paths for r in load_records(p) if r.get("dataset") == dataset]
    results = " --results ".join(str(p) for p in paths)
    bench = [r for r in records if r.get("phase", "bench") == "bench"]
    rows = aggregate(bench, ds.metrics)
    val_rows = aggregate(bench, ds.metrics, split="val")
    docs = Path(docs)
    stem = page_name or dataset
    page = docs / f"{stem}.md"
    img = plot(rows, ds.headline, docs / "img" / f"{stem}.png",
               f"{dataset}: test {_NAMES.get(ds.headline, ds.headline)} vs privacy budget")
    cmds = sorted({r.get("command", "") for r in bench}) or [command or ""]
    seeds = sorted({r["seed"] for r in bench})
    info = bench[0].get("info", {}) if bench else {}
    kept = ""
    if page.exists():
        m = _KEEP.search(page.read_text())
        kept = m.group(0) if m else ""
    relations = sorted({r["relation"] for r in bench if r.get("relation")})
    sources = {r.get("settings", "selected") for r in bench if not r.get("anchor")}
    how = (ds.settings_text(sources.pop()) if len(sources) == 1 else
           "Rows mix settings sources (" + ", ".join(sorted(sources)) + "); see each record's `settings` field.")
    accountants = sorted({r["accountant"] for r in bench if r.get("accountant")})
    lines = [f"# Benchmark: `{dataset}`", "",
             "Made by: " + ", ".join(f"`{c}`" for c in cmds) + "; page and plot by "
             + (ds.remake or f"`fusiondp bench-report {dataset} --results {results} --out {docs}`") + ".", "",
             f"Seeds {', '.join(map(str, seeds))}; δ = 1e-5; accountant {', '.join(accountants) or '–'}; "
             f"neighbouring relations {', '.join(relations) or '–'} (`add_remove` = record-level DP for "
             "`dpsgd` and `dp_ebm`, `remove` = feature-level zero-out for `fdp`/`fdp_fm`/`fusiondp`, `replace` = "
             "replace-one for `naive_fusion` and `dpsgd (equal protection)`). "
             "Labels are read in the clear by every method with a noise-free public gradient.", "",
             f"![test {_NAMES.get(ds.headline, ds.headline)} vs ε](img/{img.name})", "",
             "## Setup", "", ds.description, "", "Split sizes (seed " + str(seeds[0] if seeds else "–") + "): "
             + ", ".join(f"{k} {v}" for k, v in info.items()) + ".", "",
             how, "", "## Results (test split, mean ± std over seeds)", "", *_table(rows, ds.metrics), "",
             "ε spent: the accountant's ε for the run as trained (≤ target). σ: calibrated noise multiplier. "
             "s/run: mean wall seconds of training on a shared 2-core CPU.", ""]
    lines += _views_lines(rows, val_rows, ds.headline)
    lines += _guard_lines(bench, ds.headline)
    if kept:
        lines += [kept, ""]
    lines += _tuning_lines(records, ds.headline, ds.per_epsilon)
    lines += ["## Validation split (same runs; for reference)", "", *_table(val_rows, ds.metrics), ""]
    from fusiondp._files import write_file

    return write_file(page, "\n".join(lines))
