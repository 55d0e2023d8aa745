"""Private training across processes on torch.distributed: process group, shards, collectives.

The mechanism of an N-process run is the single-process one, exactly (docs/method.md §4-5):

* **Sampling.** Poisson sampling includes each record independently with probability q, so the
  mask factorises over the shards: every rank draws the mask of its own rows from its own secret
  source (the OS CSPRNG by default; `fusiondp.privacy.randomness`), and no secret of the sampler
  crosses the network. The union is Poisson sampling of all N rows at rate q, the event the
  accountant analyses (its calibration and ε do not depend on the number of ranks). In the
  test-only insecure mode every rank draws the same global mask from the known seed and keeps
  its shard, as one process does.
* **Trust boundary.** The all-reduce carries each rank's clipped sum with noise on that rank's slice
  of the coordinates only (the rest of its vector is *un-noised*), so the process group, its network
  included, must sit inside one trust boundary (one operator's machines on a private network): the
  guarantee covers what leaves the group (the model, reports, checkpoints), not an eavesdropper on
  gloo/NCCL traffic, which is not encrypted.
* **Noise.** The P coordinates of the parameter vector are split into contiguous slices, one per
  rank (:func:`noise_part`, the same split as the rows). Each rank draws N(0, σ²C²) for the
  coordinates of its own slice only, from its own secret source, and adds them to its local clipped
  sum before the all-reduce (SUM). The slices partition the coordinates and the sources are
  independent, so the reduced sum carries exactly one draw per coordinate, N(0, σ²C²I) in law: std σC,
  not σC√N (a full draw on every rank) nor σC/√N (noise then averaging). Until issue 26 rank 0 drew the
  whole vector while the other ranks waited for it; now each rank draws 1/N of it.
* **Public gradient.** Every rank draws the same public batch indices (public generator, from
  ``--seed``) and differentiates the rows that fall in its shard, weighted by 1/(public batch
  size); the all-reduced sum is the public batch mean.
* **One collective per step.** Public gradient, clipped sum and the step statistics travel in
  one flat buffer (one all-reduce per dtype). A rank whose local batches are empty still joins
  it with zeros, so no rank ever waits on a collective another rank skipped.
* **Identical step.** Every rank holds the same reduced gradient and takes the same optimizer
  step; parameters are broadcast from rank 0 once at the start (and after a resume).

Processes are started by :func:`launch` (``fusiondp train --nproc N``: torch.multiprocessing,
gloo, one machine) or by ``torchrun`` (several machines; :func:`init_from_env` reads the
variables torchrun sets). Collectives time out (:data:`TIMEOUT_ENV`), so a rank that dies or
hangs stops the job with an error instead of a hang. In one process every helper here is a
no-op and the engine runs unchanged.

>>> d = context()
>>> d.world_size, d.is_main, d.shard(10)
(1, True, (0, 10))
"""

from __future__ import annotations

import atexit
import os
import pickle
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
import torch.distributed as tdist
from torch import nn

from fusiondp._seeds import torch_seed
from fusiondp.errors import BackendUnavailableError, ConfigError, DistributedError, FusionDPError
from fusiondp.privacy.randomness import PrivateRandomness, private_randomness
from fusiondp.train.sampling import poisson_subset

TIMEOUT_ENV = "FUSIONDP_DIST_TIMEOUT"
DEFAULT_TIMEOUT_S = 600.0
_TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def resolve_device(device: str | torch.device | None, local_rank: int = 0) -> torch.device:
    """'cpu' or 'cuda' (one GPU per rank: cuda:LOCAL_RANK); a clear error when CUDA is absent."""
    try:
        dev = torch.device(device or "cpu")
    except (RuntimeError, TypeError):
        dev = None
    if dev is None or dev.type not in ("cpu", "cuda"):
        raise ConfigError(f"Unsupported device {str(device)!r}: expected 'cpu' or 'cuda'.")
    if dev.type == "cpu":
        return dev
    if not torch.cuda.is_available():
        raise BackendUnavailableError(
            f"--device cuda: PyTorch sees no CUDA device here (torch {torch.__version__}, "
            f"CUDA build: {torch.version.cuda or 'none'}). Install a CUDA build of torch on a GPU machine, "
            "or train with --device cpu.")
    index = dev.index if dev.index is not None else local_rank
    if index >= torch.cuda.device_count():
        raise ConfigError(f"Device cuda:{index} requested but only {torch.cuda.device_count()} GPU(s) are visible; "
                          "run at most one process per GPU.")
    return torch.device("cuda", index)


@dataclass
class Dist:
    """This process's place in the group: rank, world size, device (single process: rank 0 of 1)."""

    rank: int = 0
    world_size: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    def shard(self, n: int) -> tuple[int, int]:
        """Rows [lo, hi) of this rank: contiguous blocks that differ in size by at most one row."""
        return self.rank * n // self.world_size, (self.rank + 1) * n // self.world_size

    def local(self, idx: torch.Tensor, n: int) -> torch.Tensor:
        """The global row indices `idx` that fall in this rank's shard, as positions in the shard."""
        if not self.active:
            return idx
        lo, hi = self.shard(n)
        return idx[(idx >= lo) & (idx < hi)] - lo

    # ---- collectives (no-ops in one process) -------------------------------------------------

    def all_reduce_sum(self, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Sum each tensor over ranks, in one flat all-reduce per dtype; keys must match on every rank."""
        if not self.active:
            return tensors
        out: dict[str, torch.Tensor] = {}
        by_dtype: dict[torch.dtype, list[str]] = {}
        for k, v in tensors.items():
            by_dtype.setdefault(v.dtype, []).append(k)
        for dtype, keys in by_dtype.items():
            flat = torch.cat([tensors[k].reshape(-1).to(self.device) for k in keys])
            tdist.all_reduce(flat, op=tdist.ReduceOp.SUM)
            offset = 0
            for k in keys:
                v = tensors[k]
                out[k] = flat[offset:offset + v.numel()].view(v.shape).to(v.device)
                offset += v.numel()
        return {k: out[k] for k in tensors}

    def broadcast_object(self, obj: Any) -> Any:
        """Rank 0's `obj` on every rank (pickled; for small control values and resumed state)."""
        if not self.active:
            return obj
        box = [obj if self.is_main else None]
        tdist.broadcast_object_list(box, src=0, device=self.device if self.device.type == "cuda" else None)
        return box[0]

    def sync_module(self, module: nn.Module) -> None:
        """Overwrite every rank's parameters and buffers with rank 0's (same start, whoever built the model)."""
        if not self.active:
            return
        with torch.no_grad():
            for t in list(module.parameters()) + list(module.buffers()):
                tdist.broadcast(t.data, src=0)

    def barrier(self) -> None:
        if self.active:
            tdist.barrier()


def context(device: str | torch.device | None = None) -> Dist:
    """The Dist of this process: from the initialised process group, else a single process."""
    if tdist.is_available() and tdist.is_initialized():
        rank, world = tdist.get_rank(), tdist.get_world_size()
        local = int(os.environ.get("LOCAL_RANK", rank))
        return Dist(rank, world, resolve_device(device, local))
    return Dist(device=resolve_device(device))


def is_main() -> bool:
    """True in a single process and on rank 0 of a group: the one process that writes files and prints."""
    return not (tdist.is_available() and tdist.is_initialized()) or tdist.get_rank() == 0


def randomness(d: Dist, insecure_seed: int | None, *, csprng: bool = True) -> PrivateRandomness:
    """The run's secret sources on this rank.

    Single process: `private_randomness` unchanged. In a group, every rank draws its own fresh secret
    sources (the OS CSPRNG, or an OS-seeded generator with ``csprng=False``) and nothing secret is
    exchanged: Poisson sampling includes each record independently, so the mask factorises over the
    shards, and each rank draws the mask of its own rows (`private_sample`). The union over ranks is
    Poisson sampling of all N rows with rate q, the mechanism the accountant analyses. Each rank's noise
    source draws the noise of its own slice of the coordinates (`noise_part`).
    In the test-only insecure mode every rank seeds both from `insecure_seed` and draws the global mask,
    as one process does (so group and single-process runs can be compared exactly).
    """
    if not d.active or insecure_seed is not None:
        return private_randomness(insecure_seed, csprng=csprng)
    own = private_randomness(None, csprng=csprng)
    return PrivateRandomness(own.sampler, own.noise, True, local_sampling=True)


def private_sample(d: Dist, n: int, q: float, secret: PrivateRandomness) -> torch.Tensor:
    """This step's Poisson sample of this rank's rows, as positions in its shard.

    Secure runs in a group: drawn over the shard alone from the rank's own source (no secret crosses the
    network). Otherwise: the global sample (every rank draws the same one in insecure mode) restricted
    to the shard.
    """
    if d.active and secret.local_sampling:
        lo, hi = d.shard(n)
        return poisson_subset(hi - lo, q, secret.sampler)
    return d.local(poisson_subset(n, q, secret.sampler), n)


def noise_generator(d: Dist, secret: PrivateRandomness) -> torch.Generator | None:
    """The generator this rank draws its slice of the noise from (`noise_part`): its own secret source."""
    return secret.noise


def noise_part(d: Dist, n_params: int) -> tuple[int, int] | None:
    """Coordinates [lo, hi) of the flattened parameter vector this rank noises (None: one process, all).

    The slices of the ranks partition range(n_params) (`Dist.shard`), so after the all-reduce every
    coordinate carries exactly one Gaussian draw (`fusiondp.train.step.add_noise`).
    """
    return d.shard(n_params) if d.active else None


def reseed_public(d: Dist, seed: int, step: int = 0) -> None:
    """Give ranks > 0 their own dropout stream (public randomness, derived from --seed, rank and step).

    Rank 0 keeps the single-process stream. Without this every rank would draw the same dropout
    masks for different rows.
    """
    if d.active and d.rank > 0:
        torch.manual_seed(torch_seed(seed, "dropout", d.rank, step))  # SeedSequence child per (rank, step)


def sync_resumed(d: Dist, model: nn.Module, opt: torch.optim.Optimizer, public_gen: torch.Generator,
                 secret: PrivateRandomness, start_step: int, history: list, ch: float | None
                 ) -> tuple[int, list, float | None]:
    """After rank 0 loaded a checkpoint: give every rank its model, optimizer, public generator and counters.

    The checkpoint holds global state only (no per-rank part), so a run saved with one number of
    ranks resumes with any other. The sampler and noise generator states are sent only in the insecure
    test mode (a secure resumed run draws fresh secret generators).
    """
    if not d.active:
        return start_step, history, ch
    state = d.broadcast_object({
        "optimizer": opt.state_dict(), "public_rng": public_gen.get_state(), "step": start_step,
        "history": history, "ch": ch,
        "sampler": None if secret.secure else secret.sampler.get_state(),
        # every rank draws (its slice of) the noise: the replayable test mode needs the same stream everywhere
        "noise": None if secret.secure else secret.noise.get_state(),
    } if d.is_main else None)
    d.sync_module(model)
    if not d.is_main:
        opt.load_state_dict(state["optimizer"])
        public_gen.set_state(state["public_rng"])
        if state["sampler"] is not None:
            secret.sampler.set_state(state["sampler"])
        if state["noise"] is not None:
            secret.noise.set_state(state["noise"])
    return int(state["step"]), list(state["history"]), state["ch"]


# ---- starting a group ------------------------------------------------------------------------

def timeout_s(value: float | None = None) -> float:
    """Collective timeout: `value`, else $FUSIONDP_DIST_TIMEOUT, else 600 s."""
    v = value if value is not None else float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT_S))
    if not v > 0:
        raise ConfigError(f"Expected a positive distributed timeout, got {v!r}.")
    return float(v)


def _init_group(device: str | None, timeout: float | None, init_method: str | None = None,
                rank: int | None = None, world_size: int | None = None) -> Dist:
    local = int(os.environ.get("LOCAL_RANK", rank or 0))
    dev = resolve_device(device, local)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    backend = "nccl" if dev.type == "cuda" else "gloo"
    kw: dict[str, Any] = {"timeout": timedelta(seconds=timeout_s(timeout))}
    if init_method is not None:
        kw.update(init_method=init_method, rank=rank, world_size=world_size)
    try:
        tdist.init_process_group(backend, **kw)
    except (RuntimeError, ValueError) as e:
        raise DistributedError(f"Could not join the process group ({backend}): {e}") from e
    return context(device)


def init_from_env(device: str | None = None, timeout: float | None = None) -> Dist | None:
    """Join the group torchrun describes (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT); None when not under torchrun.

    Backend gloo on CPU, NCCL with ``device='cuda'`` (one GPU per process: cuda:LOCAL_RANK).
    """
    if not all(v in os.environ for v in _TORCHRUN_VARS) or int(os.environ["WORLD_SIZE"]) < 2:
        return None
    if tdist.is_initialized():
        return context(device)
    d = _init_group(device, timeout)
    atexit.register(finish)
    return d


def finish() -> None:
    """Leave the process group (if any)."""
    if tdist.is_available() and tdist.is_initialized():
        tdist.destroy_process_group()


def _entry(rank: int, nproc: int, device: str | None, timeout: float | None, threads: int, store: str,
           fn: Callable, args: tuple, kwargs: dict, out_dir: str) -> None:
    """Body of one spawned rank: join the group, run fn, rank 0 saves its result; errors go to a file."""
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(nproc), LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(nproc))
    torch.set_num_threads(threads)
    try:
        _init_group(device, timeout, init_method=f"file://{store}", rank=rank, world_size=nproc)
        result = fn(*args, **kwargs)
        if rank == 0:
            tmp = Path(out_dir) / "result.pt.tmp"
            torch.save(result, tmp)
            tmp.replace(Path(out_dir) / "result.pt")
    except BaseException as e:  # noqa: BLE001  (reported to the parent, then re-raised)
        try:
            blob = pickle.dumps(e)
        except Exception:  # noqa: BLE001  (an unpicklable exception is reported by its text)
            blob = None
        # written whole, then renamed: the launcher may read the folder while this rank is still writing, and
        # must never see a half-written file (a torn pickle read as EOFError masked the real error)
        path = Path(out_dir) / f"error-{rank}.pkl"
        tmp = path.with_name(path.name + ".part")
        with open(tmp, "wb") as f:
            pickle.dump({"time": time.time(), "rank": rank, "exc": blob, "type": type(e).__name__,
                         "text": str(e), "traceback": traceback.format_exc()}, f)
        os.replace(tmp, path)
        raise
    finally:
        finish()


def _first_error(out_dir: Path) -> dict | None:
    errors = []
    for p in out_dir.glob("error-*.pkl"):
        with open(p, "rb") as f:
            errors.append(pickle.load(f))
    return min(errors, key=lambda e: e["time"]) if errors else None


def launch(fn: Callable, nproc: int, args: tuple = (), kwargs: dict | None = None, *, device: str | None = None,
           timeout: float | None = None, threads: int | None = None, start_method: str = "spawn") -> Any:
    """Run ``fn(*args, **kwargs)`` in `nproc` processes forming one group on this machine; return rank 0's value.

    Processes are started by torch.multiprocessing (`start_method` 'spawn', the safe default; 'fork'
    starts in a fraction of a second but only suits CPU runs from a process that has not used CUDA
    or several threads) and meet through a file store in a private
    temporary directory (no port to pick). Backend gloo on CPU, NCCL with ``device='cuda'``. `fn`
    must be importable (a module-level function). Each rank gets ``threads`` torch threads (default:
    this process's threads divided by `nproc`). When a rank fails, the others are stopped and the
    first failure is raised here: a fusiondp error as itself, anything else as DistributedError.
    The value comes back through a file (torch.save/torch.load): a model passed in `args` is not
    trained in place; use the returned one.
    """
    import torch.multiprocessing as mp

    if not isinstance(nproc, int) or nproc < 1:
        raise ConfigError(f"Expected nproc >= 1, got nproc={nproc!r}.")
    if device is not None and torch.device(device).type == "cuda":
        resolve_device(device, nproc - 1)  # every rank needs its own GPU
    threads = threads or max(1, torch.get_num_threads() // nproc)
    with tempfile.TemporaryDirectory(prefix="fusiondp-dist-") as tmp:
        out = Path(tmp)
        try:
            mp.start_processes(_entry, args=(nproc, device, timeout, threads, str(out / "store"), fn, args,
                                             kwargs or {}, tmp),
                               nprocs=nproc, join=True, start_method=start_method)
        except (mp.ProcessRaisedException, mp.ProcessExitedException) as e:
            first = _first_error(out)
            if first is None:
                raise DistributedError(f"A training process stopped without a Python error: {e}") from None
            exc = pickle.loads(first["exc"]) if first["exc"] is not None else None
            if isinstance(exc, FusionDPError):
                raise exc from None
            raise DistributedError(f"rank {first['rank']} of {nproc} failed: {first['type']}: {first['text']}"
                                   ) from None
        return torch.load(out / "result.pt", weights_only=False)
