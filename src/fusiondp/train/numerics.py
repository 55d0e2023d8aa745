"""Floating-point mode of training: subnormal (denormal) floats flushed to zero, then restored.

Late in training many activations and gradients of a sigmoid/BCE model shrink below the
smallest normal float32 (1.2e-38). x86 CPUs handle such subnormal numbers in microcode, one to
two orders of magnitude slower than normal ones: on one table a default-like run took 117 s
instead of 10.6 s, with identical AUROC, and a plain loop on sepsis swung from 1.8 to 34 s per
epoch between runs (issue 17; `benchmarks/speed.py --suite denormal` measures it here).

Flushing them to zero (`torch.set_flush_denormal(True)`, the CPU's FTZ/DAZ flags) changes values
smaller than 1.2e-38 only. It is safe for the privacy mechanism: a flushed value has a smaller
magnitude, so a clipped per-sample gradient still has norm <= C, and the Gaussian noise (std σC)
is never subnormal. The mode is a per-thread CPU flag and global to the process, so it is set
only while `train` runs and restored afterwards (other code in the process is unaffected).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import os

import torch

ENV = "FUSIONDP_FLUSH_DENORMAL"  # "0" keeps IEEE subnormals during training (benchmarks, exotic CPUs)
_SUBNORMAL = 1e-39  # below float32's smallest normal number (1.18e-38)


def flush_denormal_enabled() -> bool:
    """True if subnormal float32 values are currently flushed to zero (torch has no getter: probe it)."""
    return bool((torch.tensor([_SUBNORMAL], dtype=torch.float32) * 1.0).item() == 0.0)


@contextmanager
def flush_denormal(enabled: bool | None = None) -> Iterator[bool]:
    """Within the block, flush subnormal floats to zero (if the CPU supports it); restore the mode after.

    `enabled` None reads $FUSIONDP_FLUSH_DENORMAL (default on). Yields whether flushing is active.
    On CPUs without the flags (torch returns False) nothing changes.
    """
    if enabled is None:
        enabled = os.environ.get(ENV, "1") != "0"
    before = flush_denormal_enabled()
    active = torch.set_flush_denormal(enabled) and enabled
    try:
        yield active
    finally:
        torch.set_flush_denormal(before)
