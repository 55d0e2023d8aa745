"""How training cost grows with rows (N) and with processes (ranks): seconds per epoch and peak memory.

Synthetic table shaped like sepsis (36 features, four aligned views: original, hybrid, noise,
reference), `fusiondp` with METHOD.md §5 settings (MLP 36→64→128→64→1, expected private batch
b = 128, public batch 4096), σ fixed at 1.0 (calibration is not what is timed).

Parts (each case in its own process, so peak memory is per case):

* rows: one process, N ∈ {10⁴, 10⁵, 10⁶}. A fixed number of steps is timed and scaled to an
  epoch (N / b steps), so the large cases stay short; the per-step cost of the two index draws
  every step makes (the Poisson batch and the public batch, both O(batch) since
  `fusiondp.train.sampling`) is reported next to it. The peak RSS during training (the kernel's
  peak mark is reset once the views are built, where Linux allows it) is reported next to the
  size of the four views.
* ranks: N = 10⁵, 1 process vs `launch(..., nproc=2)` (gloo, one torch thread per rank) on the
  same rows; seconds per epoch and peak RSS of every rank.
* split (issue 26): the same cores used two ways, with the defaults rule's settings (b = 1024, public
  batch 4096, σ fixed): 1 process with `--cores` torch threads against 2 processes with `--cores`/2 threads
  each, interleaved over `--rounds`, the speed-up taken within each round (median printed). Each rank also
  times every phase of its steps (batch draw, public gradient, clipped sum, noise, all-reduce, optimizer,
  epoch rows, the rest) and splits the all-reduce into waiting for the other rank and the transfer, so a
  speed-up below 2x can be split into what the second rank could not share (the `why` line).
* gpu (`--device cuda`, only when a GPU is visible): the rows part on one GPU.

Usage: python benchmarks/scaling.py [--part rows|ranks|split|gpu|all] [--steps 150] [--threads 1] [--rounds 2]
                                   [--cores 2]
Prints one line per case; docs/results/scaling.md records a run.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FEATURES = 36
SETTINGS = dict(batch_size=128, public_batch_size=4096, lr=0.07, clip=1.8, alpha=3.0, beta=0.5, epsilon=None,
                noise_multiplier=1.0, delta=1e-7)


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM), so the next reading covers what follows only."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _hwm_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def synthetic(n: int, seed: int = 0):
    """Four row-aligned views; the last 6 columns play the sensitive block."""
    import torch

    from fusiondp.train.engine import TrainData

    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, FEATURES, generator=g)
    xh = x.clone()
    xh[:, -6:] = torch.randn(n, 6, generator=g)
    y = ((x[:, 0] + x[:, -1] + 0.5 * torch.randn(n, generator=g)) > 0).float()
    return TrainData(x=x, x_hybrid=xh, y=y, x_noise=xh.flip(0), x_reference=xh.roll(1, 0))


#: The defaults rule's step shape on a large table (b = 1024, public batch 4096; docs/training.md), σ fixed.
RULE_SETTINGS = dict(SETTINGS, batch_size=1024, lr=0.3, clip=16.0, alpha=0.25)


def _config(n: int, steps: int, settings: dict | None = None):
    from fusiondp.train.config import TrainConfig

    settings = settings or SETTINGS
    return TrainConfig(epochs=steps * settings["batch_size"] / n + 1e-9, **settings)


#: The phases of a step timed per rank by the split part (ms per step), in the order they run.
PHASES = ("draw", "public", "private", "noise", "allreduce", "optimizer", "epoch")
#: Once-per-run work inside the timed training seconds: the history rows' ε (`epoch`) and the final ε of a run
#: with a fixed σ (`final`). With 40 timed steps they would weigh ~10x what they weigh in a default run of
#: hundreds of steps, so the split part's ms/step and speed-ups leave them out (and print them apart).
ONCE = ("epoch", "final")


def step_ms(r: dict) -> float:
    """Milliseconds per training step, without the once-per-run accounting (`ONCE`)."""
    return 1e3 * (r["seconds"] - sum(r["phases_s"].get(k, 0.0) for k in ONCE)) / r["steps"]


def timed_worker(n: int, steps: int):
    """One rank (or the only process) with the rule's settings; wall seconds of each phase of its steps.

    Phases: draw (the batch: public indices, Poisson sample, row gathers), public (the public gradient),
    private (the clipped sum), noise (this rank's Gaussian draw), allreduce (the one collective, including
    the wait for the slower rank), optimizer (step and projection), epoch (history rows: ε, loss); the rest
    of the step (mixing, bookkeeping) is `other`. Each all-reduce's entry time is kept, so rank 0 can split
    the collective into waiting for the last rank to arrive and the transfer itself (one machine: one clock).
    """
    import torch

    from fusiondp.privacy import accounting
    from fusiondp.train import core, distributed, engine as engine_mod, step as step_mod
    from fusiondp.train.engine import train

    spent = dict.fromkeys(PHASES + ONCE, 0.0)
    enter: list[float] = []

    def timed(fn, key):
        def inner(*a, **k):
            t = time.perf_counter()
            if key == "allreduce":
                enter.append(t)
            try:
                return fn(*a, **k)
            finally:
                spent[key] += time.perf_counter() - t
        return inner

    distributed.Dist.all_reduce_sum = timed(distributed.Dist.all_reduce_sum, "allreduce")
    step_mod.public_gradient = timed(step_mod.public_gradient, "public")
    step_mod.private_clipped_sum = timed(step_mod.private_clipped_sum, "private")
    step_mod.add_noise = timed(step_mod.add_noise, "noise")
    core.BatchSource.draw = timed(core.BatchSource.draw, "draw")
    core.FeatureDPOptimizer.step = timed(core.FeatureDPOptimizer.step, "optimizer")
    engine_mod._epoch_row = timed(engine_mod._epoch_row, "epoch")
    accounting.AccountingPlan.spent = timed(accounting.AccountingPlan.spent, "final")
    data = synthetic(n)
    res = train("fusiondp", data, config=_config(n, steps, RULE_SETTINGS), progress=False)
    d = distributed.context()
    return {"rank": d.rank, "steps": res.steps, "seconds": res.seconds, "threads": torch.get_num_threads(),
            "allreduce_s": spent["allreduce"], "allreduce_calls": len(enter), "public_s": spent["public"],
            "phases_s": spent, "allreduce_enter": enter}


def _wait_split(ranks: list[dict]) -> None:
    """Per rank: seconds spent waiting in the all-reduce for the last rank to arrive (`wait_s`), from the
    entry times of each call (the ranks of `launch` share one machine and one monotonic clock)."""
    calls = min(len(r["allreduce_enter"]) for r in ranks)
    for r in ranks:
        r["wait_s"] = sum(max(o["allreduce_enter"][i] for o in ranks) - r["allreduce_enter"][i]
                          for i in range(calls))


def _breakdown(r: dict) -> str:
    """One rank's step in milliseconds per phase, plus the rest, summing to its `step_ms`; then the
    once-per-run accounting in seconds."""
    ms = {k: 1e3 * r["phases_s"][k] / r["steps"] for k in PHASES if k not in ONCE}
    other = step_ms(r) - sum(ms.values())
    parts = [f"{k} {v:.1f}" for k, v in ms.items()]
    if "wait_s" in r:
        wait = 1e3 * r["wait_s"] / r["steps"]
        parts[list(ms).index("allreduce")] += f" (wait {wait:.1f}, transfer {ms['allreduce'] - wait:.1f})"
    once = sum(r["phases_s"][k] for k in ONCE)
    return ", ".join(parts) + f", other {other:.1f} = {step_ms(r):.1f}; once per run: ε rows and final ε {once:.2f} s"


def _timed_gather(n: int, steps: int):
    import torch.distributed as tdist

    mine = timed_worker(n, steps)
    everyone = [None] * tdist.get_world_size()
    tdist.all_gather_object(everyone, mine)
    _wait_split(everyone)
    return everyone


def rank_worker(n: int, steps: int, device: str | None):
    """One rank (or the only process): train `steps` steps, return its timing and memory."""
    import torch

    from fusiondp.train import distributed
    from fusiondp.train.engine import train

    data = synthetic(n)
    data_mb = sum(t.numel() * t.element_size() for t in (data.x, data.x_hybrid, data.x_noise, data.x_reference,
                                                         data.y)) / 2**20
    cfg = _config(n, steps)
    rss_before = _rss_mb()
    reset = _reset_peak()  # peak of the training alone, not of building the synthetic views
    res = train("fusiondp", data, config=cfg, progress=False, device=device)
    seconds = res.history[-1]["seconds"]
    d = distributed.context()
    if device and device.startswith("cuda"):
        gpu_mb = torch.cuda.max_memory_allocated() / 2**20
    else:
        gpu_mb = None
    return {"rank": d.rank, "steps": res.steps, "seconds": seconds, "peak_rss_mb": round(_peak_mb(), 1),
            "rss_before_train_mb": round(rss_before, 1),
            "train_peak_rss_mb": round(_hwm_mb(), 1) if reset else None,
            "data_mb": round(data_mb, 1), "gpu_peak_mb": gpu_mb}


def sampling_cost(n: int, reps: int = 50) -> tuple[float, float]:
    """Seconds per step of the two index draws the engine makes: the Poisson batch (rate b/N) and the
    public batch (a uniform subset of P rows), with the engine's own functions."""
    import torch

    from fusiondp.train.sampling import poisson_subset, uniform_subset

    g = torch.Generator().manual_seed(0)
    t = time.perf_counter()
    for _ in range(reps):
        poisson_subset(n, SETTINGS["batch_size"] / n, g)
    poisson = (time.perf_counter() - t) / reps
    t = time.perf_counter()
    for _ in range(reps):
        uniform_subset(n, min(SETTINGS["public_batch_size"], n), g)
    return poisson, (time.perf_counter() - t) / reps


def case(part: str, n: int, steps: int, threads: int, device: str | None) -> dict:
    import torch

    torch.set_num_threads(threads)
    if part == "split1":
        return {"ranks": [timed_worker(n, steps)]}
    if part == "split2":
        from fusiondp.train.distributed import launch

        return {"ranks": launch(_timed_gather, 2, (n, steps), threads=threads)}
    if part == "ranks2":
        from fusiondp.train.distributed import launch

        all_ranks = launch(_gather_worker, 2, (n, steps, device), threads=threads)
        return {"ranks": all_ranks}
    out = rank_worker(n, steps, device)
    out["poisson_s_per_step"], out["public_s_per_step"] = sampling_cost(n)
    return out


def _gather_worker(n: int, steps: int, device: str | None):
    """Each rank's numbers, gathered on rank 0."""
    import torch.distributed as tdist

    mine = rank_worker(n, steps, device)
    everyone = [None] * tdist.get_world_size()
    tdist.all_gather_object(everyone, mine)
    return everyone


def _run(part: str, n: int, steps: int, threads: int, device: str | None) -> dict:
    cmd = [sys.executable, __file__, "--case", part, "--n", str(n), "--steps", str(steps), "--threads", str(threads)]
    if device:
        cmd += ["--device", device]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{part} N={n} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def rows_part(steps: int, threads: int, device: str | None, label: str, rounds: int) -> None:
    print(f"{label}: one process, fusiondp, {steps} steps timed and scaled to N/128 steps per epoch "
          f"(fastest of {rounds} interleaved rounds); poisson / public: milliseconds per step of the two index draws; "
          "RSS: resident MB after the data views are built, and peak resident MB during training "
          "(the kernel's peak mark is reset after the views are built)")
    print(f"{'N':>9s} {'s/step':>8s} {'poisson':>8s} {'public':>7s} {'s/epoch':>9s} {'views MB':>9s} {'RSS data':>9s} "
          f"{'train peak':>10s} {'peak - data':>12s}" + (f" {'GPU peak MB':>12s}" if device else ""))
    sizes = (10_000, 100_000, 1_000_000)
    best: dict[int, dict] = {}
    for _ in range(rounds):
        for n in sizes:
            r = _run("rows", n, steps, threads, device)
            if n not in best or r["seconds"] < best[n]["seconds"]:
                best[n] = r
    base = None
    for n in sizes:
        r = best[n]
        per_step = r["seconds"] / r["steps"]
        per_epoch = per_step * n / 128
        peak = r["train_peak_rss_mb"] if r["train_peak_rss_mb"] is not None else r["peak_rss_mb"]
        base = base or per_epoch / n
        line = (f"{n:>9,d} {per_step:8.4f} {r['poisson_s_per_step'] * 1e3:8.3f} {r['public_s_per_step'] * 1e3:7.3f} {per_epoch:9.1f} "
                f"{r['data_mb']:9.1f} {r['rss_before_train_mb']:9.1f} {peak:10.1f} "
                f"{peak - r['rss_before_train_mb']:12.1f}")
        if device:
            line += f" {r['gpu_peak_mb']:12.1f}"
        print(line + f"   s/epoch per row vs N=10⁴: {per_epoch / n / base:.2f}", flush=True)
    print()


def ranks_part(steps: int, threads: int, rounds: int) -> None:
    n = 100_000
    print(f"ranks: N = {n:,}, fusiondp, {steps} steps timed, {threads} torch thread(s) per rank "
          f"(fastest of {rounds} interleaved rounds)")
    one = two = None
    for _ in range(rounds):
        r1 = _run("rows", n, steps, threads, None)
        r2 = _run("ranks2", n, steps, threads, None)["ranks"]
        one = r1 if one is None or r1["seconds"] < one["seconds"] else one
        if two is None or max(r["seconds"] for r in r2) < max(r["seconds"] for r in two):
            two = r2
    spe = lambda r: r["seconds"] / r["steps"] * n / 128  # noqa: E731
    print(f"  1 process : {spe(one):7.1f} s/epoch   peak RSS {one['peak_rss_mb']:.1f} MB")
    for r in two:
        print(f"  2 processes, rank {r['rank']}: {spe(r):7.1f} s/epoch   peak RSS {r['peak_rss_mb']:.1f} MB")
    print(f"  speed-up with 2 processes: {spe(one) / max(spe(r) for r in two):.2f}x")
    print()


def split_part(steps: int, cores: int, rounds: int) -> None:
    """1 process x `cores` threads vs 2 processes x `cores`/2 threads, interleaved; per-round speed-up."""
    import os
    import statistics

    n = 100_000
    half = max(1, cores // 2)
    print(f"split: N = {n:,}, fusiondp, b = 1024, public batch 4096 (the defaults rule's shape), {steps} steps; "
          f"1 process x {cores} thread(s) vs 2 processes x {half} thread(s); {rounds} interleaved round(s); "
          f"load average before: {os.getloadavg()[0]:.1f}")
    ups, ups1, thr, best, whole = [], [], [], [], []
    for rnd in range(rounds):
        one = _run("split1", n, steps, cores, None)["ranks"][0]
        two = _run("split2", n, steps, half, None)["ranks"]
        single = _run("split1", n, steps, 1, None)["ranks"][0] if cores > 1 else one
        slow = max(step_ms(r) for r in two)
        ups.append(step_ms(one) / slow)
        ups1.append(step_ms(single) / slow)
        thr.append(step_ms(single) / step_ms(one))
        whole.append(single["seconds"] / max(r["seconds"] for r in two))
        per = step_ms
        print(f"  round {rnd + 1}: 1 process x 1 thread {per(single):6.1f} ms/step; 1 process x {cores} threads "
              f"{per(one):6.1f} ms/step (public gradient {1e3 * one['public_s'] / one['steps']:5.1f});  2 processes " + ", ".join(
                  f"rank {r['rank']} {per(r):6.1f} ms/step (all-reduce incl. wait {1e3 * r['allreduce_s'] / r['steps']:5.1f}, "
                  f"public gradient {1e3 * r['public_s'] / r['steps']:5.1f})" for r in two)
              + f";  speed-up {ups[-1]:.2f}x; load {os.getloadavg()[0]:.1f}", flush=True)
        print(f"    ms/step by phase, 1 process x 1 thread: {_breakdown(single)}")
        if cores > 1:
            print(f"    ms/step by phase, 1 process x {cores} threads: {_breakdown(one)}")
        for r in two:
            print(f"    ms/step by phase, 2 processes, rank {r['rank']}: {_breakdown(r)}", flush=True)
        best.append((single, two))
    print(f"  speed-up with 2 processes x {half} vs 1 process x {cores} threads (median of {rounds} paired rounds): "
          f"{statistics.median(ups):.2f}x (min {min(ups):.2f}, max {max(ups):.2f})")
    print(f"  speed-up with 2 processes x {half} vs 1 process x 1 thread: {statistics.median(ups1):.2f}x "
          f"(min {min(ups1):.2f}, max {max(ups1):.2f})")
    print(f"  1 process: {cores} threads vs 1 thread: {statistics.median(thr):.2f}x (min {min(thr):.2f}, "
          f"max {max(thr):.2f})")
    print(f"  whole timed run incl. the once-per-run accounting, 2 processes x {half} vs 1 process x 1 thread: "
          f"{statistics.median(whole):.2f}x ({steps} steps; a default run has hundreds)")
    # Where the second rank's time goes, in the round with the best 2-process speed-up over 1 x 1 thread: the
    # phases that halve with a second rank (public, private, noise) and those every rank pays in full.
    single, two = best[max(range(len(best)), key=lambda i: ups1[i])]
    ms = lambda r, k: 1e3 * r["phases_s"][k] / r["steps"]  # noqa: E731
    slow = max(two, key=step_ms)
    shared = ("public", "private", "noise")
    s1, s2 = (sum(ms(r, k) for k in shared) for r in (single, slow))
    f1, f2 = (step_ms(r) - sum(ms(r, k) for k in shared) - ms(r, "allreduce") for r in (single, slow))
    wait = 1e3 * slow.get("wait_s", 0.0) / slow["steps"]
    print(f"  why (best round, slowest rank {slow['rank']} vs 1 process x 1 thread, ms/step): shared work "
          f"(public + private + noise) {s1:.1f} -> {s2:.1f} ({s1 / max(s2, 1e-9):.2f}x less); per-rank work that does "
          f"not shrink (draw + optimizer + other) {f1:.1f} -> {f2:.1f}; all-reduce {ms(slow, 'allreduce'):.1f} "
          f"(of which waiting for the other rank {wait:.1f}); a 1.5x speed-up needs the 2-process step at "
          f"{step_ms(single) / 1.5:.1f} ms")
    print()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=("rows", "ranks", "split", "gpu", "all"), default="all")
    ap.add_argument("--cores", type=int, default=2, help="split part: the cores shared out (threads of the 1-process "
                    "case; half of them per rank in the 2-process case)")
    ap.add_argument("--steps", type=int, default=150, help="steps timed per case")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per process")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved repetitions; the fastest is kept")
    ap.add_argument("--case", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--device", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        print(json.dumps(case(args.case, args.n, args.steps, args.threads, args.device)))
        return
    import os

    import torch

    from fusiondp.train.numerics import ENV

    print(f"torch {torch.__version__}, {os.cpu_count()} CPU cores, flush-denormal "
          f"{'off' if os.environ.get(ENV) == '0' else 'on'} during training\n")
    if args.part in ("rows", "all"):
        rows_part(args.steps, args.threads, None, "rows", args.rounds)
    if args.part in ("ranks", "all"):
        ranks_part(args.steps, args.threads, args.rounds)
    if args.part in ("split", "all"):
        split_part(args.steps, args.cores, args.rounds)
    if args.part in ("gpu", "all"):
        if torch.cuda.is_available():
            rows_part(args.steps, args.threads, "cuda", f"gpu ({torch.cuda.get_device_name(0)})", args.rounds)
        else:
            print("gpu: not measured (no CUDA device visible to PyTorch on this machine)")


if __name__ == "__main__":
    main()
