"""Model builders and the contract a user model must follow.

Contract: a `torch.nn.Module` with

* ``representation(x) -> h``: the last hidden layer, shape (B, H), used by the
  representation-consistency term R_i (METHOD.md §3);
* ``head(h) -> logits``: shape (B,) or (B, 1) for a binary target, (B, K) for K classes;
* ``forward(x) == head(representation(x))``.

No batch-dependent layers (BatchNorm): per-sample gradients need every row's
output to depend on that row only. LayerNorm, GroupNorm and dropout are fine.
"""

from __future__ import annotations

import torch
from torch import nn

from fusiondp.errors import ConfigError


class MLP(nn.Module):
    """The paper's tabular model: Linear → LayerNorm → GELU → Dropout blocks, then a linear head.

    >>> m = MLP(36)
    >>> m(torch.zeros(4, 36)).shape
    torch.Size([4, 1])
    """

    def __init__(self, n_features: int, hidden: tuple[int, ...] = (64, 128, 64), n_outputs: int = 1,
                 dropout: float = 0.15) -> None:
        super().__init__()
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


def check_model(model: nn.Module) -> None:
    """Raise ConfigError if `model` does not follow the contract above."""
    for name in ("representation", "head"):
        if not callable(getattr(model, name, None)):
            raise ConfigError(f"Model {type(model).__name__} lacks a `{name}` method; see fusiondp.train.models "
                              "for the model contract.")
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            raise ConfigError(f"Model uses {type(m).__name__}, which mixes rows of a batch, so per-sample "
                              "gradients (and DP) are undefined; use LayerNorm or GroupNorm.")


class _WithRepresentation(nn.Module):
    """Wraps a contract model so one functional call returns (logits, representation)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.m = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.m.representation(x)
        return self.m.head(h), h
