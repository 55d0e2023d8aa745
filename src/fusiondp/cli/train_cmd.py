"""`fusiondp train`: train one method on CSV/Parquet files and write a JSON report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from fusiondp.cli import _training_options as O
from fusiondp.cli.app import command
from fusiondp.data.schema import Schema
from fusiondp.data.tabular import read_table
from fusiondp.errors import ConfigError
from fusiondp.train.config import TrainConfig

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
    train: O.Train,
    target: O.Target,
    sensitive: O.Sensitive,
    hybrid: O.Hybrid = None,
    support: O.Support = None,
    imputer: O.Imputer = "default",
    val: Annotated[Optional[Path], Opt("--val", help="Validation table (scored each epoch).")] = None,
    test: Annotated[Optional[Path], Opt("--test", help="Test table (scored once at the end).")] = None,
    drop: O.Drop = "",
    categorical: O.Categorical = "",
    method: O.Method = "fusiondp",
    epsilon: O.Epsilon = 2.0,
    delta: O.Delta = 1e-5,
    relation: O.Relation = "remove",
    accountant: O.Accountant = "pld",
    epochs: O.Epochs = 13,
    batch_size: O.BatchSize = 128,
    public_batch_size: O.PublicBatchSize = 4096,
    lr: O.Lr = 0.07,
    optimizer: O.Optimizer = "sgd",
    clip: O.Clip = 1.8,
    alpha: O.Alpha = 3.0,
    beta: O.Beta = 0.5,
    radius: O.Radius = 10.0,
    noise_multiplier: Annotated[Optional[float], Opt("--noise-multiplier", help="Fix σ instead of calibrating; "
                                                     "ε is then reported, still capped by --epsilon.")] = None,
    seed: O.Seed = 0,
    report: Annotated[Optional[Path], Opt("--report", help="Write the JSON report here.")] = None,
    checkpoint: Annotated[Optional[Path], Opt("--checkpoint", help="Save after every epoch; resume from it if it "
                                              "exists (the accountant's step count is restored).")] = None,
    progress: O.Progress = True,
    nproc: O.NProc = 1,
    device: O.Device = "cpu",
    save_model: Annotated[Optional[Path], Opt("--save-model", help="Save the trained model with its privacy record "
                                              "(a .safetensors file; see `fusiondp predict`).")] = None,
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
    schema = Schema(target, sensitive, drop, categorical)
    cfg = TrainConfig(epochs=epochs, batch_size=batch_size, public_batch_size=public_batch_size, lr=lr,
                      optimizer=optimizer, clip=clip,
                      alpha=alpha, beta=beta, radius=radius, epsilon=epsilon, delta=delta, relation=relation,
                      accountant=accountant, noise_multiplier=noise_multiplier, seed=seed)
    train_df = read_table(train, what="training")
    cfg.validate(len(train_df))
    evals = {k: read_table(p, what=k) for k, p in (("validation", val), ("test", test)) if p is not None}
    hybrid_df = O.hybrid_table(train_df, hybrid, support, schema, imputer=imputer, seed=seed, progress=progress)
    result, prepared, rep = run(train_df, hybrid_df, schema, method=method, config=cfg,
                                val_df=evals.get("validation"), test_df=evals.get("test"), progress=progress,
                                checkpoint=checkpoint, nproc=nproc, device=device)
    if not distributed.is_main():
        return
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
