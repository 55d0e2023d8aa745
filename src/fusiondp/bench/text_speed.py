"""The text model's speed case: seconds per epoch and peak memory, private steps vs a plain epoch (issue 6)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch

from fusiondp.bench.registry import BenchData
from fusiondp.bench.text_dataset import prepare_medical_abstracts, text_config

__all__ = ["text_speed_case"]


def _speed_child(bench: BenchData, method: str, epochs: float, seed: int, queue) -> None:
    import resource

    from fusiondp.train.engine import train

    torch.set_num_threads(1)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cfg = replace(text_config(method, 1.0), epochs=epochs, seed=seed,
                  epsilon=1.0 if get_method_private(method) else None)
    res = train(method, bench.data, config=cfg, model=bench.model(), progress=False)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put({"seconds_per_epoch": res.seconds / epochs, "peak_mb": (peak - base) / 1024, "steps": res.steps})


def get_method_private(method: str) -> bool:
    from fusiondp.train.methods import get_method

    return get_method(method).is_private


def text_speed_case(data_dir: Path | None = None, *, seed: int = 0, epochs: float = 1.0) -> list[dict]:
    """Seconds per epoch and peak memory of the text model: private steps vs a plain epoch.

    Data are prepared once; each case trains in a forked child process, and its peak memory is the
    growth of the child's maximum resident set size during training (Linux ``ru_maxrss``), so the
    cases do not see each other's allocations. Returns rows ``{"case", "seconds_per_epoch",
    "peak_mb", "steps"}``.
    """
    import multiprocessing as mp

    torch.set_num_threads(1)
    bench = prepare_medical_abstracts(data_dir, seed)
    ctx = mp.get_context("fork")
    rows = []
    for label, method in (("plain epoch (sgd_ori, no privacy)", "sgd_ori"),
                          ("private step (dpsgd, ghost clipping)", "dpsgd"),
                          ("private step (fusiondp, ghost clipping)", "fusiondp")):
        queue = ctx.Queue()
        proc = ctx.Process(target=_speed_child, args=(bench, method, epochs, seed, queue))
        proc.start()
        row = queue.get()
        proc.join()
        rows.append({"case": label, **row})
    return rows
