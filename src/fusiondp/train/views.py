"""The aligned views of a training set that every method reads (docs/method.md §6)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from fusiondp.errors import ConfigError, DataError


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

    Views may be float features or integer codes (e.g. token or category ids for a model with an
    embedding layer); they only need the same shape.
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
