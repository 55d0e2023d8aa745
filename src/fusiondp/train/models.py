"""Model builders and the contract a user model must follow (docs/custom_models.md).

Contract: a `torch.nn.Module` mapping a float batch (B, n_features) to logits,
shape (B,) or (B, 1) for a binary target, (B, K) for K classes. For the
representation-consistency term R_i of `fusiondp` (docs/method.md §4, used when
β > 0) it must also have

* ``representation(x) -> h``: the last hidden layer, shape (B, H);
* ``head(h) -> logits``, with ``forward(x) == head(representation(x))``.

A model without these two methods is accepted by every method that does not
use R (`dpsgd`, `naive_fusion`, `fdp`, `fdp_fm`, the non-private ones, and
`fusiondp` with β = 0); it is wrapped in :class:`PlainModel`.

No batch-dependent layers (BatchNorm): per-sample gradients need every row's
output to depend on that row only. LayerNorm, GroupNorm and dropout are fine.
Models whose parameters all sit in Linear/LayerNorm layers get the fast ghost
clipping; others fall back to per-sample gradients with ``torch.func.vmap``.

Where a model is accepted (`fusiondp.train.engine.train`, `fusiondp.pipeline.run`,
`FusionDPClassifier(model=...)`, ``fusiondp train --model``), it may be given as

* an `nn.Module` (trained in place by the engine; the estimator trains a copy);
* a factory ``factory(n_features: int, n_outputs: int) -> nn.Module``, where
  ``n_outputs`` is 1 for a binary target and K for K classes;
* a string ``"package.module:factory"`` or ``"path/to/file.py:factory"`` naming such a factory.

Every model is checked before training (:func:`build_model`): a dry forward
pass on a zero batch (never on data) checks the output width.

A model class may state the optimiser it trains well with as a class attribute
``preferred_optimizer = "adam"`` (or ``"sgd"``); `TrainConfig(optimizer=None)`, the
default, then takes it (:func:`preferred_optimizer`). It is part of the architecture,
public, so choosing by it costs no budget.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Union

import numpy as np
import torch
from torch import nn

from fusiondp.errors import ConfigError

#: What a `model=` argument may be: a module, a factory (n_features, n_outputs) -> module, or "module:factory".
ModelLike = Union[nn.Module, Callable[[int, int], nn.Module], str]


#: Resolution of `Dropout`'s keep/drop draw: the drop probability is rounded to a multiple of 2^-16.
_DROP_LEVELS = 1 << 16


class Dropout(nn.Dropout):
    """`nn.Dropout` with a cheaper mask on the CPU: same law, one 16-bit draw per element.

    **Not used by the default MLP** (which keeps `nn.Dropout`): with it, a small private fit (the
    scikit-learn estimator checks' 3-class blobs, σ = 1, hidden (8,)) reached 0.827-0.837 training
    accuracy against 0.840-0.850 with torch's dropout, 4 fits each, a gap the mask law (checked below and
    in tests/train/test_dropout.py) does not explain; until it is, the speed gain (about 10 % of a step)
    does not justify the doubt. Kept for `benchmarks/speed.py --suite dropout`.

    torch's CPU dropout draws one Mersenne-Twister float per element and costs about 10 ms on a
    4,096 × 128 activation (a third of a default `fusiondp` step's public gradient,
    docs/results/speed.md). Here each element keeps its value (scaled by 1/(1 − p)) when a uniform
    16-bit integer is at least round(p·2^16), so it is dropped with probability p up to 2^-17; the
    integers come from numpy's PCG64 seeded by one draw of torch's global generator, so ``--seed``
    (``torch.manual_seed``) fixes the masks exactly as it fixes torch's own. Dropout is public
    randomness (it never touches the secret noise or the Poisson sample). Outside the plain CPU
    case (a GPU tensor, p outside (0, 1), inside torch.func transforms) it is `nn.Dropout` itself.
    Holds no state of its own: a state dict or pickle of a model with it equals one with `nn.Dropout`.

    >>> _ = torch.manual_seed(0); y = Dropout(0.25)(torch.ones(200_000))
    >>> abs(float((y > 0).float().mean()) - 0.75) < 0.01, bool((y[y > 0] == 1 / 0.75).all())
    (True, True)
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        if (self.p >= 1.0 or self.inplace or x.device.type != "cpu" or not x.is_floating_point()
                or torch._C._functorch.peek_interpreter_stack() is not None):
            return super().forward(x)
        drop = round(self.p * _DROP_LEVELS)
        seed = int(torch.randint(0, 2**62, (1,)).item())  # torch's global generator: --seed decides the mask
        bits = np.frombuffer(np.random.Generator(np.random.PCG64(seed)).bytes(2 * x.numel()), dtype=np.uint16)
        scale = np.float32(_DROP_LEVELS / (_DROP_LEVELS - drop))
        mask = torch.from_numpy(np.where(bits >= drop, scale, np.float32(0.0))).view(x.shape)
        return x * mask.to(x.dtype)


class MLP(nn.Module):
    """The paper's tabular model: Linear → LayerNorm → GELU → Dropout blocks, then a linear head.

    >>> m = MLP(36)
    >>> m(torch.zeros(4, 36)).shape
    torch.Size([4, 1])
    """

    def __init__(self, n_features: int, hidden: tuple[int, ...] = (64, 128, 64), n_outputs: int = 1,
                 dropout: float = 0.15) -> None:
        super().__init__()
        self.hidden, self.dropout_p = tuple(hidden), float(dropout)  # recorded by fusiondp.io.save
        layers: list[nn.Module] = []
        width = n_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.LayerNorm(h), nn.GELU(), nn.Dropout(dropout)]
            width = h
        self.body = nn.Sequential(*layers)
        self.out = nn.Linear(width, n_outputs)

    def representation(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def head(self, h: torch.Tensor) -> torch.Tensor:
        return self.out(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.representation(x))


def preferred_optimizer(model: nn.Module) -> str:
    """The optimiser `model` states (``preferred_optimizer`` on it, or on the module `PlainModel` wraps), else 'sgd'.

    >>> preferred_optimizer(MLP(3))
    'sgd'
    """
    from fusiondp.train.config import OPTIMIZERS

    inner = model.module if isinstance(model, PlainModel) else model
    choice = getattr(inner, "preferred_optimizer", "sgd")
    if choice not in OPTIMIZERS:
        raise ConfigError(f"{type(inner).__name__}.preferred_optimizer must be one of {', '.join(OPTIMIZERS)}, "
                          f"got {choice!r}.")
    return choice


class PlainModel(nn.Module):
    """Adapter for a model without `representation`/`head`: the logits stand in for the representation.

    Only used where the consistency term R is off, so that representation is never compared.
    The user's module is ``.module``.
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def representation(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x)

    def head(self, h: torch.Tensor) -> torch.Tensor:
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x)


def has_representation(model: nn.Module) -> bool:
    """True if `model` has both `representation` and `head` methods."""
    return all(callable(getattr(model, n, None)) for n in ("representation", "head"))


def load_factory(text: str) -> Callable[..., nn.Module]:
    """The callable named by ``"package.module:factory"`` or ``"path/to/file.py:factory"``.

    A module name is imported with the current directory on the import path (as ``python -m`` does);
    a ``.py`` path is loaded from that file. Dotted names after the colon reach nested attributes.
    """
    if not isinstance(text, str) or text.count(":") != 1 or not all(text.split(":")):
        raise ConfigError(f"A model is named as 'module:factory' or 'path/to/file.py:factory', got {text!r}.")
    where, attr = text.split(":")
    try:
        if where.endswith(".py"):
            path = Path(where).expanduser()
            if not path.exists():
                raise ConfigError(f"Model file not found: {path} (from {text!r}).")
            from fusiondp._files import check_input

            check_input(path, what="Model", error=ConfigError)  # a FIFO would block the import forever
            spec = importlib.util.spec_from_file_location(f"_fusiondp_user_model_{path.stem}", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        else:
            cwd = str(Path.cwd())
            added = cwd not in sys.path
            if added:
                sys.path.insert(0, cwd)
            try:
                module = importlib.import_module(where)
            finally:
                if added:
                    sys.path.remove(cwd)
    except ConfigError:
        raise
    except SystemExit as e:  # the module called sys.exit() on import: not the exit code of fusiondp
        raise ConfigError(f"Cannot import the model module of {text!r}: it called sys.exit({e.code!r}) on "
                          "import.", hint="move script code under `if __name__ == \"__main__\":`") from None
    except Exception as e:  # ImportError, SyntaxError or whatever the user's module raises on import
        raise ConfigError(f"Cannot import the model module of {text!r}: {type(e).__name__}: {e}") from None
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"Model factory {text!r}: {where!r} has no attribute {part!r}.")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ConfigError(f"Model factory {text!r} is not callable.")
    return obj


def check_model(model: nn.Module, *, n_features: int | None = None, n_outputs: int | None = None,
                needs_representation: bool = True) -> None:
    """Raise ConfigError if `model` does not follow the contract above.

    With `n_features` and `n_outputs`, a dry forward pass on a zero batch of two rows checks the output
    width (and, when `needs_representation`, that the representation is (B, H)).
    """
    name = type(model).__name__
    if not isinstance(model, nn.Module):
        raise ConfigError(f"A model must be a torch.nn.Module, got {name}.")
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            raise ConfigError(f"Model uses {type(m).__name__}, which mixes rows of a batch, so per-sample "
                              "gradients (and DP) are undefined; use LayerNorm or GroupNorm.")
    parts = [n for n in ("representation", "head") if callable(getattr(model, n, None))]
    if len(parts) == 1:
        missing = ({"representation", "head"} - set(parts)).pop()
        raise ConfigError(f"Model {name} defines `{parts[0]}` but not `{missing}`; define both "
                          "(forward(x) == head(representation(x))) or neither.")
    if needs_representation and not parts:
        raise ConfigError(f"Model {name} has no `representation(x)` / `head(h)` methods, which the "
                          "representation-consistency term R needs (method fusiondp with beta > 0). Add them "
                          "(docs/custom_models.md), set beta=0, or use a method without R (fdp_fm, fdp, dpsgd).")
    if n_features is None or n_outputs is None:
        return
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            x = torch.zeros(2, n_features)
            out = model(x)
            h = model.representation(x) if parts and needs_representation else None
    except Exception as e:
        raise ConfigError(f"Model {name} fails on a batch of shape (2, {n_features}): {type(e).__name__}: {e}") \
            from None
    finally:
        model.train(was)
    want = "(B,) or (B, 1)" if n_outputs == 1 else f"(B, {n_outputs})"
    ok = isinstance(out, torch.Tensor) and (tuple(out.shape) == (2, n_outputs) or
                                           (n_outputs == 1 and tuple(out.shape) == (2,)))
    if not ok:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ConfigError(f"Model {name} returns logits of shape {got} for 2 rows; this target needs {want} "
                          f"({'binary' if n_outputs == 1 else f'{n_outputs} classes'}).")
    if h is not None and (not isinstance(h, torch.Tensor) or h.ndim != 2 or h.shape[0] != 2):
        got = tuple(h.shape) if isinstance(h, torch.Tensor) else type(h).__name__
        raise ConfigError(f"Model {name}.representation returns shape {got} for 2 rows; expected (B, H).")


def build_model(model: ModelLike | None, *, n_features: int, n_outputs: int, hidden: tuple[int, ...] = (64, 128, 64),
                dropout: float = 0.15, needs_representation: bool = True) -> nn.Module:
    """The module to train: the default MLP for None, else `model` (module, factory or "module:factory"),
    checked against the contract; a model without representation/head comes back wrapped in `PlainModel`.

    >>> build_model(lambda d, k: nn.Linear(d, k), n_features=3, n_outputs=1, needs_representation=False)
    PlainModel(
      (module): Linear(in_features=3, out_features=1, bias=True)
    )
    """
    if model is None:
        return MLP(n_features, hidden, n_outputs, dropout)
    if isinstance(model, str):
        model = load_factory(model)
    if not isinstance(model, nn.Module):
        if not callable(model):
            raise ConfigError(f"model= takes an nn.Module, a factory (n_features, n_outputs) -> nn.Module or a "
                              f"'module:factory' string, got {type(model).__name__}.")
        factory = model
        try:
            model = factory(n_features, n_outputs)
        except Exception as e:
            raise ConfigError(f"Model factory {getattr(factory, '__name__', factory)!r} failed when called as "
                              f"factory(n_features={n_features}, n_outputs={n_outputs}): {type(e).__name__}: {e}") \
                from None
        if not isinstance(model, nn.Module):
            raise ConfigError(f"Model factory {getattr(factory, '__name__', factory)!r} returned "
                              f"{type(model).__name__}, not a torch.nn.Module.")
    check_model(model, n_features=n_features, n_outputs=n_outputs, needs_representation=needs_representation)
    return model if has_representation(model) else PlainModel(model)


class _WithRepresentation(nn.Module):
    """Wraps a contract model so one functional call returns (logits, representation)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.m = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.m.representation(x)
        return self.m.head(h), h
