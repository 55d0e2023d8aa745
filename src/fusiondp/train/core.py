"""The open core: feature-level DP for the user's own model, optimiser, loss and training loop.

In the spirit of Opacus's ``PrivacyEngine.make_private`` (docs/own_training_loop.md):

>>> import torch
>>> from fusiondp.train.core import FeatureDPEngine
>>> from fusiondp.train.views import TrainData
>>> x = torch.randn(256, 5); y = (x[:, 0] > 0).float()
>>> data = TrainData(x=x, x_hybrid=x.clone(), y=y, x_reference=x.flip(0))
>>> net = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
>>> engine = FeatureDPEngine("fdp_fm")
>>> net, opt, batches = engine.make_private(module=net, optimizer=torch.optim.AdamW(net.parameters()),
...                                         data=data, target_epsilon=2.0, delta=1e-4, epochs=1, batch_size=32)
>>> for batch in batches:
...     opt.zero_grad()
...     stats = engine.backward(batch)   # clipped, noised gradient into .grad; one accounted step
...     opt.step()                       # the user's optimiser (AdamW here), then the optional projection
>>> engine.get_epsilon() <= 2.0
True

What each piece does:

* :class:`FeatureDPEngine` runs one of the eight methods of docs/method.md §6 (its *mode*: a row of
  `fusiondp.train.methods.METHODS`). :meth:`FeatureDPEngine.make_private` takes the user's
  ``nn.Module``, any ``torch.optim.Optimizer`` and the training views (`TrainData`: original rows,
  row-aligned hybrid rows, optional noise and reference views; or a public batch source of the
  user's own), and returns the module, the optimiser wrapped in a :class:`FeatureDPOptimizer` and a
  :class:`BatchSource`. :meth:`FeatureDPEngine.backward` computes one step's gradient
  (docs/method.md §4): the noise-free public gradient, the per-record private term clipped to C
  (vectorised: ghost clipping for Linear/LayerNorm models, torch.func vmap for any other, e.g. an
  embedding layer), one Gaussian draw N(0, σ²C²I) and the division by the *expected* batch size
  b = qN; the wrapped optimiser's ``step()`` applies it with the user's optimiser and, when a radius
  M is given, projects the weights onto the ball of radius M.
* :class:`PrivacyAccountant`: counts the noisy steps and asks dp-accounting for ε
  (`fusiondp.privacy.accounting`); a step that would spend more than the target ε raises
  `fusiondp.errors.BudgetError` before its noise is drawn.
* The Poisson sample and the noise come from the secret generators of
  `fusiondp.privacy.randomness` (OS entropy, never stored); the public batches and C_h rows from the
  public ``generator`` (the user's seed).

The closed ``fusiondp.train.engine.train`` (CLI, estimator, pipeline, bench, text model) is this core
driven by a loop with the defaults rule, checkpoints, a process group and progress.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator

import torch
from torch import nn

from fusiondp.errors import BudgetError, ConfigError, DataError
from fusiondp.privacy.accounting import AccountingPlan, _accountant, epsilon, plan
from fusiondp.privacy.randomness import PrivateRandomness, private_randomness
from fusiondp.train import distributed
from fusiondp.train.defaults import engine_steps
from fusiondp.train.ghost import supports as ghost_supports
from fusiondp.train.methods import MethodSpec, get_method
from fusiondp.train.models import PlainModel, _WithRepresentation, check_model, has_representation
from fusiondp.train.persample import LossFn, loss_for, per_sample_term, row_loss_for
from fusiondp.train.projection import REFRESH_STEPS, basis_rows, estimate_basis, flatten
from fusiondp.train.sampling import uniform_subset
from fusiondp.train.schedules import SCHEDULES, alpha_at
from fusiondp.train.step import Batch, StepStats, noised_gradient, private_unit_grads, project_
from fusiondp.train.views import TrainData

#: A public batch source: called once per step, returns public (x, y) rows of the method's public view.
PublicSource = Callable[[], tuple[torch.Tensor, torch.Tensor]]


class PrivacyAccountant:
    """The privacy spent by the noisy steps of one run, from dp-accounting.

    Every step is the same Poisson-sampled Gaussian mechanism (rate q, noise multiplier σ); after T
    steps ε is dp-accounting's for ``SelfComposedDpEvent(PoissonSampledDpEvent(q, GaussianDpEvent(σ)), T)``
    (`fusiondp.privacy.accounting.epsilon`) under the run's neighbouring relation. Nothing here
    computes ε by hand.

    Args:
        noise_multiplier: σ (noise std / clipping norm).
        sample_rate: Poisson sampling rate q = b / N.
        relation: 'remove', 'replace' or 'add_remove' (docs/method.md §2).
        accountant: 'pld' or 'rdp'.
        delta: δ of `get_epsilon()` and of the budget.
        target_epsilon: the budget; :meth:`step` raises BudgetError rather than exceed it.

    >>> acc = PrivacyAccountant(noise_multiplier=1.0, sample_rate=0.01, accountant="rdp", delta=1e-5,
    ...                         target_epsilon=2.0)
    >>> acc.step(10); acc.steps
    10
    >>> acc.get_epsilon() < 2.0
    True
    >>> acc.step(5000)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    fusiondp.errors.BudgetError: Step 5010 would spend epsilon=... above the budget 2 (delta=1e-05, rdp accountant, remove relation).
    >>> acc.steps  # unchanged: the refused steps were not taken
    10
    """

    def __init__(self, *, noise_multiplier: float, sample_rate: float, relation: str = "remove",
                 accountant: str = "pld", delta: float | None = None, target_epsilon: float | None = None) -> None:
        _accountant(accountant, relation)  # names and support (RDP cannot analyse 'replace') checked now
        if target_epsilon is not None and delta is None:
            raise ConfigError("A budget (target_epsilon) needs its delta.")
        if noise_multiplier < 0 or not 0 < sample_rate <= 1:
            raise ConfigError(f"Expected noise_multiplier >= 0 and 0 < sample_rate <= 1, got "
                              f"{noise_multiplier!r} and {sample_rate!r}.")
        self.noise_multiplier = float(noise_multiplier)
        self.sample_rate = float(sample_rate)
        self.relation = relation
        self.accountant = accountant
        self.delta = None if delta is None else float(delta)
        self.target_epsilon = None if target_epsilon is None else float(target_epsilon)
        self.steps = 0
        self._within = 0  # step counts up to this one are known to be within the budget (ε grows with T)

    @classmethod
    def from_plan(cls, p: AccountingPlan) -> PrivacyAccountant:
        """The accountant of a planned run (`fusiondp.privacy.accounting.plan` checked its T steps)."""
        acc = cls(noise_multiplier=p.noise_multiplier, sample_rate=p.sample_rate, relation=p.relation,
                  accountant=p.accountant, delta=p.delta, target_epsilon=p.target_epsilon)
        acc._within = p.steps if p.target_epsilon is not None else 0
        return acc

    def epsilon_after(self, steps: int, delta: float | None = None, *, coarse: bool = False) -> float:
        """ε after `steps` steps at `delta` (default: the accountant's δ); `coarse`: PLD's faster upper bound."""
        d = self.delta if delta is None else delta
        if d is None:
            raise ConfigError("Give delta: this accountant was made without one.")
        if steps <= 0:
            return 0.0
        return epsilon(noise_multiplier=self.noise_multiplier, sample_rate=self.sample_rate, steps=int(steps),
                       delta=float(d), relation=self.relation, accountant=self.accountant, coarse=coarse)

    def get_epsilon(self, delta: float | None = None, *, coarse: bool = False) -> float:
        """ε spent by the steps taken so far."""
        return self.epsilon_after(self.steps, delta, coarse=coarse)

    def step(self, count: int = 1) -> None:
        """Account for `count` more noisy steps; BudgetError (and no change) if they would exceed the budget."""
        after = self.steps + int(count)
        if self.target_epsilon is not None and after > self._within:
            spent = self.epsilon_after(after)
            if spent > self.target_epsilon * (1 + 1e-9):
                raise BudgetError(f"Step {after} would spend epsilon={spent:.4f} above the budget "
                                  f"{self.target_epsilon:g} (delta={self.delta:g}, {self.accountant} accountant, "
                                  f"{self.relation} relation).",
                                  hint="stop training here, or plan the run with more noise or fewer steps")
            self._within = after
        self.steps = after

    def state_dict(self) -> dict:
        """Everything that defines the spent budget (JSON-safe), for checkpoints."""
        return {"noise_multiplier": self.noise_multiplier, "sample_rate": self.sample_rate,
                "relation": self.relation, "accountant": self.accountant, "delta": self.delta,
                "target_epsilon": self.target_epsilon, "steps": self.steps}

    def load_state_dict(self, state: dict) -> None:
        """Restore the step count of the same mechanism; ConfigError for another σ, q, relation or budget."""
        mine = self.state_dict()
        diffs = [k for k in mine if k != "steps" and state.get(k) != mine[k]]
        if diffs:
            raise ConfigError("The saved accountant describes another mechanism (" +
                              ", ".join(f"{k}={state.get(k)!r} there, {mine[k]!r} here" for k in diffs) + ").")
        self.steps = int(state["steps"])


class FeatureDPOptimizer(torch.optim.Optimizer):
    """The user's optimiser, stepping only on the engine's private gradient.

    Shares the wrapped optimiser's ``param_groups``, ``state`` and ``defaults`` (as Opacus's
    DPOptimizer does), so learning-rate schedulers, ``state_dict()`` and changes to the learning rate
    act on the same objects. ``step()`` refuses to run unless :meth:`FeatureDPEngine.backward` has just
    put the private gradient in ``.grad`` and nothing changed it since (a plain ``loss.backward()`` on
    training rows would add an unclipped, un-noised gradient to it, in place). Post-processing the
    noised gradient would be private too, but cannot be told apart from that, so it is refused as well.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, engine: FeatureDPEngine) -> None:
        # Optimizer.__init__ is not called: this object owns no parameter groups of its own.
        self.original_optimizer = optimizer
        self._engine = engine

    @property
    def param_groups(self) -> list[dict]:  # type: ignore[override]
        return self.original_optimizer.param_groups

    @param_groups.setter
    def param_groups(self, value: list[dict]) -> None:
        self.original_optimizer.param_groups = value

    @property
    def state(self):  # type: ignore[override]
        return self.original_optimizer.state

    @state.setter
    def state(self, value) -> None:
        self.original_optimizer.state = value

    @property
    def defaults(self) -> dict:  # type: ignore[override]
        return self.original_optimizer.defaults

    @defaults.setter
    def defaults(self, value: dict) -> None:
        self.original_optimizer.defaults = value

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.original_optimizer.zero_grad(set_to_none)

    def step(self, closure: Callable | None = None):  # type: ignore[override]
        if closure is not None:
            raise ConfigError("FeatureDPOptimizer.step takes no closure: a closure would re-evaluate the loss on "
                              "training rows outside the clipped, noised term.")
        self._engine._check_pending()
        out = self.original_optimizer.step()
        self._engine._after_step()
        return out

    def state_dict(self) -> dict:
        return self.original_optimizer.state_dict()

    def load_state_dict(self, state_dict: dict) -> None:
        self.original_optimizer.load_state_dict(state_dict)

    def add_param_group(self, param_group: dict) -> None:
        raise ConfigError("Add parameter groups before make_private: every parameter the optimiser steps must "
                          "be a parameter of the private module.")

    def __repr__(self) -> str:
        return f"FeatureDPOptimizer({self.original_optimizer!r})"


class BatchSource:
    """The batches of a run, one per step: a public batch and a Poisson-sampled private batch.

    Iterating yields the batches of the remaining planned steps. The private batch holds each
    record independently with probability q (`fusiondp.train.distributed.private_sample`, drawn from the
    secret sources); the public batch is a uniform subset of the method's public view drawn from the
    public generator, or whatever the user's `public_source` returns. In a process group each rank gets
    the rows of its shard of both (`fusiondp.train.distributed`).
    """

    def __init__(self, *, spec: MethodSpec, n: int, sample_rate: float, expected_batch: int, public_batch: int,
                 steps: int, randomness: PrivateRandomness, public_generator: torch.Generator,
                 dist: distributed.Dist, public_x: torch.Tensor | None, private_x: torch.Tensor | None,
                 private_x_tilde: torch.Tensor | None, y: torch.Tensor, row_shape: tuple, row_dtype: torch.dtype,
                 public_source: PublicSource | None = None) -> None:
        self.spec, self.n, self.sample_rate = spec, n, sample_rate
        self.expected_batch, self.public_batch, self.steps = expected_batch, public_batch, steps
        self._randomness, self._public_gen, self._dist = randomness, public_generator, dist
        self._pub_x, self._priv_x, self._priv_xt, self._y = public_x, private_x, private_x_tilde, y
        self._row_shape, self._row_dtype = row_shape, row_dtype
        self._public_source = public_source
        self.drawn = 0

    def __len__(self) -> int:
        return max(0, self.steps - self.drawn)

    def __iter__(self) -> Iterator[Batch]:
        while self.drawn < self.steps:
            yield self.draw()

    def _public(self) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
        if self.spec.public_rows is None:
            return None, None, None
        if self._public_source is not None:
            px, py = self._public_source()
            return px.to(self._y.device), py.to(self._y.device), None
        # Every rank draws the same public indices (a uniform subset, O(public batch)) and keeps its shard's.
        idx = self._dist.local(uniform_subset(self.n, self.public_batch, self._public_gen), self.n)
        idx = idx.to(self._y.device)
        return self._pub_x[idx], self._y[idx], idx

    def draw(self) -> Batch:
        """The next step's batch (public rows first, then the Poisson sample, as every run draws them)."""
        px, py, idx = self._public()
        pub_den = None if self._public_source is not None else self.public_batch
        self.drawn += 1
        if self.spec.is_private:
            # Poisson sampling in O(b); in a process group each rank draws its own shard's records from its
            # own secret source (`distributed.private_sample`: no secret crosses the network). The noised sum
            # is divided by the expected batch size b = qN, never the realised size: the realised size is not
            # covered by the Poisson event (docs/method.md §4 step 4).
            sel = distributed.private_sample(self._dist, self.n, self.sample_rate, self._randomness)
            sel = sel.to(self._y.device)
            return Batch(px, py, self._priv_x[sel], self._priv_xt[sel], self._y[sel], float(self.expected_batch),
                         pub_den, idx)
        return nonprivate_batch(px, py, self._y, self._row_shape, self._row_dtype, pub_den, idx)


def nonprivate_batch(px, py, y: torch.Tensor, row_shape: tuple, row_dtype: torch.dtype,
                     public_denominator: float | None, public_index: torch.Tensor | None) -> Batch:
    """A non-private method's batch: the public rows only (empty private tensors)."""
    empty = y.new_zeros((0, *row_shape), dtype=row_dtype)
    return Batch(px, py, empty, empty, y[:0], 1.0, public_denominator, public_index)


def measure_ch(model: nn.Module, x_hybrid: torch.Tensor, x_reference: torch.Tensor, quantile: float,
               generator: torch.Generator, rows: int = 4096) -> float:
    """C_h from public data only: a quantile of ‖h(x̃) − h(x_ref)‖ at the current weights."""
    idx = torch.randperm(x_hybrid.shape[0], generator=generator)[:rows]
    was = model.training
    model.eval()
    with torch.no_grad():
        d = (model.representation(x_hybrid[idx]) - model.representation(x_reference[idx])).norm(dim=1)
    model.train(was)
    ch = float(torch.quantile(d.float(), quantile))
    if not math.isfinite(ch) or ch <= 0:
        warnings.warn("Measured C_h was 0 (the reference view equals the hybrid view); using C_h = 1.",
                      RuntimeWarning, stacklevel=2)
        return 1.0
    return ch


def check_levers(spec: MethodSpec, data: TrainData, *, alpha_schedule: str, projection_rank: int | None,
                 distributed_run: bool, public_source: PublicSource | None = None) -> bool:
    """Refuse a lever the method cannot use; True when the private term is projected (projection_rank)."""
    if alpha_schedule not in SCHEDULES:
        raise ConfigError(f"Unknown alpha_schedule {alpha_schedule!r}; choose one of {', '.join(SCHEDULES)}.")
    if not spec.is_private:
        return False  # nothing private to project or weight (e.g. the sgd_hybrid public baseline)
    if alpha_schedule != "constant" and not (spec.mix == "alpha" and spec.public_rows):
        raise ConfigError(f"alpha_schedule={alpha_schedule!r} schedules the weight α of a private term beside a "
                          f"public gradient; method {spec.name!r} does not weight its private term by α.")
    if projection_rank is None:
        return False
    if spec.public_rows is None:
        raise ConfigError(f"projection_rank needs public rows to estimate the subspace; method {spec.name!r} "
                          "reads none (record-level dpsgd may not read hybrid rows).")
    if data.x_reference is None:
        raise ConfigError("projection_rank estimates its subspace on the reference view: give "
                          "data.x_reference (the pipeline builds it from the hybrid rows).")
    if public_source is not None:
        raise ConfigError("projection_rank picks its public stand-in records among the drawn public rows; it "
                          "cannot be combined with a public_source of your own.")
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


def _row_loss_of(loss_fn: LossFn) -> LossFn:
    """Per-row values of a batch-mean loss, by vmap over one-row batches (for ghost clipping)."""
    def rows(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.func.vmap(lambda z, t: loss_fn(z.unsqueeze(0), t.unsqueeze(0)))(logits, y)
    return rows


def _optimizer_kind(optimizer: torch.optim.Optimizer) -> str:
    """'adam' for the Adam family (the defaults rule's lr and radius differ), else 'sgd'."""
    return "adam" if isinstance(optimizer, (torch.optim.Adam, torch.optim.AdamW)) else "sgd"


class FeatureDPEngine:
    """Feature-level (or record-level) DP training of the user's model in the user's loop.

    Args:
        method: the mode, a name of `fusiondp.train.methods.METHODS` (docs/method.md §6) or a MethodSpec:
            'fusiondp', 'fdp_fm', 'fdp', 'naive_fusion', 'dpsgd', or a non-private reference
            ('sgd_ori', 'sgd_hybrid', 'sgd_pub').
        accountant: 'pld' (default) or 'rdp'.
        relation: 'remove' (default) or 'replace' (feature-level methods; see
            `fusiondp.train.methods.MethodSpec.relation` for what each method is accounted under).
        insecure_noise_seed: TESTS ONLY: replayable noise and sampling; the guarantee then does not hold.
        secure_rng: draw the noise and the Poisson mask from the OS CSPRNG (secure mode, the default) instead
            of OS-seeded PyTorch generators (`fusiondp.privacy.randomness`); both are secret.

    After :meth:`make_private`: ``accountant`` (a :class:`PrivacyAccountant`, None for a non-private
    mode), ``plan`` (the `AccountingPlan` of the planned steps), ``settings`` (the values used, with
    ``settings_source`` saying which came from the defaults rule), ``ch`` (C_h), ``randomness``.
    """

    def __init__(self, method: str | MethodSpec = "fusiondp", *, accountant: str = "pld", relation: str = "remove",
                 insecure_noise_seed: int | None = None, secure_rng: bool = True) -> None:
        self.spec = get_method(method) if isinstance(method, str) else method
        if relation not in ("remove", "replace"):
            raise ConfigError(f"Expected relation 'remove' or 'replace', got {relation!r}.")
        self.accountant_name, self.relation = accountant, relation
        self.insecure_noise_seed, self.secure_rng = insecure_noise_seed, secure_rng
        self.accountant: PrivacyAccountant | None = None
        self.plan: AccountingPlan | None = None
        self.ch: float | None = None
        self.randomness: PrivateRandomness | None = None
        self.settings: dict = {}
        self.settings_source: dict[str, str] = {}
        self.steps_done = 0
        self._prepared = False
        self._pending: dict[str, torch.Tensor] | None = None

    # ---- setup ------------------------------------------------------------------------------------

    def make_private(self, *, module: nn.Module, optimizer: torch.optim.Optimizer, data: TrainData,
                     loss_fn: LossFn | None = None, target_epsilon: float | None = None, delta: float = 1e-5,
                     epochs: float | None = None, steps: int | None = None, batch_size: int | None = None,
                     public_batch_size: int | None = None, noise_multiplier: float | None = None,
                     clip: float | None = None, alpha: float | None = None, beta: float | None = None,
                     radius: float | None = None, ch: float | None = None, ch_quantile: float = 0.9,
                     per_sample: str = "auto", projection_rank: int | None = None,
                     alpha_schedule: str = "constant", generator: torch.Generator | None = None,
                     public_source: PublicSource | None = None, dist: distributed.Dist | None = None
                     ) -> tuple[nn.Module, FeatureDPOptimizer, BatchSource]:
        """Wrap `module`, `optimizer` and `data` for private training; returns (module, optimizer, batches).

        Args:
            module: the user's network (any ``nn.Module`` without batch-mixing layers such as BatchNorm).
                Mode 'fusiondp' with β > 0 needs ``representation(x)`` and ``head(h)`` on it
                (`fusiondp.train.models`); it is trained in place and returned as given.
            optimizer: any ``torch.optim.Optimizer`` over (a subset of) ``module``'s parameters, e.g. AdamW;
                schedulers may wrap the returned optimiser or the original one.
            data: the aligned views (`fusiondp.train.views.TrainData`) on the module's device, or CPU.
            loss_fn: ``loss_fn(logits, y) -> batch-mean loss`` (default: BCE-with-logits for two classes,
                cross-entropy otherwise).
            target_epsilon, delta: the budget; σ is calibrated by dp-accounting for the planned steps
                unless `noise_multiplier` fixes it.
            epochs or steps: the planned run, T = ⌊epochs·N/b⌋ steps (or `steps`).
            batch_size: expected private batch size b (q = b/N); public_batch_size: public rows per step.
            clip, alpha, beta: clipping norm C, weight α of the private term, consistency weight β
                (convex weight for naive_fusion).
            radius: project the weights onto the L2 ball of radius M after each step (None: no projection).
            ch: C_h of the consistency term (None: measured on the public reference view).
            per_sample: 'auto' (ghost clipping when every parameter sits in a Linear/LayerNorm layer,
                else torch.func vmap), 'ghost' or 'vmap'.
            projection_rank, alpha_schedule: the levers of `fusiondp.train.projection` and
                `fusiondp.train.schedules`.
            generator: the public generator (public batches, C_h rows); default: one seeded from torch's
                global generator, so ``torch.manual_seed`` makes the public side reproducible.
            public_source: a callable returning one step's public (x, y) rows, instead of uniform
                subsets of the method's public view; it must read public data only.
            dist: a process group's place (`fusiondp.train.distributed.context`); None: one process.

        Settings left None (epochs, batch_size, public_batch_size, clip, alpha, beta) come from the
        defaults rule (`fusiondp.train.defaults.auto_settings`), which reads public quantities only.

        Raises:
            ConfigError, DataError, UnsupportedError, BudgetError.
        """
        if self._prepared:
            raise ConfigError("make_private was already called on this engine; make one engine per run.")
        spec = self.spec
        dist = dist or distributed.Dist()
        for v in spec.views:
            data.view(v)
        if data.n_classes < 2:
            raise DataError("The training labels hold a single class; nothing to learn.")
        n = data.n
        given = dict(epochs=epochs, batch_size=batch_size, public_batch_size=public_batch_size, clip=clip,
                     alpha=alpha, beta=beta)
        if steps is not None and batch_size is None:
            raise ConfigError("Give batch_size with steps (q = batch_size / N).")
        if steps is not None:
            given["epochs"] = steps * batch_size / n
        missing = [k for k, v in given.items() if v is None]
        if missing:
            from fusiondp.train.defaults import auto_settings

            rule = auto_settings(n, int(math.prod(data.x.shape[1:])), target_epsilon, delta, spec.name,
                                 relation=self.relation, accountant=self.accountant_name,
                                 noise_multiplier=noise_multiplier, optimizer=_optimizer_kind(optimizer),
                                 batch_size=batch_size, epochs=given["epochs"])
            given.update({k: rule[k] for k in missing})
        self.settings = dict(given, radius=radius, noise_multiplier=noise_multiplier, per_sample=per_sample)
        self.settings_source = {k: ("auto" if k in missing else "user") for k in given}
        b, pub_b = int(given["batch_size"]), min(int(given["public_batch_size"]), n)
        clip, alpha, beta = float(given["clip"]), float(given["alpha"]), float(given["beta"])
        if b > n:
            raise ConfigError(f"batch_size={b} exceeds the {n} training rows.")
        if not (clip > 0 and alpha >= 0 and beta >= 0):
            raise ConfigError(f"Expected clip > 0, alpha >= 0 and beta >= 0, got {clip}, {alpha}, {beta}.")
        if spec.mix == "convex" and not 0 <= beta <= 1:
            raise ConfigError(f"Method {spec.name!r} mixes gradients with weights 1-beta and beta: "
                              f"expected 0 <= beta <= 1, got beta={beta!r}.")
        if per_sample not in ("auto", "ghost", "vmap"):
            raise ConfigError(f"Expected per_sample 'auto', 'ghost' or 'vmap', got {per_sample!r}.")
        project = check_levers(spec, data, alpha_schedule=alpha_schedule, projection_rank=projection_rank,
                               distributed_run=dist.active, public_source=public_source)
        if public_source is not None and dist.active:
            raise ConfigError("A public_source of your own is not supported in a process group.")

        check_model(module, needs_representation=spec.consistency and beta > 0)
        model = module if has_representation(module) else PlainModel(module)
        own = {id(p) for p in module.parameters()}
        if any(id(p) not in own for g in optimizer.param_groups for p in g["params"]):
            raise ConfigError("The optimiser steps a parameter that is not in the module: its gradient would "
                              "not come from the clipped, noised term.")
        device = dist.device if dist.active else next(module.parameters(), torch.empty(0)).device

        self.randomness = (distributed.randomness(dist, self.insecure_noise_seed, csprng=self.secure_rng)
                           if dist.active else private_randomness(self.insecure_noise_seed, csprng=self.secure_rng))
        self._noise_gen = distributed.noise_generator(dist, self.randomness)
        self._noise_part = distributed.noise_part(dist, sum(p.numel() for p in module.parameters()))
        public_gen = generator if generator is not None else torch.Generator().manual_seed(
            int(torch.randint(0, 2**62, (1,)).item()))

        self._model, self._wrapper, self._module = model, _WithRepresentation(model), module
        self._loss_fn = loss_fn or loss_for(data.n_classes)
        use_ghost = per_sample == "ghost" or (per_sample == "auto" and ghost_supports(model))
        if per_sample == "ghost" and not ghost_supports(model):
            raise ConfigError("per_sample='ghost' needs every parameter in a Linear or LayerNorm layer; "
                              "use per_sample='vmap' for this model.")
        self._row_loss = None if not use_ghost else (
            row_loss_for(data.n_classes) if loss_fn is None else _row_loss_of(loss_fn))

        q = b / n
        self.total_steps = int(steps) if steps is not None else engine_steps(n, b, given["epochs"])
        if spec.is_private:
            self.plan = plan(sample_rate=q, steps=self.total_steps, delta=delta,
                             relation=spec.relation(self.relation), accountant=self.accountant_name,
                             target_epsilon=target_epsilon, noise_multiplier=noise_multiplier)
            self.accountant = PrivacyAccountant.from_plan(self.plan)
        sigma = self.plan.noise_multiplier if self.plan else 0.0

        if spec.consistency and beta > 0:
            if ch is not None:
                self.ch = float(ch)
            elif data.x_reference is None:
                raise ConfigError("The consistency term needs C_h: give ch or data.x_reference "
                                  "(a public perturbation of the hybrid rows).")
            else:
                self.ch = dist.broadcast_object(measure_ch(model, data.x_hybrid.to(device),
                                                           data.x_reference.to(device), ch_quantile, public_gen))
        self._step_args = dict(clip=clip, noise_multiplier=sigma, beta=beta)
        self._alpha, self._alpha_schedule, self._radius = alpha, alpha_schedule, radius
        self._set_term()

        # Each rank touches only its shard [lo, hi) of every view (the whole table in one process).
        lo, hi = dist.shard(n)
        here = lambda v: v[lo:hi].to(device) if v is not None else None  # noqa: E731
        priv_x = here(data.x) if spec.is_private else None
        y_here = here(data.y)
        self._priv_xt = here(data.view(spec.private_view)) if spec.private_view else priv_x
        self._ref_x = here(data.x_reference) if project else None
        self._y = y_here
        self._projection_rank = projection_rank if project else None
        self._basis: torch.Tensor | None = None
        self._reduce = dist.all_reduce_sum if dist.active else None
        self.public_generator = public_gen
        pub_x = here(data.view(spec.public_rows)) if spec.public_rows and public_source is None else None
        self.batches = BatchSource(spec=spec, n=n, sample_rate=q, expected_batch=b, public_batch=pub_b,
                                   steps=self.total_steps, randomness=self.randomness,
                                   public_generator=public_gen, dist=dist, public_x=pub_x, private_x=priv_x,
                                   private_x_tilde=self._priv_xt, y=y_here, row_shape=tuple(data.x.shape[1:]),
                                   row_dtype=data.x.dtype, public_source=public_source)
        self.optimizer = FeatureDPOptimizer(optimizer, self)
        self._prepared = True
        return module, self.optimizer, self.batches

    @property
    def uses_ghost(self) -> bool:
        """True when per-record clipped sums come from ghost clipping, False for torch.func vmap."""
        return self._row_loss is not None

    def _set_term(self) -> None:
        self._term = (per_sample_term(self._wrapper, self.spec, self._loss_fn, beta=self._step_args["beta"],
                                      ch=self.ch) if self.spec.is_private else None)

    # ---- the step ---------------------------------------------------------------------------------

    def backward(self, batch: Batch) -> StepStats:
        """Put this step's private gradient in the parameters' ``.grad`` (docs/method.md §4, steps 1-4).

        The step is accounted first: BudgetError, before any noise is drawn, if it would exceed the budget.
        Follow it with ``optimizer.step()`` of the optimiser :meth:`make_private` returned.
        """
        if not self._prepared:
            raise ConfigError("Call make_private before backward.")
        if self._pending is not None:
            raise ConfigError("backward() was called twice without optimizer.step() between: each call spends "
                              "budget; step the optimiser after each one.")
        t = self.steps_done
        if self.accountant is not None:
            self.accountant.step()
        if self._projection_rank is not None and (self._basis is None or t % REFRESH_STEPS == 0):
            self._basis = self._public_basis(batch)
        alpha = alpha_at(self._alpha_schedule, self._alpha, t, self.total_steps)
        total, stats = noised_gradient(self._model, self._wrapper, batch, self.spec, term=self._term,
                                       loss_fn=self._loss_fn, alpha=alpha, generator=self._noise_gen,
                                       row_loss=self._row_loss, ch=self.ch, reduce=self._reduce, basis=self._basis,
                                       noise_part=self._noise_part, **self._step_args)
        params = dict(self._wrapper.named_parameters())
        for k, p in params.items():
            p.grad = total[k]
        self._pending = {k: (total[k], total[k]._version) for k in params}
        self.steps_done = t + 1
        return stats

    def _public_basis(self, batch: Batch) -> torch.Tensor:
        """Public stand-ins only: reference rows paired with the method's public view (module docstring of
        fusiondp.train.projection); evenly spaced rows of this step's (sorted, uniform) public batch."""
        idx = batch.public_index
        m = basis_rows(self._projection_rank)
        rows = idx[::max(1, idx.numel() // m)][:m]
        view = self._priv_xt if self.spec.private_view else self._ref_x  # a 'loss' term (naive_fusion) has no pair
        return public_basis(self._model, self._wrapper, self.spec, self._ref_x[rows], view[rows], self._y[rows],
                            rank=self._projection_rank, term=self._term, row_loss=self._row_loss,
                            beta=self._step_args["beta"], ch=self.ch)

    def _check_pending(self) -> None:
        if self._pending is None:
            raise ConfigError("optimizer.step() without engine.backward(batch) first: the step would apply a "
                              "gradient that was not clipped and noised.")
        for k, p in self._wrapper.named_parameters():
            grad, version = self._pending[k]
            # Identity catches a replaced .grad, the version counter an in-place change (autograd accumulates a
            # loss.backward() into an existing .grad in place, which cannot be told apart from post-processing).
            if p.grad is not grad or grad._version != version:
                self._pending = None
                raise ConfigError(f"The gradient of {k[2:]} changed after engine.backward(batch) (e.g. a "
                                  "loss.backward() on training rows added to it); refusing to step on it. Change "
                                  "the update through the optimiser's settings, not the gradient.")

    def _after_step(self) -> None:
        self._pending = None
        if self._radius is not None:
            project_(dict(self._wrapper.named_parameters()), self._radius)

    # ---- privacy and state ------------------------------------------------------------------------

    def get_epsilon(self, delta: float | None = None) -> float:
        """ε spent so far (0 for a non-private mode), from the accountant."""
        return self.accountant.get_epsilon(delta) if self.accountant is not None else 0.0

    def restore(self, steps_done: int, ch: float | None) -> None:
        """Continue a run after `steps_done` steps (its accountant, batch count and C_h), e.g. from a checkpoint."""
        self.steps_done = self.batches.drawn = int(steps_done)
        if self.accountant is not None:
            self.accountant.steps = int(steps_done)
        if ch != self.ch:
            self.ch = ch
            self._set_term()

    def state_dict(self) -> dict:
        """The engine's own state: accountant, steps, C_h and the public generator (never the secret ones).

        Save it beside ``module.state_dict()`` and ``optimizer.state_dict()``; a run restored with
        :meth:`load_state_dict` draws fresh secret generators.
        """
        return {"method": self.spec.name, "steps": self.steps_done, "ch": self.ch,
                "accountant": self.accountant.state_dict() if self.accountant else None,
                "public_rng": self.public_generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict` into an engine made by the same make_private call."""
        if state.get("method") != self.spec.name:
            raise ConfigError(f"The saved engine ran {state.get('method')!r}; this one runs {self.spec.name!r}.")
        if self.accountant is not None:
            self.accountant.load_state_dict(state["accountant"])
        self.public_generator.set_state(state["public_rng"])
        self.restore(state["steps"], state["ch"])
