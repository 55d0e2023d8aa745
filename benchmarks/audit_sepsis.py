"""Issue 7 evidence: attribute inference and one-run canary audits on sepsis (docs/results/audit.md).

For each configuration (sgd_ori; dpsgd, fdp, fusiondp at ε ∈ {1, 4}) with the tuned settings of
`fusiondp.bench.settings.TABULAR_SETTINGS` (13 epochs, published TabPFN hybrid):

* attribute: the released model (trained exactly as in the benchmark) is attacked on 3,000 training rows
  and 3,000 test rows; the attacker's imputers are fitted once on the support set (val.csv);
* canary: the same configuration is trained once more with m = 1000 canaries planted
  (`fusiondp.audit.canary_audit`), giving an ε lower bound at 95% confidence.

Results are appended to bench_out/audit_sepsis.jsonl (one line per seed and configuration; finished
configurations are skipped on a re-run) and the page is rebuilt from that file.

Usage: python benchmarks/audit_sepsis.py [--seeds 0] [--canary-seeds 0,1,2] [--page-only]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import torch

from fusiondp.audit import attribute_audit, canary_audit, fit_attacker
from fusiondp.bench.datasets import get_spec
from fusiondp.bench.settings import TABULAR_SETTINGS
from fusiondp.pipeline import prepare, run
from fusiondp.train.config import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench_out" / "audit_sepsis.jsonl"
PAGE = ROOT / "docs" / "results" / "audit.md"
PLOT = ROOT / "docs" / "results" / "img" / "audit_sepsis.png"
CONFIGS = [("sgd_ori", None)] + [(m, e) for m in ("dpsgd", "fdp", "fusiondp") for e in (1.0, 4.0)]
M = 1000


def _key(kind: str, method: str, eps: float | None, seed: int) -> str:
    return f"{kind}|{method}|{eps}|{seed}"


def _done() -> dict[str, dict]:
    if not CACHE.exists():
        return {}
    rows = [json.loads(line) for line in CACHE.read_text().splitlines() if line.strip()]
    return {_key(r["kind"], r["method_run"], r["epsilon_target"], r["seed"]): r for r in rows}


def _append(row: dict) -> None:
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    with CACHE.open("a") as f:
        f.write(json.dumps(row, default=float) + "\n")


def _config(method: str, eps: float | None, seed: int) -> TrainConfig:
    return TrainConfig(**TABULAR_SETTINGS.get(method, {}), epsilon=eps if eps is not None else 2.0, seed=seed)


def compute(seeds: list[int], canary_seeds: list[int]) -> None:
    from fusiondp import io as fio

    spec = get_spec("sepsis")
    frames = spec.load()
    done = _done()
    attacker = None
    for seed in seeds:
        for method, eps in CONFIGS:
            if _key("attribute", method, eps, seed) in done:
                continue
            if attacker is None:
                t0 = time.perf_counter()
                attacker = fit_attacker(frames["support"], spec.schema.bind(frames["train"]), seed=0,
                                        onehot_groups=[list(g) for g in spec.onehot_groups])
                print(f"attacker fitted in {time.perf_counter() - t0:.0f} s", flush=True)
            result, prepared, rep = run(frames["train"], frames["hybrid"], spec.schema, method=method,
                                        config=_config(method, eps, seed), test_df=frames["test"], progress=False)
            with tempfile.TemporaryDirectory() as tmp:
                saved = fio.load(fio.save(Path(tmp) / "m.safetensors", result, prepared, rep))
            res = attribute_audit(saved, frames["train"], frames["test"], attacker, rows=3000, seed=seed)
            res.update(method_run=method, epsilon_target=eps, seed=seed,
                       test_auroc=rep["metrics"]["test"]["auroc"])
            _append(res)
            print(f"attribute {method} ε={eps} seed {seed}: " + ", ".join(
                f"{k} adv {c['advantage']['value']:+.3f} gap {c['membership_gap']['value']:+.3f}"
                for k, c in res["columns"].items()), flush=True)
    prepared = prepare(frames["train"], frames["hybrid"], spec.schema, seed=0)
    for seed in canary_seeds:
        for method, eps in CONFIGS:
            if _key("canary", method, eps, seed) in done:
                continue
            audit = canary_audit(prepared.data, prepared.pre.sensitive_mask(), method, _config(method, eps, seed),
                                 m=M, seed=seed)
            res = audit.to_dict()
            res.update(method_run=method, epsilon_target=eps, seed=seed)
            _append(res)
            print(f"canary {method} ε={eps} seed {seed}: lower bound {res['epsilon_lower_bound']:.3f} "
                  f"(accounted {res['epsilon_accounted']}), {res['correct']}/{res['guesses']}, "
                  f"AUC {res['score_auc']:.3f}, {res['seconds']:.0f} s", flush=True)


def _f(v, d: int = 3) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{d}f}"


def _ci(d: dict) -> str:
    return f"{d['value']:+.3f} [{d['ci'][0]:+.3f}, {d['ci'][1]:+.3f}]"


def page() -> None:
    rows = list(_done().values())
    canary = [r for r in rows if r["kind"] == "canary"]
    attr = [r for r in rows if r["kind"] == "attribute"]
    label = lambda m, e: f"`{m}`" + ("" if e is None else f" ε={e:g}")  # noqa: E731
    out = ["# Empirical privacy audit on sepsis",
           "",
           "Made by: `python benchmarks/audit_sepsis.py --seeds 0 --canary-seeds "
           f"{','.join(str(s) for s in sorted({r['seed'] for r in canary}))}` "
           "(tools: `fusiondp audit canary`, `fusiondp audit attribute`; see [docs/audit.md](../audit.md)).",
           "",
           "Sepsis as in the benchmark ([sepsis.md](sepsis.md)): 14,293 training rows, published TabPFN hybrid, "
           "support set = val.csv (1,573 rows), held-out rows = test.csv. Every configuration uses the tuned "
           "settings of `TABULAR_SETTINGS` (13 epochs, δ = 1e-5, PLD accountant); `sgd_ori` the paper's "
           "settings. Sensitive: Age, Gender, Unit1/Unit2 (one categorical attribute), HospAdmTime, ICULOS.",
           "",
           "## One-run canary audit (Steinke, Nasr & Jagielski 2023)",
           "",
           f"m = {M} canaries appended to the training set; each has random public features (N(0, 3²) in "
           "standardised units), a random label and, with probability 1/2 each, planted sensitive values "
           "(±8 standardised units, random signs) or the neighbouring value of the audited relation "
           "(the row's x̃ for `fdp`/`fusiondp`, so its private term is zero: the `remove` relation; the hybrid "
           "values for `dpsgd`: a change of one record's features, the `replace` relation, whose ε is "
           "computed by dp-accounting's PLD accountant from the run's σ, q and steps). One training run per "
           "seed with the engine's own step; score = loss at the neighbouring value − loss at the planted "
           "value; 12 guess rules fixed in advance (top-r and top/bottom-r for r = 2…100% of m), "
           "Bonferroni-corrected; bound at 95% confidence.",
           "",
           "| configuration | relation audited | accounted ε | ε lower bound (per seed) | max | best rule: correct / guesses | score AUC |",
           "|---|---|---|---|---|---|---|"]
    for method, eps in CONFIGS:
        rs = sorted([r for r in canary if r["method_run"] == method and r["epsilon_target"] == eps],
                    key=lambda r: r["seed"])
        if not rs:
            continue
        best = max(rs, key=lambda r: r["epsilon_lower_bound"])
        acc = rs[0]["epsilon_accounted"]
        run_eps = ("" if rs[0]["epsilon_trained"] is None or rs[0]["trained_relation"] == rs[0]["relation"] else
                   f" (run: {_f(rs[0]['epsilon_trained'], 2)} {rs[0]['trained_relation']})")
        out.append(f"| {label(method, eps)} | {rs[0]['relation']} | {'none' if acc is None else _f(acc, 2)}{run_eps} | "
                   + ", ".join(_f(r["epsilon_lower_bound"], 2) for r in rs) + f" | {_f(best['epsilon_lower_bound'], 2)}"
                   f" | {best['correct']} / {best['guesses']} ({best['guess_rule']}) | "
                   + ", ".join(_f(r["score_auc"], 3) for r in rs) + " |")
    bad = [r for r in canary if r["epsilon_accounted"] is not None and
           r["epsilon_lower_bound"] > r["epsilon_accounted"]]
    out += ["", "Sanity: " + ("**a lower bound exceeds its accounted ε** (" + ", ".join(
        label(r['method_run'], r['epsilon_target']) for r in bad) + ")" if bad else
        "no lower bound exceeds its accounted ε."), ""]
    if attr:
        out += ["## Attribute inference",
                "",
                "Attacker: a training record's public features and label, the support set and the released "
                "model (black box). Posterior ∝ prior(c | public) × p_model(label | public, c) over candidates c "
                "(categories, or 25 support quantiles), the prior from the default imputer fitted on the support "
                "set; guess = posterior mode (categorical), or imputed value + (posterior − prior) mean shift "
                "(numeric). Baseline = the same imputer with the label "
                "as an extra feature (public information alone). 3,000 training rows and 3,000 test rows "
                "(rows with a missing value are skipped for that column, e.g. Unit for 41%). Cells: "
                "**advantage** = attack − baseline on training rows, and **gap** = advantage on training rows − "
                "advantage on held-out rows, with 95% bootstrap CIs; accuracy for Gender and Unit, R² for "
                "Age, HospAdmTime and ICULOS.",
                ""]
        cols = list(attr[0]["columns"])
        metric = {c: attr[0]["columns"][c]["metric"] for c in cols}
        out.append("| configuration | test AUROC | " + " | ".join(f"{c} ({'acc' if metric[c] == 'accuracy' else 'R²'}) "
                                                                   "advantage / gap" for c in cols) + " |")
        out.append("|---|---|" + "---|" * len(cols))
        for method, eps in CONFIGS:
            for r in sorted([r for r in attr if r["method_run"] == method and r["epsilon_target"] == eps],
                            key=lambda r: r["seed"]):
                out.append(f"| {label(method, eps)} (seed {r['seed']}) | {_f(r['test_auroc'])} | " + " | ".join(
                    _ci(r["columns"][c]["advantage"]) + "<br>" + _ci(r["columns"][c]["membership_gap"])
                    for c in cols) + " |")
        out += ["", "Raw values (training rows: baseline → attack; held-out rows: attack):", "",
                "| configuration | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
        for method, eps in CONFIGS:
            for r in sorted([r for r in attr if r["method_run"] == method and r["epsilon_target"] == eps],
                            key=lambda r: r["seed"]):
                out.append(f"| {label(method, eps)} (seed {r['seed']}) | " + " | ".join(
                    f"{_f(r['columns'][c]['train']['baseline'])} → {_f(r['columns'][c]['train']['attack'])}; "
                    f"{_f(r['columns'][c]['heldout']['attack'])}" for c in cols) + " |")
    out += ["", "![canary lower bounds vs accounted ε](img/audit_sepsis.png)", "", "## Reading the results", "",
            READING, ""]
    PAGE.write_text("\n".join(out))
    _plot(canary)
    print(f"wrote {PAGE}")


READING = """\
**Canary audit.** The audit has power: on `sgd_ori` (no DP) the same procedure certifies ε ≥ 0.98–1.47 on \
every seed (canary-score AUC 0.67–0.68: the final model fits the planted sensitive values it was trained on). \
On all 18 private audits (3 methods × 2 ε × 3 seeds) the lower bound is at most 0.07, never above the \
accounted ε (1.00–6.80 for the audited relation): the sanity check holds. Small bounds are what a black-box, \
final-model, one-run audit gives for DP training; they do not show that the accounted ε is loose. With \
m = 1000 canaries even perfect guessing would certify at most ≈ 5.1 after the Bonferroni correction (5.8 for a \
single rule), and a 13-epoch DP run of this model memorises little. A faint signal remains at ε = 4 for `fdp` \
(AUC 0.55–0.56 on two seeds; bounds 0.01–0.03), as DP permits. For `dpsgd` the comparison ε is the \
feature-`replace` ε of the run (2.03 and 6.80), not the add/remove ε it was calibrated to (1 and 4): changing a \
record's features while keeping the record is a replace.

**Attribute inference.** For `sgd_ori` the model adds measurable knowledge about the training records: Gender \
accuracy +1.1 points over the public baseline (95% CI [+0.2, +2.0]), and the membership gap (what holds for \
training rows but not for test rows) is significant for Gender (+1.4 points [+0.1, +2.7]) and Age \
(R² +0.008 [+0.002, +0.015]), borderline for ICULOS (+0.041 [−0.001, +0.083]). For every DP configuration no \
advantage and no membership gap is significant (every CI contains 0 or lies below it). The attack is often \
*worse* than the baseline (ICULOS for `dpsgd`: −0.12 to −0.15 R²): the baseline reads the label with an \
imputer fitted on the support set, while the attack must go through the model's p(label | ICULOS), which DP \
noise flattens. Leakage from a non-private model on this task is small in absolute terms (the model is a \
13-epoch MLP that generalises: test AUROC 0.915), but it is there and the tools see it; with DP it is gone at \
the attack's resolution. One seed for the attribute audits (the attacker's imputers are fitted once, ≈ 4 min); \
three seeds for the canary audits."""


def _plot(canary: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    names = []
    for i, (method, eps) in enumerate(CONFIGS):
        rs = [r for r in canary if r["method_run"] == method and r["epsilon_target"] == eps]
        if not rs:
            continue
        names.append((i, method + ("" if eps is None else f"\nε={eps:g}")))
        ax.scatter([i] * len(rs), [r["epsilon_lower_bound"] for r in rs], color="#0969da", zorder=3,
                   label="ε lower bound (one per seed)" if i == 0 else None)
        if rs[0]["epsilon_accounted"] is not None:
            ax.scatter([i], [rs[0]["epsilon_accounted"]], marker="_", s=600, color="#cf222e", zorder=2,
                       label="accounted ε (audited relation)" if method == "dpsgd" and eps == 1.0 else None)
    ax.set_xticks([i for i, _ in names], [n for _, n in names], fontsize=8)
    ax.set_ylabel("ε")
    ax.set_title("One-run canary audit on sepsis (m = 1000, 95% confidence)", fontsize=10)
    ax.legend(fontsize=8)
    PLOT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(PLOT, dpi=110, bbox_inches="tight")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0", help="seeds of the attribute audits")
    ap.add_argument("--canary-seeds", default="0,1,2", help="seeds of the canary audits")
    ap.add_argument("--page-only", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if not args.page_only:
        parse = lambda s: [int(x) for x in s.split(",") if x.strip()]  # noqa: E731
        compute(parse(args.seeds), parse(args.canary_seeds))
    page()


if __name__ == "__main__":
    sys.exit(main())
