"""Benchmark grid: methods × ε × seeds on a registered dataset, resumable JSONL results.

Each finished run is appended to a JSONL file as one record; a rerun skips every
(dataset, method, ε, seed) key already there, so a killed grid continues where
it stopped. Non-private methods run once per seed (their ε is ``None``).
Tuning is not done here: `fusiondp tune` searches settings and accounts the
whole search, and its settings files are benched with ``settings=FILE``
(`select` only reads the `phase: "tune"` records of results files written by
older versions, for their pages). Batch sizes are capped for
small tables: the expected private batch at a quarter of the training rows
(at least four Poisson steps per epoch), the public batch at the training rows
(no effect on the built-in datasets, whose training splits are far larger).

>>> plan_runs(["sgd_ori", "dpsgd"], [1.0, 4.0], [0])
[('sgd_ori', None, 0), ('dpsgd', 1.0, 0), ('dpsgd', 4.0, 0)]
"""

from __future__ import annotations

import json
import math
import shlex
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import replace
from importlib.metadata import version
from pathlib import Path

import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
    TimeRemainingColumn

from fusiondp.bench.registry import BenchData, BenchDataset, get_dataset
from fusiondp.errors import ConfigError
from fusiondp.evaluate.metrics import evaluate_splits
from fusiondp.report.record import RunRecord
from fusiondp.train.config import TrainConfig
from fusiondp.train.engine import train
from fusiondp.train.methods import METHODS, get_method
from fusiondp.train.models import preferred_optimizer

__all__ = ["EPSILONS", "QUICK_EPSILONS", "plan_runs", "run_bench", "load_records", "select", "variant",
           "EQUAL_PROTECTION"]

EPSILONS = (0.5, 1.0, 2.0, 4.0, 8.0)
QUICK_EPSILONS = (1.0, 4.0)
DELTA = 1e-5


def plan_runs(methods: Sequence[str], epsilons: Sequence[float], seeds: Sequence[int]
              ) -> list[tuple[str, float | None, int]]:
    """(method, ε or None, seed) for every run of the grid; non-private methods once per seed."""
    runs = []
    for seed in seeds:
        for m in methods:
            if get_method(m).is_private:
                runs += [(m, float(e), seed) for e in epsilons]
            else:
                runs.append((m, None, seed))
    return runs


def load_records(path: str | Path) -> list[dict]:
    """All records of a results file (a truncated last line, from a killed run, is ignored)."""
    p = Path(path)
    if not p.exists():
        return []
    out = []
    for line in p.read_text().splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def _key(rec: dict) -> tuple:
    eps = rec.get("epsilon")
    return (rec.get("phase", "bench"), rec["dataset"], rec["method"], None if eps is None else float(eps),
            int(rec["seed"]), json.dumps(rec.get("overrides") or {}, sort_keys=True), rec.get("settings", "selected"))


#: The `dpsgd` variant of the equal-protection view: calibrated under replace-one, so its ε for the sensitive
#: columns under the zero-out relation is at most ε, like the feature-level methods' (issue 16 item 2).
#: σ is calibrated at ε (never a fixed noise multiplier), with the PLD accountant (RDP cannot analyse
#: replace-one under Poisson sampling).
EQUAL_PROTECTION = {"relation": "replace", "accountant": "pld", "noise_multiplier": None}


def variant(rec: dict) -> str:
    """The row label of a record: the method, or `dpsgd (equal protection)` for its replace-one runs."""
    ov = rec.get("overrides") or {}
    return f"{rec['method']} (equal protection)" if ov.get("relation") == "replace" else rec["method"]


def _append(path: Path, rec: dict) -> None:
    """Add one record, atomically: the file is rewritten whole (never left with half a line)."""
    from fusiondp._files import write_file

    old = path.read_bytes() if path.exists() else b""
    if old and not old.endswith(b"\n"):
        old += b"\n"
    write_file(path, old + (json.dumps(rec, default=float) + "\n").encode())


def _progress(enabled: bool) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                    disable=not enabled)


def run_settings(ds: BenchDataset, bench: BenchData, method: str, epsilon: float | None, seed: int,
                 overrides: dict, settings: str = "selected") -> tuple[BenchData, TrainConfig]:
    """The data view and the fully resolved TrainConfig one benchmark run trains with.

    Record-level methods get the support-fitted view; settings left to the defaults rule are fixed (with the
    model's stated optimiser), then small tables get their batch caps.
    """
    if get_method(method).needs_public_preprocessing:
        if bench.record_level is None:
            raise ConfigError(f"Dataset {ds.name!r} has no public support set, so record-level {method!r} cannot "
                              "fit its preprocessing without reading training rows.")
        bench = bench.record_level
    cfg = ds.settings(settings)(method, epsilon)
    cfg = replace(cfg, **overrides, seed=seed, delta=DELTA, epsilon=epsilon if epsilon is not None else cfg.epsilon)
    n = bench.data.n
    if cfg.batch_size is not None:  # small tables: a given batch is capped first, so the rule's σ is the run's
        cfg = replace(cfg, batch_size=min(cfg.batch_size, max(1, n // 4)))
    optimizer = preferred_optimizer(bench.model()) if bench.model else "sgd"
    cfg = cfg.resolve(n_rows=n, n_features=int(bench.data.x.shape[1]), method=method, preferred_optimizer=optimizer)
    return bench, replace(cfg, batch_size=min(cfg.batch_size, max(1, n // 4)),
                          public_batch_size=min(cfg.public_batch_size, n))


def _one_run(ds: BenchDataset, bench: BenchData, method: str, epsilon: float | None, seed: int,
             overrides: dict, *, with_test: bool, settings: str = "selected") -> dict:
    bench, cfg = run_settings(ds, bench, method, epsilon, seed, overrides, settings)
    # A factory, so the engine builds the model after seeding its initialisation with the run's seed.
    model = (lambda n_features, n_outputs: bench.model()) if bench.model else None
    res = train(method, bench.data, config=cfg, model=model, progress=False)
    # The privacy part of the row is a serialisation of the run record, like the JSON report and model file.
    record = RunRecord.build(res)
    splits = {"val": bench.val, **({"test": bench.test} if with_test else {}),
              **({"support": bench.support} if bench.support is not None else {})}
    rec = {"dataset": ds.name, "method": method, "epsilon": epsilon, "seed": seed, **record.bench_row(),
           "overrides": overrides, "settings": settings, **evaluate_splits(res.model, splits)}
    return rec


def _execute(ds: BenchDataset, data_dir: Path | None, todo: list[tuple[str, float | None, int, dict]],
             out: Path, *, phase: str, progress: bool, command: str, settings: str = "selected") -> list[dict]:
    torch.set_num_threads(1)
    done_keys = {_key(r) for r in load_records(out)}
    pending = [t for t in todo if (phase, ds.name, t[0], t[1], t[2], json.dumps(t[3], sort_keys=True), settings)
               not in done_keys]
    cache: dict[int, BenchData] = {}
    new: list[dict] = []
    with _progress(progress) as bar:
        task = bar.add_task(f"{ds.name} {phase}", total=len(todo), completed=len(todo) - len(pending), info="")
        for method, eps, seed, ov in pending:
            label = f"{method} ε={eps:g}" if eps is not None else method
            bar.update(task, info=f"seed {seed}  {label}" + (f"  {ov}" if ov else ""))
            if seed not in cache:
                cache.clear()  # one seed's data in memory at a time
                bar.update(task, info=f"seed {seed}: preparing data")
                cache[seed] = ds.prepare(data_dir, seed)
            rec = _one_run(ds, cache[seed], method, eps, seed, ov, with_test=phase == "bench", settings=settings)
            rec.update(phase=phase, info=cache[seed].info, command=command, fusiondp_version=version("fusiondp"),
                       finished=time.strftime("%Y-%m-%dT%H:%M:%S"))
            _append(out, rec)
            new.append(rec)
            bar.update(task, advance=1)
    return new


def _check_methods(methods: Iterable[str]) -> list[str]:
    ms = list(methods)
    for m in ms:
        get_method(m)
    return ms


def run_bench(dataset: str, *, data_dir: str | Path | None = None, seeds: int | Sequence[int] = 5,
              epsilons: Sequence[float] | None = None, methods: Sequence[str] | None = None, quick: bool = False,
              out: str | Path | None = None, progress: bool = True, command: str | None = None,
              settings: str = "defaults", equal_protection: bool = True) -> list[dict]:
    """Run (or resume) the grid and return the records appended by this call.

    Args:
        dataset: a registered dataset name.
        seeds: number of seeds (0..N-1) or an explicit list; `quick` forces one seed.
        epsilons: the ε grid (default {0.5, 1, 2, 4, 8}; `quick`: {1, 4}); δ = 1e-5.
        methods: default all eight registered methods.
        out: the JSONL results file (default ``bench_out/<dataset>.jsonl``).
        settings: 'defaults' (the defaults rule: public quantities only, nothing tuned) or 'selected' (the
            dataset entry's validation-selected settings, whose selection spent budget).
        equal_protection: with `dpsgd` in `methods`, also run it calibrated under replace-one
            (:data:`EQUAL_PROTECTION`), the second comparison view of the results page.
    """
    ds = get_dataset(dataset)
    seed_list = [0] if quick else (list(range(seeds)) if isinstance(seeds, int) else list(seeds))
    if not seed_list:
        raise ConfigError("Give at least one seed.")
    eps = list(QUICK_EPSILONS if quick and epsilons is None else (epsilons or EPSILONS))
    for e in eps:
        if not (isinstance(e, (int, float)) and math.isfinite(e) and e > 0):
            raise ConfigError(f"Expected every epsilon > 0, got {e!r}.")
    ms = _check_methods(methods or METHODS)
    path = Path(out or f"bench_out/{dataset}.jsonl")
    ds.settings(settings)  # an unknown source fails before any run
    todo = [(m, e, s, {}) for m, e, s in plan_runs(ms, eps, seed_list)]
    if equal_protection and "dpsgd" in ms:
        todo += [(m, e, s, dict(EQUAL_PROTECTION)) for m, e, s in plan_runs(["dpsgd"], eps, seed_list)]
        todo.sort(key=lambda t: t[2])  # one seed's data in memory at a time
    return _execute(ds, Path(data_dir) if data_dir else None, todo, path, phase="bench", progress=progress,
                    command=command or _argv(), settings=settings)


def select(records: Iterable[dict], headline: str, *, per_epsilon: bool = False) -> dict[str, dict]:
    """Best overrides per method by mean validation `headline` over the tuning runs' ε values.

    With `per_epsilon`, the best overrides at each ε instead: ``{method: {ε: {"overrides", "val_mean"}}}``.
    """
    if per_epsilon:
        recs = [r for r in records if r.get("phase") == "tune"]
        out: dict[str, dict] = {}
        for eps in sorted({r["epsilon"] for r in recs if r["epsilon"] is not None}):
            for m, best_m in select([r for r in recs if r["epsilon"] == eps], headline).items():
                out.setdefault(m, {})[eps] = best_m
        return out
    scores: dict[tuple[str, str], list[float]] = {}
    for r in records:
        if r.get("phase") == "tune":
            scores.setdefault((r["method"], json.dumps(r["overrides"], sort_keys=True)), []).append(
                r["val"][headline])
    best: dict[str, tuple[float, dict]] = {}
    for (m, ov), vals in scores.items():
        mean = sum(vals) / len(vals)
        if m not in best or mean > best[m][0]:
            best[m] = (mean, json.loads(ov))
    return {m: {"overrides": ov, "val_mean": v} for m, (v, ov) in best.items()}


def _argv() -> str:
    args = sys.argv[1:]
    return "fusiondp " + " ".join(shlex.quote(a) for a in args) if args else "(python API)"
