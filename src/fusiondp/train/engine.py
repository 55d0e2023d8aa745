"""The training loop: Poisson sampling, the shared step, accounting, budget, checkpoints.

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
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from torch import nn

from fusiondp.errors import BudgetError, ConfigError, DataError
from fusiondp.evaluate.metrics import classification_metrics, predict_scores
from fusiondp.privacy.accounting import AccountingPlan, plan
from fusiondp.privacy.randomness import private_randomness
from fusiondp.train import checkpoint as ckpt
from fusiondp.train import distributed
from fusiondp.train.config import TrainConfig
from fusiondp.train.ghost import supports as ghost_supports
from fusiondp.train.methods import MethodSpec, get_method
from fusiondp.train.models import ModelLike, _WithRepresentation, build_model, preferred_optimizer
from fusiondp.train.numerics import flush_denormal
from fusiondp.train.persample import loss_for, per_sample_term, row_loss_for
from fusiondp.train.sampling import uniform_subset
from fusiondp.train.projection import REFRESH_STEPS, basis_rows, estimate_basis, flatten
from fusiondp.train.schedules import alpha_at
from fusiondp.train.step import Batch, private_unit_grads, step


@dataclass
class TrainData:
    """Aligned training tensors: row i of every view is the same record.

    Attributes:
        x: original rows (private: their sensitive part is read only by the clipped, noised term).
        x_hybrid: hybrid rows (sensitive part imputed from public data; public).
        y: labels (0/1 floats for binary, class indices otherwise; public in this setting).
        x_noise: public features with the sensitive part replaced by data-independent noise
            (for `fdp`, `sgd_pub`).
        x_reference: a public perturbation of `x_hybrid` that changes only sensitive features
            (e.g. sensitive blocks swapped between hybrid rows); C_h is measured on ‖h(x̃) − h(x_ref)‖.
        n_classes: number of label classes.
        public_digest: a digest of the public inputs the views were encoded with (the public reference
            table of a record-level run); a checkpoint of a record-level run is bound to it instead of to
            the training rows (`fusiondp.train.checkpoint`).
    """

    x: torch.Tensor
    x_hybrid: torch.Tensor | None
    y: torch.Tensor
    x_noise: torch.Tensor | None = None
    x_reference: torch.Tensor | None = None
    n_classes: int = 2
    public_digest: str | None = None

    def __post_init__(self) -> None:
        n = self.x.shape[0]
        if n == 0:
            raise DataError("The training set is empty.")
        for name in ("x_hybrid", "x_noise", "x_reference"):
            v = getattr(self, name)
            if v is not None and tuple(v.shape) != tuple(self.x.shape):
                raise DataError(f"{name} has shape {tuple(v.shape)} but x has {tuple(self.x.shape)}: "
                                "views must be row-aligned copies of the training set.")
        if self.y.shape[0] != n:
            raise DataError(f"y has {self.y.shape[0]} rows but x has {n}.")
        for name in ("x", "x_hybrid", "x_noise", "x_reference"):
            v = getattr(self, name)
            if v is not None and v.is_floating_point() and not torch.isfinite(v).all():
                raise DataError(f"{name} holds NaN or infinite values; preprocess (fill) them first.")

    @property
    def n(self) -> int:
        return int(self.x.shape[0])

    def view(self, name: str) -> torch.Tensor:
        v = {"original": self.x, "hybrid": self.x_hybrid, "noise": self.x_noise}[name]
        if v is None:
            raise ConfigError(f"This method needs the {name!r} view of the training data, which was not given.")
        return v


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

    @property
    def relation(self) -> str | None:
        return self.plan.relation if self.plan else None


def measure_ch(model: nn.Module, x_hybrid: torch.Tensor, x_reference: torch.Tensor, quantile: float,
               generator: torch.Generator, rows: int = 4096) -> float:
    """C_h from public data only: a quantile of ‖h(x̃) − h(x_ref)‖ at the current weights."""
    idx = torch.randperm(x_hybrid.shape[0], generator=generator)[:rows]
    was = model.training
    model.eval()
    with torch.no_grad():
        d = (model.representation(x_hybrid[idx]) - model.representation(x_reference[idx])).norm(dim=1)
    model.train(was)
    ch = float(torch.quantile(d, quantile))
    if not math.isfinite(ch) or ch <= 0:
        warnings.warn("Measured C_h was 0 (the reference view equals the hybrid view); using C_h = 1.",
                      RuntimeWarning, stacklevel=2)
        return 1.0
    return ch


def _check_levers(spec: MethodSpec, cfg: TrainConfig, data: TrainData, distributed_run: bool) -> bool:
    """Refuse a lever the method cannot use; True when the private term is projected (projection_rank)."""
    if not spec.is_private:
        return False  # nothing private to project or weight (e.g. the sgd_hybrid public baseline)
    if cfg.alpha_schedule != "constant" and not (spec.mix == "alpha" and spec.public_rows):
        raise ConfigError(f"alpha_schedule={cfg.alpha_schedule!r} schedules the weight α of a private term beside a "
                          f"public gradient; method {spec.name!r} does not weight its private term by α.")
    if cfg.projection_rank is None:
        return False
    if spec.public_rows is None:
        raise ConfigError(f"projection_rank needs public rows to estimate the subspace; method {spec.name!r} "
                          "reads none (record-level dpsgd may not read hybrid rows).")
    if data.x_reference is None:
        raise ConfigError("projection_rank estimates its subspace on the reference view: give "
                          "data.x_reference (the pipeline builds it from the hybrid rows).")
    if distributed_run:
        raise ConfigError("projection_rank is not supported in a process group yet (the subspace would be "
                          "estimated from each rank's shard); train in one process.")
    return True


def public_basis(model: nn.Module, wrapper: nn.Module, spec: MethodSpec, x_stand_in: torch.Tensor,
                 x_view: torch.Tensor, y: torch.Tensor, *, rank: int, term, row_loss, beta: float,
                 ch: float | None) -> torch.Tensor:
    """An orthonormal basis (P × k) of the private term's gradients on public stand-in records.

    The stand-ins are public rows (reference view paired with the method's public view): nothing of a
    training record's sensitive values enters the basis. Evaluated without dropout.
    """
    was = model.training
    model.eval()
    try:
        grads = private_unit_grads(model, wrapper, x_stand_in, x_view, y, spec, term=term, row_loss=row_loss,
                                   beta=beta, ch=ch)
    finally:
        model.train(was)
    return estimate_basis(flatten(grads, list(grads)), rank)


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
    cfg = config or TrainConfig()
    cfg.validate(data.n)
    for v in spec.views:
        data.view(v)
    if data.n_classes < 2:
        raise DataError("The training labels hold a single class; nothing to learn.")

    # Public randomness (init, dropout, public-batch order, C_h rows) follows --seed; the Poisson mask and
    # the noise come from secret generators (fusiondp.privacy.randomness), never from the seed.
    torch.manual_seed(cfg.seed)
    n_features = int(np.prod(data.x.shape[1:]))
    model = build_model(model, n_features=n_features, n_outputs=1 if data.n_classes == 2 else data.n_classes,
                        hidden=cfg.hidden, dropout=cfg.dropout,  # an auto β is the rule's, always > 0
                        needs_representation=spec.consistency and (cfg.beta is None or cfg.beta > 0))
    # None fields: fusiondp.train.defaults (public quantities and the model's stated optimiser)
    cfg = cfg.resolve(n_rows=data.n, n_features=n_features, method=spec.name,
                      preferred_optimizer=preferred_optimizer(model))
    cfg.validate(data.n)
    if spec.mix == "convex" and not 0 <= cfg.beta <= 1:
        raise ConfigError(f"Method {spec.name!r} mixes gradients with weights 1-beta and beta: "
                          f"expected 0 <= beta <= 1, got beta={cfg.beta!r}.")
    project = _check_levers(spec, cfg, data, dist.active)
    public_gen = torch.Generator().manual_seed(cfg.seed * 2 + 1)
    secret = (distributed.randomness(dist, cfg.insecure_noise_seed, csprng=cfg.secure_rng) if dist.active
              else private_randomness(cfg.insecure_noise_seed, csprng=cfg.secure_rng))
    noise_gen = distributed.noise_generator(dist, secret)
    model.to(dist.device)
    dist.sync_module(model)
    distributed.reseed_public(dist, cfg.seed)
    wrapper = _WithRepresentation(model)
    loss_fn = loss_for(data.n_classes)
    use_ghost = cfg.per_sample == "ghost" or (cfg.per_sample == "auto" and ghost_supports(model))
    if cfg.per_sample == "ghost" and not ghost_supports(model):
        raise ConfigError("per_sample='ghost' needs every parameter in a Linear or LayerNorm layer; "
                          "use per_sample='vmap' for this model.")
    row_loss = row_loss_for(data.n_classes) if use_ghost else None
    n, b = data.n, cfg.batch_size
    if b > n:
        raise ConfigError(f"batch_size={b} exceeds the {n} training rows.")
    q = b / n
    total_steps = max(1, int(cfg.epochs * n / b))
    steps_per_epoch = n / b
    n_epochs = math.ceil(total_steps / steps_per_epoch - 1e-9)

    acct: AccountingPlan | None = None
    if spec.is_private:
        acct = plan(sample_rate=q, steps=total_steps, delta=cfg.delta, relation=spec.relation(cfg.relation),
                    accountant=cfg.accountant, target_epsilon=cfg.epsilon, noise_multiplier=cfg.noise_multiplier)

    ch = None
    if spec.consistency and cfg.beta > 0:
        if cfg.ch is not None:
            ch = float(cfg.ch)
        elif data.x_reference is None:
            raise ConfigError("The consistency term needs C_h: give config.ch or data.x_reference "
                              "(a public perturbation of the hybrid rows).")
        else:
            ch = measure_ch(model, data.x_hybrid.to(dist.device), data.x_reference.to(dist.device),
                            cfg.ch_quantile, public_gen)
            ch = dist.broadcast_object(ch)

    opt: torch.optim.Optimizer
    if cfg.optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    term = per_sample_term(wrapper, spec, loss_fn, beta=cfg.beta, ch=ch) if spec.is_private else None

    start_step, history = 0, []
    run_id = ckpt.identify(spec, cfg, data) if checkpoint is not None else None
    if checkpoint is not None and dist.broadcast_object(Path(checkpoint).exists()):
        if dist.is_main:
            start_step, history, ch = ckpt.resume(Path(checkpoint), model, opt, public_gen, secret, spec, acct, ch,
                                                  run=run_id)
        start_step, history, ch = distributed.sync_resumed(dist, model, opt, public_gen, secret, start_step,
                                                           history, ch)
        distributed.reseed_public(dist, cfg.seed, start_step)
        term = per_sample_term(wrapper, spec, loss_fn, beta=cfg.beta, ch=ch) if spec.is_private else None

    # Each rank touches only its shard [lo, hi) of every view (the whole table in one process).
    lo, hi = dist.shard(n)
    here = lambda v: v[lo:hi].to(dist.device) if v is not None else None  # noqa: E731
    pub_x = here(data.view(spec.public_rows)) if spec.public_rows else None
    priv_x = here(data.x) if spec.is_private else None
    priv_xt = here(data.view(spec.private_view)) if spec.private_view else priv_x
    y_here = here(data.y)
    pub_b = min(cfg.public_batch_size, n)
    # Every private method divides the noised sum by the expected batch size b = qN, never the realised
    # size: the realised size is not covered by the Poisson event (docs/method.md §4 step 4).
    denom = float(b)
    sigma = acct.noise_multiplier if acct else 0.0

    reduce = dist.all_reduce_sum if dist.active else None
    val_x = val[0].to(dist.device) if val is not None else None

    ref_x = here(data.x_reference) if project else None
    basis: torch.Tensor | None = None

    t0 = time.perf_counter()
    model.train()
    bar = _progress(progress and dist.is_main)
    with bar:
        task = bar.add_task(spec.name, total=total_steps, completed=start_step, info="")
        epoch_loss: list[float] = []
        for t in range(start_step, total_steps):
            if pub_x is not None:
                # Every rank draws the same public indices (a uniform pub_b-subset, O(pub_b)) and keeps
                # those in its shard.
                idx = dist.local(uniform_subset(n, pub_b, public_gen), n).to(dist.device)
                px, py = pub_x[idx], y_here[idx]
            else:
                px = py = None
            if spec.is_private:
                # Poisson sampling in O(b) (the same law as a length-N mask). In a process group each rank
                # draws its own shard's records from its own secret source (distributed.private_sample).
                sel = distributed.private_sample(dist, n, q, secret).to(dist.device)
                batch = Batch(px, py, priv_x[sel], priv_xt[sel], y_here[sel], denom, pub_b)
            else:
                empty = y_here.new_zeros((0, *data.x.shape[1:]), dtype=data.x.dtype)
                batch = Batch(px, py, empty, empty, y_here[:0], 1.0, pub_b)
            if project and (basis is None or t % REFRESH_STEPS == 0):
                # Public stand-ins only: reference rows paired with the method's public view (module docstring
                # of fusiondp.train.projection); evenly spaced rows of this step's (sorted, uniform) public batch.
                m = basis_rows(cfg.projection_rank)
                rows = idx[::max(1, idx.numel() // m)][:m]
                view = priv_xt if spec.private_view else ref_x  # a 'loss' term (naive_fusion) has no pair
                basis = public_basis(model, wrapper, spec, ref_x[rows], view[rows], y_here[rows],
                                     rank=cfg.projection_rank, term=term, row_loss=row_loss, beta=cfg.beta, ch=ch)
            stats = step(model, wrapper, opt, batch, spec, term=term, loss_fn=loss_fn, clip=cfg.clip,
                         noise_multiplier=sigma, alpha=alpha_at(cfg.alpha_schedule, cfg.alpha, t, total_steps),
                         beta=cfg.beta, radius=cfg.radius, generator=noise_gen, row_loss=row_loss, ch=ch,
                         reduce=reduce, basis=basis)
            epoch_loss.append(stats.public_loss)
            done = t + 1
            epoch_end = math.floor((len(history) + 1) * steps_per_epoch + 1e-9)
            if done >= epoch_end or done == total_steps:
                row = {"epoch": len(history) + 1, "step": done,
                       "epsilon": acct.spent(done, coarse=True) if acct else 0.0,
                       "public_loss": float(np.nanmean(epoch_loss)) if not all(map(math.isnan, epoch_loss))
                       else None, "seconds": time.perf_counter() - t0}
                if val is not None and dist.is_main:
                    row["val"] = classification_metrics(val[1].numpy(), predict_scores(model, val_x))
                history.append(row)
                epoch_loss = []
                info = f"epoch {row['epoch']}/{n_epochs}" + (f"  ε={row['epsilon']:.3f}" if acct else "")
                if "val" in row:
                    key = "auroc" if "auroc" in row["val"] else "accuracy"
                    info += f"  val {key}={row['val'][key]:.3f}"
                bar.update(task, info=info)
                if checkpoint is not None and dist.is_main:
                    ckpt.save(Path(checkpoint), model, opt, public_gen, secret, spec, acct, done, history, ch,
                              run=run_id, total_steps=total_steps)
                if on_epoch:
                    on_epoch(row)
            bar.update(task, completed=done)
    spent = acct.spent() if acct else 0.0
    if acct and acct.target_epsilon is not None and spent > acct.target_epsilon * (1 + 1e-9):
        raise BudgetError(f"Run spent epsilon={spent:.4f} above its budget {acct.target_epsilon}.")
    model.eval()
    model.to("cpu")
    return TrainResult(model=model, method=spec, config=cfg, plan=acct, epsilon=spent, steps=total_steps, ch=ch,
                       seconds=time.perf_counter() - t0, history=history, secure_randomness=secret.secure)
