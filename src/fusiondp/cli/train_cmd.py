"""`fusiondp train`: train one method on CSV/Parquet files and write a JSON report."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from fusiondp.cli.app import command
from fusiondp.data.schema import Schema
from fusiondp.data.tabular import read_table
from fusiondp.errors import ConfigError
from fusiondp.train.config import TrainConfig
from fusiondp.train.methods import METHODS

out = Console()
Opt = typer.Option


def write_json_atomic(path: Path, payload: dict) -> None:
    """Write JSON to `path` via a temporary file, so a failure never leaves half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=float, allow_nan=True))
    tmp.replace(path)


@command("train")
def train(
    train: Annotated[Path, Opt("--train", help="Training table (CSV or Parquet), true sensitive values.")],
    target: Annotated[str, Opt("--target", help="Label column (public).")],
    sensitive: Annotated[str, Opt("--sensitive", help="Sensitive columns, comma-separated.")],
    hybrid: Annotated[Optional[Path], Opt("--hybrid", help="Hybrid copy of the training table (same rows and "
                                          "order, sensitive columns imputed).")] = None,
    support: Annotated[Optional[Path], Opt("--support", help="Public support set: impute the hybrid on the fly "
                                           "instead of --hybrid.")] = None,
    imputer: Annotated[str, Opt("--imputer", help="Imputer used with --support.")] = "default",
    val: Annotated[Optional[Path], Opt("--val", help="Validation table (scored each epoch).")] = None,
    test: Annotated[Optional[Path], Opt("--test", help="Test table (scored once at the end).")] = None,
    drop: Annotated[str, Opt("--drop", help="Columns to ignore, comma-separated.")] = "",
    categorical: Annotated[str, Opt("--categorical", help="Extra columns to one-hot encode.")] = "",
    method: Annotated[str, Opt("--method", help=f"One of: {', '.join(METHODS)}.")] = "fusiondp",
    epsilon: Annotated[float, Opt("--epsilon", help="Privacy budget ε.")] = 2.0,
    delta: Annotated[float, Opt("--delta", help="δ; must be below 1/N.")] = 1e-5,
    relation: Annotated[str, Opt("--relation", help="Neighbouring relation: remove or replace.")] = "remove",
    accountant: Annotated[str, Opt("--accountant", help="pld (default) or rdp.")] = "pld",
    epochs: Annotated[float, Opt("--epochs")] = 13,
    batch_size: Annotated[int, Opt("--batch-size", help="Expected private batch size b.")] = 128,
    public_batch_size: Annotated[int, Opt("--public-batch-size")] = 4096,
    lr: Annotated[float, Opt("--lr")] = 0.07,
    optimizer: Annotated[str, Opt("--optimizer", help="sgd or adam.")] = "sgd",
    clip: Annotated[float, Opt("--clip", help="Clipping norm C.")] = 1.8,
    alpha: Annotated[float, Opt("--alpha")] = 3.0,
    beta: Annotated[float, Opt("--beta")] = 0.5,
    radius: Annotated[float, Opt("--radius", help="Projection radius M (inf disables).")] = 10.0,
    noise_multiplier: Annotated[Optional[float], Opt("--noise-multiplier", help="Fix σ instead of calibrating; "
                                                     "ε is then reported, still capped by --epsilon.")] = None,
    seed: Annotated[int, Opt("--seed")] = 0,
    report: Annotated[Optional[Path], Opt("--report", help="Write the JSON report here.")] = None,
    checkpoint: Annotated[Optional[Path], Opt("--checkpoint", help="Save after every epoch; resume from it if it "
                                              "exists (the accountant's step count is restored).")] = None,
    progress: Annotated[bool, Opt("--progress/--no-progress")] = True,
    save_model: Annotated[Optional[Path], Opt("--save-model", help="Save the trained model with its privacy record "
                                              "(a .safetensors file; see `fusiondp predict`).")] = None,
) -> None:
    """Train one method and report its privacy guarantee and test metrics."""
    from fusiondp.pipeline import run

    if (hybrid is None) == (support is None):
        raise ConfigError("Give exactly one of --hybrid (a ready hybrid table) or --support (impute on the fly).")
    if not math.isfinite(epsilon) or epsilon <= 0:
        raise ConfigError(f"Expected epsilon > 0, got epsilon={epsilon!r}.")
    schema = Schema(target, sensitive, drop, categorical)
    cfg = TrainConfig(epochs=epochs, batch_size=batch_size, public_batch_size=public_batch_size, lr=lr,
                      optimizer=optimizer, clip=clip,
                      alpha=alpha, beta=beta, radius=radius, epsilon=epsilon, delta=delta, relation=relation,
                      accountant=accountant, noise_multiplier=noise_multiplier, seed=seed)
    train_df = read_table(train, what="training")
    cfg.validate(len(train_df))
    evals = {k: read_table(p, what=k) for k, p in (("validation", val), ("test", test)) if p is not None}
    if support is not None:
        from fusiondp.impute import make_hybrid

        hybrid_df = make_hybrid(train_df, read_table(support, what="support"), schema, imputer=imputer,
                                random_state=seed, progress=progress)
    else:
        hybrid_df = read_table(hybrid, what="hybrid")
    result, prepared, rep = run(train_df, hybrid_df, schema, method=method, config=cfg,
                                val_df=evals.get("validation"), test_df=evals.get("test"), progress=progress,
                                checkpoint=checkpoint)
    out.print(f"[bold]{rep['method']}[/]: " + (f"ε = {rep['epsilon']:.4f} (target {epsilon:g}), δ = {delta:g}, "
              f"{rep['neighbouring']} relation, {rep['accountant']}, σ = {rep['noise_multiplier']:.4f}"
              if rep["neighbouring"] else "no formal privacy guarantee" if rep["epsilon"] is None
              else "feature-level ε = 0: the sensitive values were never read"))
    for split, m in rep["metrics"].items():
        out.print(f"  {split}: " + "  ".join(f"{k}={v:.4f}" for k, v in m.items()))
    out.print(f"  {rep['steps']} steps in {rep['seconds']:.1f} s")
    if support is not None:
        from fusiondp.io import support_fingerprint

        rep["imputer"], rep["support_fingerprint"] = imputer, support_fingerprint(read_table(support, what="support"))
    if report is not None:
        write_json_atomic(report, rep)
        from fusiondp.report.html import write_html

        out.print(f"  report: {report} and {write_html(rep, report.with_suffix('.html'))}")
    if save_model is not None:
        from fusiondp.io import save

        out.print(f"  model: {save(save_model, result, prepared, rep)}")
