"""`fusiondp train`: train one method on CSV/Parquet files and write a JSON report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from fusiondp.cli import _training_options as O
from fusiondp.cli._console import CliConsole
from fusiondp.cli.app import INPUT, OUTPUT, command
from fusiondp.data.schema import Schema
from fusiondp.data.tabular import read_table
from fusiondp.evaluate.labels import METRIC_ORDER
from fusiondp.errors import ConfigError
from fusiondp.train.config import TrainConfig

out = CliConsole()
Opt = typer.Option


def write_json_atomic(path: Path, payload: dict) -> None:
    """Write JSON to `path` atomically, so a failure never leaves half a report (`fusiondp._files`)."""
    from fusiondp._files import json_text, write_file

    write_file(path, json_text(payload))


def check_train_outputs(*, report: Path | None, save_model: Path | None,
                        checkpoint: Path | None) -> dict[str, Path | None]:
    """Resolve and check every output of a training command before anything is read or trained.

    The report is JSON (``.json``) and its HTML page goes next to it (same name, ``.html``); the model is a
    ``.safetensors`` file (never replacing a file that is not a fusiondp model); the checkpoint a ``.ckpt``
    file. None may be an input of the run (`fusiondp._files.run_scope`) or coincide with another.
    """
    from fusiondp._files import check_distinct, check_output

    from fusiondp.io import check_model_destination

    outs = {"report": check_output(report, what="--report", suffixes=[".json"]),
            "model": check_output(save_model, what="--save-model", suffixes=[".safetensors"]),
            "checkpoint": check_output(checkpoint, what="--checkpoint", suffixes=[".ckpt"])}
    if outs["model"] is not None:
        check_model_destination(outs["model"])
    outs["html page"] = check_output(outs["report"].with_suffix(".html"), what="HTML report",
                                     suffixes=[".html"]) if outs["report"] else None
    check_distinct(outs)
    return outs


@command("train")
def train(
    train: O.Train,
    target: O.Target,
    sensitive: O.Sensitive,
    hybrid: O.Hybrid = None,
    support: O.Support = None,
    imputer: O.Imputer = "default",
    fallback: O.Fallback = "auto",
    joint: O.Joint = "auto",
    public_reference: O.PublicReference = None,
    val: Annotated[Optional[Path], Opt("--val", help="Validation table (scored each epoch)."), INPUT] = None,
    test: Annotated[Optional[Path], Opt("--test", help="Test table (scored once at the end)."), INPUT] = None,
    drop: O.Drop = "",
    categorical: O.Categorical = "",
    id_column: O.IdColumn = None,
    distinct_people: O.DistinctPeople = False,
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
    projection_rank: O.ProjectionRank = None,
    alpha_schedule: O.AlphaSchedule = None,
    settings: O.Settings = None,
    public_baseline: Annotated[bool, Opt("--public-baseline/--no-public-baseline", help="Also train the free "
                               "baseline sgd_hybrid (public, ε = 0): a feature-level run whose support/public-reference "
                               "table has labels releases whichever scores higher on that public table (no ε: "
                               "post-processing); with --val the run is flagged if it scores below it.")] = True,
    tree_candidate: Annotated[bool, Opt("--tree-candidate/--no-tree-candidate", help="With the release guard and "
                              "the built-in network (--learner mlp, or auto where it trains the network; no "
                              "--model): also weigh the free tree public "
                              "stage (gradient-boosted trees on the hybrid rows, ε = 0) and, for a binary target, "
                              "the private network blended with it, and release whichever scores highest on the "
                              "labelled support set; --no-tree-candidate keeps the release a network.")] = True,
    radius: O.Radius = None,
    noise_multiplier: Annotated[Optional[float], Opt("--noise-multiplier", help="Fix σ instead of calibrating; "
                                                     "ε is then reported, still capped by --epsilon.")] = None,
    seed: O.Seed = 0,
    secure_rng: Annotated[bool, Opt("--secure-rng/--no-secure-rng", help="Draw the noise and the Poisson mask from "
                          "the OS CSPRNG (os.urandom; default), or from PyTorch generators seeded from OS entropy "
                          "(also secret; cost: docs/results/speed.md).")] = True,
    report: Annotated[Optional[Path], Opt("--report", help="Write the JSON report here."), OUTPUT] = None,
    checkpoint: Annotated[Optional[Path], Opt("--checkpoint", help="Save after every epoch; resume from it if it "
                                              "exists (the accountant's step count is restored)."), OUTPUT] = None,
    progress: O.Progress = True,
    nproc: O.NProc = 1,
    device: O.Device = "cpu",
    threads: O.Threads = None,
    save_model: Annotated[Optional[Path], Opt("--save-model", help="Save the trained model with its privacy record "
                                              "(a .safetensors file; see `fusiondp predict`): the network, the "
                                              "tree ensemble (--learner trees) or both parts of a blend and its "
                                              "weight (--learner blend)."), OUTPUT] = None,
    model: O.Model = None,
    learner: Annotated[str, Opt("--learner", help="auto (the default): blend where it can run (--method "
                                "fusiondp, a binary target, a labelled --support/--public-reference table, --epsilon "
                                "without --noise-multiplier, no --model, --checkpoint, --nproc or GPU), mlp "
                                "elsewhere; the run prints and records which and why. mlp: a network; trees: "
                                "feature-level DP "
                                "gradient-boosted trees (binary or K >= 3 classes, the private stage of a multiclass "
                                "target needs a labelled support set; --method fusiondp, or sgd_hybrid for the "
                                "public tree stage alone; --clip sets the trees' clip; docs/method.md 'Tree "
                                "learner'); or blend: trees and the network fusiondp on the same records, noise "
                                "calibrated jointly to --epsilon, logits averaged with a weight chosen on the "
                                "labelled support set (binary targets; docs/training.md 'Blend "
                                "learner').")] = "auto",
    fill_hybrid_missing: Annotated[bool, Opt("--fill-hybrid-missing", help="Fill the given --hybrid's missing "
                                   "sensitive cells with the --public-reference table's median (numeric) or most "
                                   "frequent value before training: for a published hybrid that left cells missing, which "
                                   "fusiondp otherwise refuses when they copy the training rows' missingness. Which "
                                   "cells were missing still comes from your hybrid file (docs/privacy.md).")] = False,
) -> None:
    """Train one method and report its privacy guarantee and test metrics.

    Under torchrun every process runs this command; rank 0 alone prints and writes files.
    """
    from fusiondp.pipeline import run
    from fusiondp.train import distributed

    distributed.resolve_device(device)  # a missing GPU is reported before any file is read
    if distributed.init_from_env(device) is not None and nproc > 1:
        raise ConfigError("--nproc starts processes on one machine; under torchrun use its --nproc-per-node.")

    O.check_inputs(hybrid, support, epsilon)
    from fusiondp.blend.auto import LEARNERS

    if learner not in LEARNERS:
        raise ConfigError(f"Unknown --learner {learner!r}; choose {', '.join(LEARNERS)}.")
    if learner == "blend":
        if checkpoint is not None:
            raise ConfigError("--checkpoint does not apply to --learner blend: a blend run is not resumed.",
                              hint="a checkpoint holds one network's training state; a blend also fits trees, "
                                   "which have no resumable state, and a part trained before an interruption "
                                   "would have to be restored exactly, not trained again, to keep the composed "
                                   "epsilon. Rerun the blend; --save-model stores the finished one")
        if given_blend := [k for k, v in {"--model": model, "--noise-multiplier": noise_multiplier}.items()
                           if v is not None]:
            raise ConfigError(f"{', '.join(given_blend)} do not apply to --learner blend.",
                              hint="the blend calibrates its two noise levels to --epsilon, and its network is the "
                                   "built-in MLP")
    if learner == "trees":
        network_only = {"--epochs": epochs, "--batch-size": batch_size, "--public-batch-size": public_batch_size,
                        "--lr": lr, "--optimizer": optimizer, "--alpha": alpha, "--beta": beta, "--radius": radius,
                        "--projection-rank": projection_rank, "--alpha-schedule": alpha_schedule,
                        "--settings": settings, "--model": model, "--checkpoint": checkpoint}
        if given_net := [k for k, v in network_only.items() if v is not None]:
            raise ConfigError(f"{', '.join(given_net)} only apply to --learner mlp.",
                              hint="the tree learner's settings come from its defaults rule (src/fusiondp/trees/"
                                   "defaults.json); --clip sets its clip")
    n_threads = O.set_threads(threads) if nproc == 1 else O.set_threads(threads or nproc)  # --nproc: one per rank
    factory = None
    if model is not None:
        from fusiondp.train.models import load_factory

        if save_model is not None:
            raise ConfigError("--save-model stores the built-in models only (MLP, trees, blend); a --model network "
                              "cannot be saved in a "
                              "fusiondp model file (save its weights yourself; docs/custom_models.md).")
        factory = load_factory(model)  # fails before any data is read
    outs = check_train_outputs(report=report, save_model=save_model, checkpoint=checkpoint)
    schema = Schema(target, sensitive, drop, categorical)
    identity = O.support_identity(id_column, distinct_people)
    if id_column is not None:
        from fusiondp.pipeline import with_id_dropped

        schema = with_id_dropped(schema, id_column)  # before imputation: a key is no feature
    given = dict(epochs=epochs, batch_size=batch_size, public_batch_size=public_batch_size, lr=lr,
                 optimizer=optimizer, radius=radius, clip=clip,
                 alpha=alpha, beta=beta, projection_rank=projection_rank, alpha_schedule=alpha_schedule)
    from_file = {}
    if settings is not None:
        from fusiondp.tune.settings import read_settings

        sf = read_settings(settings)
        if sf["method"] and sf["method"] != method:
            out.print(f"[yellow]warning:[/] {settings} was selected for {sf['method']!r}, not {method!r}.")
        from_file = {k: v for k, v in sf["settings"].items() if k not in given or given[k] is None}
    if learner == "trees":
        given["clip"] = None  # the trees' clip travels in tree_settings
    cfg = TrainConfig(**{k: v for k, v in given.items() if v is not None},
                      epsilon=epsilon, delta=delta, relation=relation, accountant=accountant,
                      noise_multiplier=noise_multiplier, seed=seed, secure_rng=secure_rng, **from_file)
    train_df = read_table(train, what="training")
    cfg.validate(len(train_df))
    evals = {k: read_table(p, what=k) for k, p in (("validation", val), ("test", test)) if p is not None}
    from fusiondp.data.guards import check_eval_not_training

    for k, frame in evals.items():
        check_eval_not_training(train_df, frame, k)
    support_df = O.read_support(support)  # read once: public reference, imputer and fingerprint share it
    public_df = O.public_table(support_df, public_reference)
    if identity is not None and public_df is None:
        raise ConfigError("--id-column and --support-rows-are-distinct-people describe a support table: give "
                          "--support or --public-reference.")
    made = O.hybrid_table(train_df, hybrid, support_df, schema, imputer=imputer, seed=seed, progress=progress,
                          fallback=fallback, joint=joint)
    if fill_hybrid_missing:
        import dataclasses

        from fusiondp.data.guards import fill_hybrid_missing as fill

        if hybrid is None or public_df is None:
            raise ConfigError("--fill-hybrid-missing fills a given --hybrid from a public table: give --hybrid "
                              "and --public-reference.")
        made = dataclasses.replace(made, frame=fill(made.frame, schema.sensitive, public_df))
    if support is not None and distributed.is_main():
        from fusiondp.cli.impute_cmd import fallback_line

        if line := fallback_line(made.provenance):
            out.print(line)
    from fusiondp.io import support_fingerprint
    from fusiondp.report.record import Provenance, SettingsOrigin

    provenance = Provenance(imputer=imputer if support is not None else "given hybrid table",
                            imputation=made.provenance,
                            support_fingerprint=support_fingerprint(support_df) if support_df is not None else None)
    origin = (SettingsOrigin(str(settings), sf["selection"], frozenset(from_file)) if settings is not None else None)
    result, prepared, rep = run(train_df, made.frame, schema, method=method, config=cfg,
                                val_df=evals.get("validation"), test_df=evals.get("test"), progress=progress,
                                checkpoint=outs["checkpoint"], support_df=public_df, model=factory, nproc=nproc,
                                device=device, provenance=provenance, settings_file=origin, learner=learner,
                                tree_settings={"clip": clip} if learner == "trees" else None,
                                support_identity=identity, guard=public_baseline, guard_trees=tree_candidate)
    check = None
    if public_baseline and "val" in prepared.eval_sets and result.method.is_private:
        # Before the other ranks return: under torchrun the baseline's steps are collectives of the whole group.
        from fusiondp.tune.baseline import public_baseline_check, public_reference_data

        # Record-level: the training rows are what the run protects; the baseline reads public reference rows only.
        level = result.method.level
        base_data = public_reference_data(prepared, public_df) if level == "record" else prepared.data
        check = public_baseline_check(base_data, prepared.eval_sets["val"], result.config, rep["metrics"]["val"],
                                      model=factory, level=level, baseline=result.public_baseline)
    if not distributed.is_main():
        return
    sigma = (f"σ = {rep['noise_multiplier']:.4f}" if rep.get("blend") is None else
             f"σ trees {rep['blend']['tree_sigma']:.4f}, σ network {rep['blend']['network_sigma']:.4f} (composed)")
    out.print(f"[bold]{rep['method']}[/]: " + (f"ε = {rep['epsilon']:.4f} (target {epsilon:g}), δ = {delta:g}, "
              f"{rep['neighbouring']} relation, {rep['accountant']}, {sigma}"
              if rep["neighbouring"] else "no formal privacy guarantee" if rep["epsilon"] is None
              else "feature-level ε = 0: the sensitive values were never read"))
    for rel, entry in rep.get("epsilon_by_relation", {}).items():
        if rel != rep["neighbouring"]:
            out.print(f"  same run under the {rel} relation: ε = {entry['epsilon']:.4f} ({entry['accountant'].upper()})")
    if rep.get("secure_randomness") is False:
        out.print(f"  [bold red]{rep['randomness']}[/]")
    if result.method.level == "record" and rep.get("training_rows_text"):
        out.print(f"  {rep['training_rows_text']}")
    if identity is not None:
        out.print(f"  support set disjoint from the training rows by {rep['support_identity']}")
    for split, m in rep["metrics"].items():
        keys = [k for k in METRIC_ORDER if k in m] + [k for k in m if k not in METRIC_ORDER]
        out.print(f"  {split}: " + "  ".join(f"{k}={m[k]:.4f}" for k in keys))
    out.print(f"  {rep['steps']} steps in {rep['seconds']:.1f} s ({n_threads} torch thread(s)"
              + (f" over {nproc} processes)" if nproc > 1 else ")"))
    rep = rep.with_sections(torch_threads=n_threads)
    if (c := rep.get("learner_choice")) is not None:
        out.print(f"  learner: {c['learner']} (--learner auto: {c['why']})")
    auto = [k for k, v in rep["config_source"].items() if v == "auto"]
    if auto:
        shown = lambda v: f"{v:g}" if isinstance(v, (int, float)) else str(v)
        out.print("  defaults rule: " + ", ".join(f"{k}={shown(getattr(result.config, k))}" for k in auto))
    if (b := rep.get("blend")) is not None:
        out.print(f"  blend: weight {b['weight']:g} on the trees' logit, chosen on the {b['weight_chosen_on']}; "
                  f"support AUROC trees {b['support_auroc']['trees']:.4f}, network "
                  f"{b['support_auroc']['network']:.4f}, blend {b['support_auroc']['blend']:.4f}")
    if (g := rep.get("release_guard")) is not None and "skipped" in g:
        out.print(f"  release guard: skipped ({g['skipped']})")
    elif g is not None:
        from fusiondp.tune.baseline import FREE_BLEND

        chosen = ("the private model" if g["released"] == "private" else
                  f"the private network blended with the free tree public stage (weight {g['blend_weight']:g} on "
                  "the trees)" if g["released"] == FREE_BLEND else
                  f"[yellow]the free baseline {g['released']}[/] (the private model scored lower)")
        scores = ", ".join(f"{k} {v:.4f}" for k, v in (g.get("candidates") or {
            "private": g["private_score"], g["baseline"]: g["baseline_score"]}).items())
        trees = (f", {g['tree_baseline']['method']} {g['tree_baseline']['seconds']:.1f} s"
                 if g.get("tree_baseline") else "")
        if (bar := g.get("bar") or {}).get("kept_runner_up"):
            scores += (f"; sgd_hybrid's lead {bar['auroc_lead']:.4f} is within {bar['z']:g} bootstrap standard "
                       f"errors ({bar['bootstrap_se']:.4f}), so it is not released")
        out.print(f"  release guard: {chosen} released; {g['metric']} on the {g['chosen_on']}: {scores} "
                  f"({g['baseline']} {g['baseline_steps']} steps in {g['baseline_seconds']:.1f} s{trees}; no ε: "
                  "post-processing; --no-public-baseline skips it)")
    if check is not None:
        rep = rep.with_sections(public_baseline=check, below_public_baseline=check["below_public_baseline"])
        if check["below_public_baseline"]:
            out.print(f"[yellow]warning:[/] validation {check['metric']} {check['run']:.4f} is below the free public "
                      f"baseline sgd_hybrid ({check['baseline']:.4f}, ε = 0): this run bought nothing with its ε.")
            out.print(f"  public baseline: {check['steps']} steps in {check['seconds']:.1f} s "
                      "(--no-public-baseline skips it)")
        else:
            out.print(f"  public baseline: sgd_hybrid (ε = 0) validation {check['metric']} {check['baseline']:.4f}, "
                      f"this run {check['run']:.4f}; trained on {check['trained_on']}; {check['steps']} steps in "
                      f"{check['seconds']:.1f} s (--no-public-baseline skips it)")
    # Every output is rendered first and written as one all-or-nothing group: a failure leaves none behind.
    from fusiondp._files import json_text, write_files

    files: dict[Path, bytes | str] = {}
    if report is not None:
        from fusiondp.report.html import render_html

        files[outs["report"]] = json_text(rep.to_report())
        files[outs["html page"]] = render_html(rep.to_report())
    if save_model is not None:
        from fusiondp.io import to_bytes

        files[outs["model"]] = to_bytes(result, prepared, rep)
    write_files(files)
    if report is not None:
        out.print(f"  report: {report} and {report.with_suffix('.html')}")
    if save_model is not None:
        out.print(f"  model: {save_model}")
