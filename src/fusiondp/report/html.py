"""A self-contained HTML page for one run, from its JSON report.

The page has inline CSS and its plots embedded as base64 PNGs (matplotlib, Agg
backend), so it can be mailed to a privacy officer as one file. It reads only
the report dict: the privacy record, metrics, the per-epoch history and, when
present, ``imputation_quality``, ``comparison`` and ``audit`` (results of ``fusiondp audit``). Nothing in it is computed
from the training rows' sensitive values (the history holds ε, the *public*
loss and validation metrics only).

>>> page = render_html({"method": "sgd_hybrid", "epsilon": 0.0, "metrics": {}, "history": []})
>>> "no formal" in page.lower() or "never read" in page.lower()
True
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path

from fusiondp.evaluate.labels import METRIC_LABELS, METRIC_ORDER

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;
color:#1f2328;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.1em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #d0d7de;
padding-bottom:.2em}.sub{color:#57606a;margin-top:0}
.statement{background:#f0f6ff;border-left:5px solid #0969da;padding:.8em 1.1em;border-radius:4px}
.statement.none{background:#fff8e6;border-left-color:#bf8700}
.big{font-size:1.25em;font-weight:600}
table{border-collapse:collapse;margin:.6em 0;font-size:.95em}
th,td{border:1px solid #d0d7de;padding:.3em .7em;text-align:left}th{background:#f6f8fa}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.cols{display:grid;grid-template-columns:1fr 1fr;gap:1.2em}.cols ul{margin:.3em 0;padding-left:1.2em}
.ok{color:#1a7f37}.no{color:#cf222e}img{max-width:100%}
.plots{display:grid;grid-template-columns:1fr 1fr;gap:.8em}
details pre{background:#f6f8fa;padding:.8em;overflow-x:auto;font-size:.85em}
footer{margin-top:2em;color:#57606a;font-size:.85em}
"""


def _e(value) -> str:
    return html.escape(str(value))


def _fmt(value, digits: int = 4) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1e-3 or abs(value) >= 1e4 else f"{value:.{digits}f}"
    return _e(value)


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


_LOSS_LABELS = {  # rows of the noise-free gradient -> what its logged loss is
    "original": ("training loss (original rows, no noise)", "the loss of plain SGD on the original rows"),
    "hybrid": ("public loss (hybrid rows)", "the loss of the noise-free gradient on hybrid (imputed) rows"),
    "noise": ("public loss (sensitive columns = noise)",
              "the loss of the noise-free gradient on rows whose sensitive columns are random noise"),
}


def _loss_rows(report: dict) -> str | None:
    """Which rows the logged loss was computed on (the method's noise-free gradient rows), if known."""
    from fusiondp.errors import ConfigError
    from fusiondp.train.methods import get_method

    try:
        return get_method(str(report.get("method"))).public_rows
    except ConfigError:  # a method this version does not know: fall back on the summary
        return "original" if "original data" in str(report.get("method_summary", "")) else "hybrid"


def training_curves(report: dict):
    """(matplotlib figure, caption) of the per-epoch loss and validation score, or None without history.

    The curve is labelled by the rows its loss was computed on (original rows for
    `sgd_ori`, hybrid rows for the FusionDP family, noise rows for `sgd_pub`/`fdp`);
    a method without a noise-free gradient (`dpsgd`) logs no loss and its caption says so.
    """
    history = report.get("history") or []
    if not history:
        return None
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    loss = [h.get("public_loss") for h in history]
    has_loss = any(v is not None for v in loss)
    val_key = next((k for k in ("auroc", "macro_auroc", "accuracy")
                    if (history[0].get("val") or {}).get(k) is not None), None)
    if not (has_loss or val_key):
        return None
    fig, ax = plt.subplots(figsize=(4.6, 3.0))
    lines, captions = [], []
    if has_loss:
        label, what = _LOSS_LABELS.get(_loss_rows(report), _LOSS_LABELS["hybrid"])
        lines += ax.plot(epochs, [float("nan") if v is None else v for v in loss], "o-", color="#0969da",
                         label=label)
        ax.set_ylabel("loss")
        captions.append(f"blue: {what}, averaged over each epoch")
    ax.set_xlabel("epoch")
    if val_key:
        name = METRIC_LABELS.get(val_key, val_key).replace(" (one-vs-rest)", "")
        ax2 = ax.twinx() if has_loss else ax
        lines += ax2.plot(epochs, [(h.get("val") or {}).get(val_key, float("nan")) for h in history], "s-",
                          color="#1a7f37", label=f"validation {name}")
        ax2.set_ylabel(f"validation {name}")
        captions.append(f"green: {name} on the validation split after each epoch")
    ax.set_title("Training curves", fontsize=10)
    # The legend goes below the laid-out figure (x-axis label included), so it covers neither the
    # "epoch" label nor any data point; savefig(bbox_inches="tight") keeps it in the image.
    fig.tight_layout()
    fig.legend(lines, [ln.get_label() for ln in lines], loc="upper center", bbox_to_anchor=(0.5, 0.0),
               ncol=1, fontsize=8, frameon=False)
    if not has_loss and report.get("neighbouring"):
        captions.append("this method has no noise-free gradient, so no loss is logged (a loss on the "
                        "private rows would leak their values outside the accountant)")
    caption = "; ".join(captions)
    return fig, caption[:1].upper() + caption[1:] + "."


def tree_selection_curve(report: dict):
    """(matplotlib figure, caption) of the tree learner's support-set selection, or None without its curves.

    Support log-loss after each public tree and, from where the private stage started, after each private
    correction tree, with the kept prefixes marked: what `fusiondp.trees` chose on public rows
    (docs/method.md §9). Every point is a function of the public support rows and of released, accounted
    trees, so the plot is post-processing.
    """
    selection = {e.get("stage"): e for e in (report.get("trees") or {}).get("selection") or []}
    public = (selection.get("public") or {}).get("support_log_loss_by_trees")
    if not public:
        return None
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.6, 3.0))
    # a multiclass run adds K trees per round and keeps one point per round (trees_per_round = K)
    per = int(selection["public"].get("trees_per_round", 1))
    ax.plot(range(0, per * len(public), per), public, "-", color="#0969da", label="public trees (hybrid rows, ε = 0)")
    kept = selection["public"].get("trees_kept")
    captions = ["blue: support log-loss as public trees are added"]
    if kept is not None and kept // per < len(public):
        ax.plot([kept], [public[kept // per]], "o", color="#0969da")
        captions.append(f"dot: the {kept} public trees kept")
    private = selection.get("private") or {}
    curve, start = private.get("support_log_loss_by_trees"), private.get("start_trees")
    if curve and start is not None:
        xs = range(start, start + per * len(curve), per)
        ax.plot(xs, curve, "-", color="#8250df", label="private correction trees")
        k = private.get("trees_kept", 0)
        released = (f"{k} private trees released" if k else "the public stage released (no private tree "
                    "helped enough)")
        if k:
            ax.plot([start + k], [curve[k // per]], "o", color="#8250df")
        ax.axhline(private.get("support_log_loss_whole_public_stage", public[kept // per] if kept is not None else
                                public[-1]), color="#57606a", ls="--", lw=1, label="public stage")
        captions.append(f"purple: the private stage from public tree {start}; {released}")
    ax.set_xlabel("trees in the model")
    ax.set_ylabel("support-set log-loss")
    ax.set_title("Tree selection on the public support set", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    caption = "; ".join(captions) + " (public rows only: no ε)."
    return fig, caption[:1].upper() + caption[1:]


def blend_weight_curve(report: dict):
    """(matplotlib figure, caption) of the blend's support AUROC over its weight grid, or None for other runs."""
    by_weight = ((report.get("blend") or {}).get("support_auroc") or {}).get("by_weight")
    if not by_weight:
        return None
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    ws = sorted(by_weight, key=float)
    fig, ax = plt.subplots(figsize=(4.6, 3.0))
    ax.plot([float(w) for w in ws], [by_weight[w] for w in ws], "o-", color="#1a7f37")
    chosen = report["blend"].get("weight")
    if chosen is not None:
        ax.axvline(float(chosen), color="#cf222e", ls="--", lw=1)
    ax.set_xlabel("weight on the trees' logit (0 = network only)")
    ax.set_ylabel("support-set AUROC")
    ax.set_title("Blend weight", fontsize=10)
    fig.tight_layout()
    return fig, (f"Support-set AUROC of the blend at each weight on the trees' logit; red: the weight chosen "
                 f"({chosen}); public rows and released parts only: no ε.")


def _plots(report: dict) -> list[tuple[str, str]]:
    """(caption, data-URI) of the training-curve, ε-over-steps, tree-selection and blend-weight plots."""
    out = [(c, _png(f)) for f, c in filter(None, (tree_selection_curve(report), blend_weight_curve(report)))]
    history = report.get("history") or []
    if not history:
        return out
    import matplotlib.pyplot as plt

    curves = training_curves(report)
    if curves is not None:
        out.append((curves[1], _png(curves[0])))
    if report.get("neighbouring"):
        steps = [0] + [h["step"] for h in history]
        eps = [0.0] + [h.get("epsilon", 0.0) for h in history]
        fig, ax = plt.subplots(figsize=(4.6, 3.0))
        ax.plot(steps, eps, "o-", color="#8250df", label="ε spent")
        if report.get("target_epsilon"):
            ax.axhline(report["target_epsilon"], color="#cf222e", ls="--", lw=1, label="budget")
        ax.set_xlabel("training step")
        ax.set_ylabel(f"ε (δ = {report.get('delta'):g})")
        ax.set_title("Privacy spent over training", fontsize=10)
        ax.legend(fontsize=8)
        out.append(("ε after each epoch (per-epoch values use a coarser, pessimistic accounting grid; the "
                    "final value is the fine one).", _png(fig)))
    return out


def privacy_statement(report: dict) -> str:
    """The guarantee in plain words (one paragraph, plain text)."""
    method = report.get("method", "?")
    sensitive = ", ".join((report.get("schema") or {}).get("sensitive", [])) or "the sensitive columns"
    rel = report.get("neighbouring")
    if rel is None:
        if "original" in str(report.get("method_summary", "")) or method == "sgd_ori":
            return (f"This model ({method}) was trained on the original data without differential privacy: "
                    f"it carries NO formal privacy guarantee for any column, including {sensitive}.")
        return (f"This model ({method}) never read the true values of {sensitive}: it was trained on public "
                "information only (imputed or random values in their place), so their feature-level ε is 0. "
                "Labels and public columns were read in the clear.")
    eps, delta = report.get("epsilon"), report.get("delta")
    level = "record-level" if rel == "add_remove" else "feature-level"
    what = (f"the values of {sensitive} in each training record" if rel != "add_remove"
            else "each whole training record (all its columns and its label)")
    others = "".join(f" The same run under the {r} relation ({v.get('text', r).split(': ', 1)[-1]}) has "
                     f"ε = {v['epsilon']:.2f} ({str(v.get('accountant', '')).upper()})."
                     for r, v in (report.get("epsilon_by_relation") or {}).items() if r != rel)
    randomness = f" Randomness: {report['randomness']}." if report.get("randomness") else ""
    randomness += f" {report['training_rows_text']}" if report.get("training_rows_text") else ""
    return (f"This model ({method}) satisfies (ε = {eps:.2f}, δ = {delta:g}) {level} differential privacy: "
            f"{report.get('neighbouring_text', rel).split(': ', 1)[-1]}. Protected: {what}. The accountant "
            f"({report.get('accountant')}) computed ε from the full description of training: {_mechanism(report)}"
            f"{others}{randomness}")


def _mechanism(report: dict) -> str:
    """The trained mechanism in one sentence: one run's steps, or the blend's two composed parts."""
    if (b := report.get("blend")) is not None:
        return (f"the composition of {b['tree_releases']} Gaussian releases of the trees (σ = {b['tree_sigma']:.4g}, "
                f"clip {b['tree_clip']:g}) and {b['network_steps']} Poisson-sampled steps of the network at rate "
                f"q = {b['network_sample_rate']:.4g} (σ = {b['network_sigma']:.4g}, clip {b['network_clip']:g}).")
    return (f"{report.get('steps')} Poisson-sampled steps at rate q = {report.get('sample_rate', 0):.4g}, "
            f"noise multiplier σ = {report.get('noise_multiplier', 0):.4g}, clipping norm C = {report.get('clip')}.")


def _protection_lists(report: dict) -> tuple[list[str], list[str]]:
    schema = report.get("schema") or {}
    sens = ", ".join(schema.get("sensitive", [])) or "the sensitive columns"
    public = schema.get("public") or []
    pub = ", ".join(public[:12]) + (f" and {len(public) - 12} more" if len(public) > 12 else "")
    rel = report.get("neighbouring")
    labels = report.get("labels") or "labels get no protection"
    if rel == "add_remove":
        yes = ["every column of each training record, including its label",
               "whether a record was in the training set at all"]
        no = ["the public support set and the hybrid table (public by assumption)",
              "validation and test rows (read without noise to score the model)"]
    elif rel:
        yes = [f"the true values of {sens} of each training record"]
        if rel == "replace":
            yes.append("against any change of those values (replace-one), not only against their imputed values")
        no = [f"public columns ({pub or 'all non-sensitive features'}): read in the clear",
              labels,
              "whether a record was in the training set (feature-level DP hides values, not membership)",
              "the public support set used by the imputer, and the hybrid table built from it",
              "validation and test rows (read without noise to score the model)"]
    else:
        yes = [] if report.get("method") == "sgd_ori" else [f"{sens}: never read (ε = 0)"]
        no = ["no formal guarantee for anything the model read" if report.get("method") == "sgd_ori"
              else "labels and public columns: read in the clear"]
    return yes, no


def _table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td class='num'>{_fmt(c)}</td>" if isinstance(c, (int, float)) and not
                                    isinstance(c, bool) else f"<td>{_fmt(c)}</td>" for c in r) + "</tr>"
                   for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _metrics_html(report: dict) -> str:
    metrics = report.get("metrics") or {}
    if not metrics:
        return "<p>No evaluation split was given.</p>"
    present = {k for m in metrics.values() for k in m}
    keys = [k for k in METRIC_ORDER if k in present] + sorted(present - set(METRIC_ORDER))
    notes = []
    if "f1_val_threshold" in present:
        notes.append("F1 @ val threshold: F1 with the decision threshold that maximises F1 on the validation "
                     "split (shown as “val threshold”), applied unchanged to the other splits; the test split "
                     "never chooses it.")
    if "f1_best" in present:
        notes.append("Best F1 (curve point): the best F1 over all thresholds of that split itself, an optimistic "
                     "figure for comparing methods.")
    if "macro_auroc" in present:
        notes.append("Macro AUROC: one-vs-rest AUROC of each class, averaged over the classes.")
    if "accuracy" in present and ("f1_best" in present or "auroc" in present):
        notes.append("Accuracy of a binary model: predicted positive when its score is at least 0.5.")
    table = _table(["split", *(METRIC_LABELS.get(k, k) for k in keys)],
                   [[split, *[m.get(k) for k in keys]] for split, m in metrics.items()])
    return table + "".join(f"<p class='sub'>{_e(n)}</p>" for n in notes)


def _comparison_html(report: dict) -> str:
    rows = report.get("comparison") or []
    if not rows:
        return ""
    return ("<h2>Comparison</h2>" + _table(
        ["method", "test AUROC", "test AUPR", "ε", "δ", "relation", "labels protected"],
        [[r.get("method"), r.get("auroc"), r.get("aupr"), r.get("epsilon"), r.get("delta"), r.get("relation"),
          "yes" if r.get("relation") == "add_remove" else "no"] for r in rows]))


def _release_html(report: dict) -> str:
    """Which model the file and the metrics above are: the release guard's candidates and their support scores."""
    from fusiondp.tune.baseline import BASELINE, FREE_BLEND, TREE_BASELINE

    # What each release-guard candidate is, in words (`fusiondp.tune.baseline.release_guard`).
    names = {"private": "the private model (this run)", BASELINE: f"{BASELINE}: the network on the hybrid rows (free)",
             TREE_BASELINE: f"{TREE_BASELINE}: the tree public stage on the hybrid rows (free)",
             FREE_BLEND: "the private network blended with the free trees"}
    g = report.get("release_guard")
    if not g:
        return ""
    if "skipped" in g:
        return f"<h2>Release</h2><p>Release guard skipped: {_e(g['skipped'])}.</p>"
    cands = g.get("candidates") or {"private": g.get("private_score"), g.get("baseline"): g.get("baseline_score")}
    rows = [[names.get(k, k), v, "released" if k == g["released"] else ""] for k, v in cands.items()]
    notes = [f"Chosen on the {g['chosen_on']} by {g['metric']}: the choice reads the private model and public "
             "data only (post-processing), so the privacy statement above holds for whichever is released; "
             "the metrics above are the released model's."]
    if g.get("blend_weight") is not None:
        notes.append(f"Blend weight on the trees' logit: {g['blend_weight']:g} (chosen on the same public rows).")
    if (bar := g.get("bar") or {}).get("kept_runner_up"):
        notes.append(f"sgd_hybrid scored highest but its lead ({bar['auroc_lead']:.4f}) is within {bar['z']:g} "
                     f"bootstrap standard errors ({bar['bootstrap_se']:.4f}), so the runner-up was released.")
    return ("<h2>Release</h2>" + _table(["candidate", f"support {g['metric']}", ""], rows)
            + "".join(f"<p class='sub'>{_e(n)}</p>" for n in notes))


def _imputation_html(report: dict) -> str:
    q = report.get("imputation_quality")
    if not q:
        return ""
    cols = q.get("columns", q)
    rows = [[c, v.get("metric"), v.get("value"), v.get("baseline"), v.get("rows")] for c, v in cols.items()]
    where = q.get("measured_on", "")
    return ("<h2>Imputation quality</h2><p>How well the imputer predicts each sensitive column from public ones. "
            "Better imputation leaves less for the noised private term to carry."
            + (f" Measured on: {_e(where)}." if where else "") + "</p>"
            + _table(["column", "metric", "imputer", "baseline", "rows"], rows))


def _ci_text(d: dict | None) -> str:
    if not d:
        return "—"
    lo, hi = d.get("ci", [None, None])
    return f"{_fmt(d.get('value'), 3)} [{_fmt(lo, 3)}, {_fmt(hi, 3)}]"


def _audit_html(report: dict) -> str:
    """The "Audit" section: empirical privacy measurements (`fusiondp audit ...` results under ``audit``)."""
    audit = report.get("audit") or {}
    if not audit:
        return ""
    parts = ["<h2>Audit</h2><p>Empirical measurements of what an attacker learns about the sensitive columns "
             "from this training procedure or model. They are lower bounds on leakage (a stronger attack may learn "
             "more); the formal guarantee above is the upper bound.</p>"]
    canary = audit.get("canary")
    if canary:
        eps_acc, lb = canary.get("epsilon_accounted"), canary.get("epsilon_lower_bound")
        if eps_acc is None:
            verdict = "no formal ε to compare with"
        elif lb is not None and lb > eps_acc * (1 + 1e-9):
            verdict = "EXCEEDS the accounted ε: the guarantee is contradicted; investigate"
        else:
            verdict = "consistent with the accounted ε (lower bound ≤ ε)"
        parts.append(
            "<h3>One-run canary audit</h3><p>" + _e(canary.get("method_text", "")) + "</p>"
            + (f"<p><b>{_e(canary['budget_spent'])}</b></p>" if canary.get("budget_spent") else "") + _table(
                ["method", "relation", "ε accounted", "ε lower bound", "confidence", "canaries", "guesses",
                 "correct", "rule", "score AUC", "verdict"],
                [[canary.get("method"), canary.get("relation"), eps_acc, lb, canary.get("confidence"),
                  canary.get("canaries"), canary.get("guesses"), canary.get("correct"), canary.get("guess_rule"),
                  canary.get("score_auc"), verdict]]))
    attribute = audit.get("attribute")
    if attribute:
        rows = []
        for name, c in (attribute.get("columns") or {}).items():
            tr, ho = c.get("train", {}), c.get("heldout", {})
            rows.append([name, c.get("metric"), tr.get("baseline"), tr.get("attack"), ho.get("attack"),
                         _ci_text(c.get("advantage")), _ci_text(c.get("membership_gap")),
                         "yes" if c.get("leak_detected") else "no"])
        level = attribute.get("confidence", 0.95)
        parts.append(
            "<h3>Attribute inference</h3>"
            + (f"<p class='warn'><b>{_e(attribute['release'])}</b></p>" if attribute.get("release") else "")
            + "<p>" + _e(attribute.get("method_text", "")) + "</p>" + _table(
                ["column", "metric", "baseline (train rows)", "attack (train rows)", "attack (held-out rows)",
                 f"advantage [{level:.0%} CI]", f"membership gap [{level:.0%} CI]", "leak detected"], rows))
    return "".join(parts)


def _settings_html(report: dict) -> str:
    cfg = report.get("config") or {}
    rows = [["method", report.get("method")], ["summary", report.get("method_summary")],
            ["ε spent / budget", f"{_fmt(report.get('epsilon'))} / {_fmt(report.get('target_epsilon'))}"],
            ["δ", report.get("delta")], ["neighbouring relation", report.get("neighbouring")],
            ["accountant", report.get("accountant")], ["noise multiplier σ", report.get("noise_multiplier")],
            ["sampling rate q", report.get("sample_rate")], ["steps", report.get("steps")],
            ["clipping norm C", report.get("clip")], ["C_h (consistency)", report.get("ch")]]
    keys = ("epochs", "batch_size", "public_batch_size", "lr", "alpha", "beta", "radius", "seed")
    unused = _unused_settings(report)
    rows += [[k, cfg[k]] for k in keys if k in cfg and k not in unused]
    if report.get("imputer"):
        rows.append(["imputer", report["imputer"]])
    if report.get("support_fingerprint"):
        rows.append(["support set", report["support_fingerprint"]])
    return _table(["setting", "value"], [[k, _setting(v)] for k, v in rows])


def _unused_settings(report: dict) -> set[str]:
    """Settings the report's method does not read (left out of the page so they cannot mislead)."""
    from fusiondp.errors import ConfigError
    from fusiondp.train.methods import get_method

    try:
        spec = get_method(str(report.get("method")))
    except ConfigError:  # a method this version does not know: show everything
        return set()
    unused = set()
    if spec.public_rows is None:
        unused.add("public_batch_size")
    if not (spec.is_private and spec.public_rows and spec.mix == "alpha"):
        unused.add("alpha")  # α weighs the noised term against a public gradient
    if not (spec.consistency or spec.mix == "convex"):
        unused.add("beta")  # β weighs the consistency term (fusiondp) or the DP-SGD part (naive_fusion)
    return unused


def _setting(value) -> str:
    """A setting as text (left-aligned in its column): whole floats without decimals (8, not 8.0000)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e6:
        return str(int(value))
    if isinstance(value, float):
        return _fmt(value)
    return "—" if value is None else str(value)


def _learner_html(report: Mapping) -> str:
    """Which learner `--learner auto` chose and why (empty when the learner was asked for by name)."""
    if not isinstance(c := report.get("learner_choice"), dict):
        return ""
    return f"<p class='sub'>Learner: {_e(c.get('learner'))} (--learner auto: {_e(c.get('why'))}).</p>"


def render_html(report: Mapping, *, title: str | None = None) -> str:
    """The full HTML page of a run report (a dict as written by `fusiondp train --report`, or its `RunRecord`)."""
    if hasattr(report, "to_report"):  # a RunRecord: render its JSON report
        report = report.to_report()
    method = report.get("method", "run")
    title = title or f"fusiondp report: {method}"
    statement = privacy_statement(report)
    yes, no = _protection_lists(report)
    plots = "".join(f"<figure><img alt='{_e(c)}' src='{uri}'><figcaption class='sub'>{_e(c)}</figcaption>"
                    "</figure>" for c, uri in _plots(report))
    eps = report.get("epsilon")
    headline = ("ε = {:.2f}, δ = {:g}".format(eps, report.get("delta")) if report.get("neighbouring")
                else "no formal guarantee" if method == "sgd_ori" else "ε = 0 for the sensitive columns")
    dp_event = json.dumps(report.get("dp_event"), indent=2) if report.get("dp_event") else None
    from fusiondp.report.record import summary_of

    # The run record's privacy statement, machine-readable (`fusiondp.report.record.RunRecord.privacy_summary`),
    # as a <meta> element: the page stays free of scripts.
    summary = _e(json.dumps(summary_of(report)))
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="fusiondp-privacy" content="{summary}"><style>{_CSS}</style></head><body>
<h1>{_e(title)}</h1>
<p class="sub">{_e(report.get('method_summary', ''))}</p>
{_learner_html(report)}
<h2>Privacy statement</h2>
<div class="statement{'' if report.get('neighbouring') else ' none'}"><p class="big">{_e(headline)}
{'· ' + _e(report.get('neighbouring')) + ' relation' if report.get('neighbouring') else ''}</p>
<p>{_e(statement)}</p></div>
<div class="cols"><div><h3 class="ok">Protected</h3><ul>{''.join(f'<li>{_e(x)}</li>' for x in yes) or '<li>nothing</li>'}
</ul></div><div><h3 class="no">Not protected</h3><ul>{''.join(f'<li>{_e(x)}</li>' for x in no)}</ul></div></div>
<h2>Metrics</h2>{_metrics_html(report)}
{_release_html(report)}
{_comparison_html(report)}
{_imputation_html(report)}
{_audit_html(report)}
{'<h2>Training</h2><div class="plots">' + plots + '</div>' if plots else ''}
<h2>Settings</h2>{_settings_html(report)}
{f'<details><summary>dp-accounting event</summary><pre>{_e(dp_event)}</pre></details>' if dp_event else ''}
<footer>Generated {now} by fusiondp {_e(report.get('fusiondp_version', ''))}. Metrics are read on the
splits named above; selection used validation data only.</footer>
</body></html>
"""


# The entries a run report must hold, with their allowed types (None: the entry may be null).
_REPORT_SHAPE = {"method": (str,), "epsilon": (int, float, type(None)), "neighbouring": (str, type(None)),
                 "metrics": (dict,), "history": (list,)}


def load_report(path: str | Path) -> dict:
    """Read a JSON run report and check its shape (the entries the page's privacy statement rests on).

    Raises:
        DataError: missing, unreadable, not JSON, or lacking an entry (named) or holding one of the wrong type.
    """
    from fusiondp.errors import DataError

    from fusiondp._files import check_input

    path = Path(path)
    if not path.is_file() and not path.exists():
        raise DataError(f"Report file not found: {path}")
    check_input(path, what="Report")  # a folder, FIFO or device is refused before it is opened
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{path} is not a JSON report: {type(e).__name__} at position "
                        f"{getattr(e, 'pos', getattr(e, 'start', '?'))}.") from None
    except RecursionError:
        raise DataError(f"{path} is not a fusiondp run report: its JSON is nested too deeply.") from None
    except OSError as e:
        raise DataError(f"Cannot read report {path}: {e.strerror}.") from None
    if not isinstance(report, dict) or "method" not in report:
        raise DataError(f"{path} is not a fusiondp run report (no 'method' entry).")
    for key, types in _REPORT_SHAPE.items():
        if key not in report:
            raise DataError(f"{path} is not a complete fusiondp run report: it lacks {key!r}, so its privacy "
                            "statement cannot be written.", hint="use the JSON written by `fusiondp train --report`")
        if not isinstance(report[key], types) or isinstance(report[key], bool):
            raise DataError(f"{path} is not a fusiondp run report: {key!r} is a {type(report[key]).__name__}.")
    for i, entry in enumerate(report["history"]):  # the plots read one object per epoch
        if not isinstance(entry, dict):
            raise DataError(f"{path} is not a fusiondp run report: history entry {i} is a {type(entry).__name__}, "
                            "not an object.")
    return report


def write_html(report: Mapping | str | Path, out: str | Path, *, title: str | None = None) -> Path:
    """Render `report` (a JSON report dict, a `RunRecord`, or the path of a JSON report) to the HTML file `out`
    (written atomically)."""
    from fusiondp._files import write_file

    if not isinstance(report, Mapping):
        report = load_report(report)
    return write_file(Path(out), render_html(report, title=title))
