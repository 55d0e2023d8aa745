"""The closed training run: the open core (`fusiondp.train.core`) driven by settings, checkpoints and progress.

`train` is what the CLI, the estimator, the pipeline, the bench and the text model call. It resolves
the settings (`TrainConfig` and the defaults rule), builds the model and optimiser, hands them to a
`fusiondp.train.core.FeatureDPEngine` (sampling, the shared step, accounting, budget) and loops over
its batches, recording each epoch and saving checkpoints. There is no second engine: a user's own
loop (docs/own_training_loop.md) runs the same core.

>>> import torch
>>> from fusiondp.train.engine import TrainData, train
>>> from fusiondp.train.config import TrainConfig
>>> x = torch.randn(256, 5); y = (x[:, 0] > 0).float()
>>> data = TrainData(x=x, x_hybrid=x.clone(), y=y, x_reference=x.flip(0))
>>> res = train("fusiondp", data, config=TrainConfig(epochs=1, batch_size=32, public_batch_size=64,
...             epsilon=4.0, delta=1e-4), progress=False)
>>> res.epsilon <= 4.0
True
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from torch import nn

from fusiondp._seeds import torch_seed
from fusiondp.errors import BudgetError
from fusiondp.evaluate.metrics import classification_metrics, predict_scores
from fusiondp.privacy.accounting import AccountingPlan
from fusiondp.train import checkpoint as ckpt
from fusiondp.train import distributed
from fusiondp.train.config import TrainConfig
from fusiondp.train.core import BatchSource, FeatureDPEngine, FeatureDPOptimizer
from fusiondp.train.methods import MethodSpec, get_method
from fusiondp.train.models import ModelLike, build_model, preferred_optimizer
from fusiondp.train.numerics import flush_denormal
from fusiondp.train.views import TrainData

__all__ = ["TrainData", "TrainResult", "train"]

@dataclass
class TrainResult:
    """A trained model with the complete description of how it was trained."""

    model: nn.Module
    method: MethodSpec
    config: TrainConfig
    plan: AccountingPlan | None
    epsilon: float
    steps: int
    ch: float | None
    seconds: float
    history: list[dict] = field(default_factory=list)
    secure_randomness: bool = True
    #: The free baseline trained next to the run (`fusiondp.tune.baseline.release_guard`), if any.
    public_baseline: "TrainResult | None" = field(default=None, repr=False)

    @property
    def relation(self) -> str | None:
        return self.plan.relation if self.plan else None


def _progress(enabled: bool) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[info]}"), TimeElapsedColumn(), disable=not enabled, transient=False)


def train(method: str | MethodSpec, data: TrainData, *, config: TrainConfig | None = None,
          model: ModelLike | None = None, val: tuple[torch.Tensor, torch.Tensor] | None = None,
          progress: bool = True, checkpoint: str | Path | None = None,
          on_epoch: Callable[[dict], None] | None = None, device: str | torch.device | None = None) -> TrainResult:
    """Train `model` (default: the paper's MLP) with `method` on `data`.

    Args:
        method: a name from `fusiondp.train.methods.METHODS`, or a MethodSpec.
        data: aligned views of the training set.
        config: hyperparameters and budget (None fields: `fusiondp.train.defaults.auto_settings`).
        model: a module following the contract in `fusiondp.train.models`, a factory
            (n_features, n_outputs) -> module, or a "module:factory" string (default: the paper's MLP).
        val: optional (x, y) validation tensors, scored after every epoch (never test data).
        progress: show a progress bar with live ε.
        checkpoint: a file to save after every epoch; if it exists the run resumes from it,
            with the accountant's step count restored (so ε keeps accumulating).
        on_epoch: called with each epoch's history row.
        device: 'cpu' (default) or 'cuda'. Inside a torch.distributed process group (torchrun, or
            `fusiondp.train.distributed.launch`) the call is one rank of a group run: it trains on its
            shard, and only rank 0 shows progress, scores `val` and writes the checkpoint
            (fusiondp.train.distributed). Subnormal floats are flushed to zero while training
            (`fusiondp.train.numerics.flush_denormal`).

    Raises:
        ConfigError, DataError, UnsupportedError, BudgetError, DistributedError.
    """
    with flush_denormal():
        spec = get_method(method) if isinstance(method, str) else method
        resuming = checkpoint is not None and Path(checkpoint).exists()
        if config is not None and config.warm_start_epochs > 0 and spec.public_rows == "hybrid" and not resuming:
            model = _warm_start(data, config, model, device)
        return _train(spec, data, config=config, model=model, val=val, progress=progress, checkpoint=checkpoint,
                      on_epoch=on_epoch, device=device)


def _warm_start(data: TrainData, cfg: TrainConfig, model, device) -> nn.Module:
    """Noise-free SGD on the hybrid rows before the private steps (a lever beyond the paper).

    The hybrid table is public, so this phase spends no budget and is not accounted; it starts the
    private phase from the public optimum's neighbourhood, where the noised difference term only has
    to correct what the true sensitive values add. Settings: the defaults rule's for `sgd_hybrid`.
    """
    warm = TrainConfig(epochs=cfg.warm_start_epochs, seed=cfg.seed, hidden=cfg.hidden, dropout=cfg.dropout,
                       per_sample=cfg.per_sample, delta=cfg.delta)
    return _train("sgd_hybrid", data, config=warm, model=model, val=None, progress=False, checkpoint=None,
                  on_epoch=None, device=device).model


def _train(method, data, *, config, model, val, progress, checkpoint, on_epoch, device) -> TrainResult:
    dist = distributed.context(device)
    spec = get_method(method) if isinstance(method, str) else method
    cfg, model = _configure(spec, data, config, model)
    # Public randomness (init, dropout, public-batch order, C_h rows) follows --seed; the Poisson mask and
    # the noise come from the core's secret generators (fusiondp.privacy.randomness), never from the seed.
    public_gen = torch.Generator().manual_seed(torch_seed(cfg.seed, "public_batches"))  # SeedSequence child
    model.to(dist.device)
    dist.sync_module(model)
    distributed.reseed_public(dist, cfg.seed)
    opt = _optimizer(cfg, model)
    engine = FeatureDPEngine(spec, accountant=cfg.accountant, relation=cfg.relation,
                             insecure_noise_seed=cfg.insecure_noise_seed, secure_rng=cfg.secure_rng)
    _, private_opt, batches = engine.make_private(
        module=model, optimizer=opt, data=data, target_epsilon=cfg.epsilon, delta=cfg.delta, epochs=cfg.epochs,
        batch_size=cfg.batch_size, public_batch_size=cfg.public_batch_size, noise_multiplier=cfg.noise_multiplier,
        clip=cfg.clip, alpha=cfg.alpha, beta=cfg.beta, radius=cfg.radius, ch=cfg.ch, ch_quantile=cfg.ch_quantile,
        per_sample=cfg.per_sample, projection_rank=cfg.projection_rank, alpha_schedule=cfg.alpha_schedule,
        generator=public_gen, dist=dist)
    run_id = ckpt.identify(spec, cfg, data) if checkpoint is not None else None
    history = _resume(checkpoint, engine, opt, public_gen, cfg, dist, run_id)

    def save(done: int, rows: list) -> None:
        if checkpoint is not None and dist.is_main:
            ckpt.save(Path(checkpoint), model, opt, public_gen, engine.randomness, spec, engine.plan, done, rows,
                      engine.ch, run=run_id, total_steps=engine.total_steps)

    t0 = time.perf_counter()
    model.train()
    _loop(engine, private_opt, batches, history, val=val, dist=dist, progress=progress, on_epoch=on_epoch,
          save=save, t0=t0)
    spent = engine.plan.spent() if engine.plan else 0.0
    if engine.plan and engine.plan.target_epsilon is not None and spent > engine.plan.target_epsilon * (1 + 1e-9):
        raise BudgetError(f"Run spent epsilon={spent:.4f} above its budget {engine.plan.target_epsilon}.")
    model.eval()
    model.to("cpu")
    return TrainResult(model=model, method=spec, config=cfg, plan=engine.plan, epsilon=spent,
                       steps=engine.total_steps, ch=engine.ch, seconds=time.perf_counter() - t0, history=history,
                       secure_randomness=engine.randomness.secure)


def _configure(spec: MethodSpec, data: TrainData, config: TrainConfig | None, model: ModelLike | None
               ) -> tuple[TrainConfig, nn.Module]:
    """Validate the settings, seed the public randomness, build the model and resolve the None ("auto") fields."""
    cfg = config or TrainConfig()
    cfg.validate(data.n)
    for v in spec.views:
        data.view(v)
    torch.manual_seed(cfg.seed)
    n_features = int(np.prod(data.x.shape[1:]))
    model = build_model(model, n_features=n_features, n_outputs=1 if data.n_classes == 2 else data.n_classes,
                        hidden=cfg.hidden, dropout=cfg.dropout,  # an auto β is the rule's, always > 0
                        needs_representation=spec.consistency and (cfg.beta is None or cfg.beta > 0))
    # None fields: fusiondp.train.defaults (public quantities and the model's stated optimiser)
    cfg = cfg.resolve(n_rows=data.n, n_features=n_features, method=spec.name,
                      preferred_optimizer=preferred_optimizer(model))
    cfg.validate(data.n)
    return cfg, model


def _optimizer(cfg: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    """The optimiser a TrainConfig names (a user's own loop passes any optimiser to the core instead)."""
    if cfg.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=cfg.lr)
    return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)


def _resume(checkpoint: str | Path | None, engine: FeatureDPEngine, opt: torch.optim.Optimizer,
            public_gen: torch.Generator, cfg: TrainConfig, dist, run_id) -> list[dict]:
    """Continue from `checkpoint` when it exists (every rank): model, optimiser, public generator, steps, C_h.

    Returns the history of the finished epochs ([] for a fresh run).
    """
    if checkpoint is None or not dist.broadcast_object(Path(checkpoint).exists()):
        return []
    start_step, history, ch = 0, [], engine.ch
    if dist.is_main:
        start_step, history, ch = ckpt.resume(Path(checkpoint), engine._model, opt, public_gen, engine.randomness,
                                              engine.spec, engine.plan, ch, run=run_id)
    start_step, history, ch = distributed.sync_resumed(dist, engine._model, opt, public_gen, engine.randomness,
                                                       start_step, history, ch)
    distributed.reseed_public(dist, cfg.seed, start_step)
    engine.restore(start_step, ch)
    return history


def _loop(engine: FeatureDPEngine, optimizer: FeatureDPOptimizer, batches: BatchSource, history: list[dict], *,
          val, dist, progress: bool, on_epoch, save: Callable[[int, list], None], t0: float) -> None:
    """The steps of the run, with one history row (and a checkpoint) at the end of each epoch."""
    n, b, total = batches.n, batches.expected_batch, engine.total_steps
    steps_per_epoch = n / b
    n_epochs = math.ceil(total / steps_per_epoch - 1e-9)
    val_x = val[0].to(dist.device) if val is not None else None
    bar = _progress(progress and dist.is_main)
    with bar:
        task = bar.add_task(engine.spec.name, total=total, completed=engine.steps_done, info="")
        epoch_loss: list[float] = []
        for batch in batches:
            optimizer.zero_grad(set_to_none=True)
            stats = engine.backward(batch)
            optimizer.step()
            epoch_loss.append(stats.public_loss)
            done = engine.steps_done
            epoch_end = math.floor((len(history) + 1) * steps_per_epoch + 1e-9)
            if done >= epoch_end or done == total:
                row = _epoch_row(engine, history, done, epoch_loss, t0)
                if val is not None and dist.is_main:
                    row["val"] = classification_metrics(val[1].numpy(), predict_scores(engine._model, val_x))
                history.append(row)
                epoch_loss = []
                bar.update(task, info=_epoch_info(row, n_epochs, engine.plan is not None))
                save(done, history)
                if on_epoch:
                    on_epoch(row)
            bar.update(task, completed=done)


def _epoch_row(engine: FeatureDPEngine, history: list[dict], done: int, losses: list[float], t0: float) -> dict:
    """One epoch's history row: ε so far (coarse PLD grid: an upper bound), mean public loss, time."""
    return {"epoch": len(history) + 1, "step": done,
            "epsilon": engine.accountant.epsilon_after(done, coarse=True) if engine.accountant else 0.0,
            "public_loss": float(np.nanmean(losses)) if not all(map(math.isnan, losses)) else None,
            "seconds": time.perf_counter() - t0}


def _epoch_info(row: dict, n_epochs: int, private: bool) -> str:
    info = f"epoch {row['epoch']}/{n_epochs}" + (f"  ε={row['epsilon']:.3f}" if private else "")
    if "val" in row:
        key = "auroc" if "auroc" in row["val"] else "accuracy"
        info += f"  val {key}={row['val'][key]:.3f}"
    return info
