"""`fusiondp audit attribute|canary`: empirical privacy audits of the sensitive features."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from fusiondp.cli import _training_options as O
from fusiondp.cli._console import CliConsole
from fusiondp.cli.app import INPUT, OUTPUT, app, command, err

out = CliConsole()
Opt = typer.Option

audit_app = typer.Typer(name="audit", no_args_is_help=True, rich_markup_mode="rich",
                        help="Empirical privacy audits. Subcommands: `attribute` (attribute inference on a "
                             "released model) and `canary` (one-run canary audit of a training configuration); "
                             "their options: `fusiondp audit SUBCOMMAND --help` or docs/audit.md.")
app.add_typer(audit_app, name="audit")


def _f(value, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _check_outputs(out_path: Path, html: Path | None) -> None:
    """Both outputs of an audit checked before any work (never an input, writable, right suffix)."""
    from fusiondp._files import check_distinct, check_output

    check_distinct({"--out": check_output(out_path, what="--out", suffixes=[".json"]),
                    "--html": check_output(html, what="--html", suffixes=[".html"])})


def _write(out_path: Path, result: dict, html: Path | None, report, audit: dict) -> None:
    """The JSON result and the optional HTML page, written as one all-or-nothing group."""
    from fusiondp._files import json_text, write_files
    from fusiondp.audit.report import audit_html

    files = {out_path: json_text(result)}
    if html is not None:
        files[html] = audit_html(report(), audit)
    write_files(files)
    out.print(f"  result: {out_path}")
    if html is not None:
        out.print(f"  page: {html}")


@command("attribute", group=audit_app)
def attribute(
    model: Annotated[Path, Opt("--model", help="A model saved by `fusiondp train --save-model`."), INPUT],
    train: Annotated[Path, Opt("--train", help="The model's training table (true sensitive values: ground "
                                               "truth)."), INPUT],
    heldout: Annotated[Path, Opt("--heldout", help="Rows of the same population the model never saw (e.g. "
                                                   "test)."), INPUT],
    support: Annotated[Path, Opt("--support", help="Public support set (all columns); the attacker's "
                                                   "knowledge."), INPUT],
    out_path: Annotated[Path, Opt("--out", help="Write the JSON result here."), OUTPUT],
    rows: Annotated[int, Opt("--rows", help="Attack at most this many rows of each split (0: all).")] = 3000,
    grid: Annotated[int, Opt("--grid", help="Candidates per numeric column (support quantiles).")] = 25,
    imputer: Annotated[str, Opt("--imputer", help="Imputer of the prior and of the baseline.")] = "default",
    bootstrap: Annotated[int, Opt("--bootstrap", help="Bootstrap resamples for the CIs.")] = 1000,
    confidence: Annotated[float, Opt("--confidence", help="CI level.")] = 0.95,
    seed: Annotated[int, Opt("--seed", help="Seed of the row subsets, bootstrap and imputers.")] = 0,
    html: Annotated[Optional[Path], Opt("--html", help="Also write the model's HTML page with an Audit "
                                                       "section."), OUTPUT]
    = None,
) -> None:
    """Attribute inference: how well the model lets an attacker guess each sensitive column of training rows.

    Its output holds noise-free statistics of the training rows' true sensitive values: every output says
    it is not for release.
    """
    from fusiondp.audit.attribute import attribute_audit
    from fusiondp.audit.report import model_report
    from fusiondp.data.tabular import read_table
    from fusiondp.io import load

    _check_outputs(out_path, html)
    saved = load(model)
    frames = {k: read_table(p, what=k) for k, p in (("training", train), ("held-out", heldout), ("support", support))}
    result = attribute_audit(saved, frames["training"], frames["held-out"], frames["support"],
                             rows=rows or None, bootstrap=bootstrap, confidence=confidence, seed=seed,
                             imputer=imputer, grid=grid)
    result["model"] = str(model)
    eps = saved.privacy.get("epsilon")
    out.print(f"[bold red]{result['release']}[/]")
    out.print(f"[bold]{result['method']}[/] ({'no formal guarantee' if eps is None else f'ε = {eps:.3g}'}): "
              f"attribute inference, {confidence:.0%} CIs")
    for name, c in result["columns"].items():
        adv, gap = c["advantage"], c["membership_gap"]
        out.print(f"  {name:<16} {c['metric']:<8} baseline {_f(c['train']['baseline'])}  attack train "
                  f"{_f(c['train']['attack'])} held-out {_f(c['heldout']['attack'])}  advantage {_f(adv['value'])} "
                  f"[{_f(adv['ci'][0])}, {_f(adv['ci'][1])}]  membership gap {_f(gap['value'])} "
                  f"[{_f(gap['ci'][0])}, {_f(gap['ci'][1])}]" + ("  LEAK" if c["leak_detected"] else ""))
    _write(out_path, result, html, lambda: model_report(saved), {"attribute": result})


@command("canary", group=audit_app)
def canary(
    train: O.Train,
    target: O.Target,
    sensitive: O.Sensitive,
    out_path: Annotated[Path, Opt("--out", help="Write the JSON result here."), OUTPUT],
    hybrid: O.Hybrid = None,
    support: O.Support = None,
    imputer: O.Imputer = "default",
    drop: O.Drop = "",
    categorical: O.Categorical = "",
    method: O.Method = "fusiondp",
    epsilon: O.Epsilon = 2.0,
    delta: O.Delta = 1e-5,
    relation: O.Relation = "remove",
    accountant: O.Accountant = "pld",
    epochs: O.Epochs = None,
    batch_size: O.BatchSize = None,
    public_batch_size: O.PublicBatchSize = None,
    lr: O.Lr = None,
    optimizer: O.Optimizer = None,
    clip: O.Clip = None,
    alpha: O.Alpha = None,
    beta: O.Beta = None,
    radius: O.Radius = None,
    canaries: Annotated[int, Opt("--canaries", help="Number of canaries m.")] = 1000,
    magnitude: Annotated[float, Opt("--magnitude", help="Planted value scale (standardised units).")] = 8.0,
    pattern: Annotated[str, Opt("--pattern", help="Planted values: sign (±magnitude) or gaussian.")] = "sign",
    public_scale: Annotated[float, Opt("--public-scale", help="Canaries' public features: random N(0, s²) "
                                       "(standardised units), 0 copies real rows.")] = 3.0,
    confidence: Annotated[float, Opt("--confidence", help="Confidence of the ε lower bound.")] = 0.95,
    seed: O.Seed = 0,
    html: Annotated[Optional[Path], Opt("--html", help="Also write the audited run's HTML page with an Audit "
                                        "section."), OUTPUT] = None,
    progress: O.Progress = True,
) -> None:
    """One-run canary audit: plant canaries, train once, and bound ε from below (Steinke et al. 2023).

    It retrains the method on the training rows: it spends that run's ε again (printed and written as
    ``budget_spent``).
    """
    from fusiondp.audit.canary import canary_audit

    _check_outputs(out_path, html)
    from fusiondp.data.schema import Schema
    from fusiondp.data.tabular import read_table
    from fusiondp.pipeline import prepare, report
    from fusiondp.train.config import TrainConfig

    O.check_inputs(hybrid, support, epsilon)
    schema = Schema(target, sensitive, drop, categorical)
    train_df = read_table(train, what="training")
    support_df = O.read_support(support)  # read once
    hybrid_df = O.hybrid_table(train_df, hybrid, support_df, schema, imputer=imputer, seed=seed,
                               progress=progress).frame
    cfg = TrainConfig(epochs=epochs, batch_size=batch_size, public_batch_size=public_batch_size, lr=lr,
                      optimizer=optimizer, clip=clip, alpha=alpha, beta=beta, radius=radius, epsilon=epsilon,
                      delta=delta, relation=relation, accountant=accountant, seed=seed)
    cfg.validate(len(train_df) + canaries)
    from fusiondp.train.methods import get_method

    prepared = prepare(train_df, hybrid_df, schema, seed=seed, support_df=support_df,
                       record_level=get_method(method).needs_public_preprocessing)
    audit = canary_audit(prepared.data, prepared.pre.sensitive_mask(), method, cfg, m=canaries, magnitude=magnitude,
                         pattern=pattern, public_scale=public_scale, seed=seed, confidence=confidence,
                         progress=progress)
    result = audit.to_dict()
    acc = result["epsilon_accounted"]
    out.print(f"[bold]{result['method']}[/]: ε lower bound {result['epsilon_lower_bound']:.3f} at "
              f"{confidence:.0%} confidence ({result['correct']}/{result['guesses']} correct guesses on "
              f"{result['canaries']} canaries, δ = {result['delta']:g}); accounted ε "
              + ("— (no formal guarantee)" if acc is None else f"{acc:.3f}") + f" for the {result['relation']} "
              "relation")
    out.print(f"  [yellow]budget:[/] {result['budget_spent']}")
    if acc is not None and result["epsilon_lower_bound"] > acc * (1 + 1e-9):
        err.print("[bold red]warning:[/] the lower bound exceeds the accounted ε: the guarantee is contradicted.")
    _write(out_path, result, html, lambda: report(audit.train_result, prepared).to_report(), {"canary": result})
