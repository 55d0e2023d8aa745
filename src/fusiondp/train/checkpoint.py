"""Checkpoints of a training run: safe to load, sealed, and bound to the run they belong to.

A checkpoint is a sealed safetensors file (`fusiondp._sealed`): tensors (model weights,
optimiser state, the public random-generator states) plus one JSON document (format version,
method, step, the accounting plan, history, C_h, and the *identity* of the run). Nothing is
pickled, so loading a checkpoint cannot run code; one digest covers the JSON and every
tensor, so a corrupted or edited checkpoint is refused.

**What is never stored.** The secret generators of the Poisson mask and the noise
(`fusiondp.privacy.randomness`): a resumed run draws fresh secret generators. Only the
public generator (``public_rng``), torch's global generator (``torch_rng``, dropout) and,
in the test-only ``insecure_noise_seed`` mode, the replayable ``insecure_rng`` are kept.

**Run identity.** A checkpoint records every training setting (`TrainConfig`, except the
equivalent ``per_sample`` implementations), the method, the accounting plan, the shape of
the training rows (N is treated as public: docs/privacy.md) and a digest of what is
*public* under the method's claim. Resuming with anything else is refused, naming the
first differences, so a report never claims settings that did not run. A digest of
protected data would let anyone holding the checkpoint confirm a guessed value (or a
record's presence) by recomputing it, so:

* feature-level methods: the digest covers the hybrid rows, labels, the noise and reference
  views (public under a feature-level claim), never the original rows;
* record-level methods (`dpsgd`): every column, label and the membership of a training row are
  protected, and the hybrid, noise and reference views are computed from the training rows'
  public columns, so none is hashed; the digest covers the public reference table the run was
  encoded with (``TrainData.public_digest``) and nothing of the training rows. A resumed
  `dpsgd` run with other training rows of the same size is therefore not detected: keep a
  checkpoint with its data.

**Resume semantics.** Training resumes at the first step after the last finished epoch,
with the accountant's step count restored, so ε keeps accumulating. A finished checkpoint
with identical settings returns the finished model without training further.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from fusiondp._files import write_file
from fusiondp._sealed import SealError, pack, unpack
from fusiondp.errors import CheckpointError

VERSION = 3
_KEY = "fusiondp-checkpoint"
# Settings that select equivalent implementations (same result, or the same law: secure_rng), not a different run.
_NOT_IDENTITY = ("per_sample", "config_source", "secure_rng")  # where a value came from is not part of the run


@dataclass(frozen=True)
class RunIdentity:
    """What a checkpoint must match to be resumed: method, settings and a digest of the public data."""

    method: str
    settings: dict
    data_sha256: str
    shape: list

    def to_dict(self) -> dict:
        return {"method": self.method, "settings": self.settings, "data_sha256": self.data_sha256,
                "shape": self.shape}


def _jsonable(value):
    return json.loads(json.dumps(value, allow_nan=True, default=lambda v: v.item() if hasattr(v, "item") else str(v)))


def identify(spec, cfg, data) -> RunIdentity:
    """The identity of a run: `spec` (MethodSpec), `cfg` (TrainConfig), `data` (TrainData)."""
    settings = {k: v for k, v in _jsonable(cfg.to_dict()).items() if k not in _NOT_IDENTITY}
    h = hashlib.sha256()
    if spec.level == "record":  # nothing of the training rows (module docstring): the public reference only
        h.update(b"record-level public inputs:" + str(getattr(data, "public_digest", None)).encode())
        return RunIdentity(spec.name, settings, h.hexdigest(), list(data.x.shape))
    for name in ("x_hybrid", "x_noise", "x_reference", "y"):  # public views only (see the module docstring)
        t = getattr(data, name)
        h.update(name.encode())
        if t is not None:
            t = t.detach().cpu().contiguous()
            h.update(str(t.dtype).encode() + str(tuple(t.shape)).encode())
            h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return RunIdentity(spec.name, settings, h.hexdigest(), list(data.x.shape))


def save(path: Path, model, opt, public_gen, secret, spec, acct, step_done: int, history: list, ch,
         *, run: RunIdentity, total_steps: int | None = None) -> None:
    """Write a checkpoint atomically (the previous one stays intact until the new one is complete)."""
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    opt_state: dict = {}
    for idx, st in opt.state_dict()["state"].items():
        for k, v in st.items():
            if isinstance(v, torch.Tensor):
                tensors[f"optim.{idx}.{k}"] = v
            else:
                opt_state.setdefault(str(idx), {})[k] = v
    tensors["rng.public"] = public_gen.get_state()
    tensors["rng.torch"] = torch.get_rng_state()
    if not secret.secure:  # test-only replayable mode; the secret generators of a real run are never stored
        tensors["rng.insecure_sampler"] = secret.sampler.get_state()
        tensors["rng.insecure_noise"] = secret.noise.get_state()
    meta = {"format": _KEY, "version": VERSION, "method": spec.name, "step": int(step_done),
            "total_steps": total_steps, "finished": total_steps is not None and step_done >= total_steps,
            "plan": acct.to_dict() if acct else None, "history": _jsonable(history), "ch": ch,
            "optimizer_state": _jsonable(opt_state), "run": run.to_dict()}
    write_file(path, pack(tensors, meta, key=_KEY))


def _differences(saved: dict, current: dict) -> list[str]:
    keys = [k for k in current if k in saved and saved[k] != current[k]]
    keys += [k for k in current if k not in saved] + [k for k in saved if k not in current]
    return [f"{k} = {current.get(k)!r} here but {saved.get(k)!r} in the checkpoint" for k in keys]


def _refuse(path: Path, why: str) -> CheckpointError:
    return CheckpointError(f"Checkpoint {path} belongs to another run: {why}; resuming would mix two runs.",
                           hint="use the original data and settings, or another --checkpoint path to start afresh")


def read(path: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """The checked JSON document and tensors of a checkpoint file."""
    from fusiondp._files import check_input

    if Path(path).exists() and not Path(path).is_dir():  # a FIFO or device is refused before it is opened
        check_input(path, what="Checkpoint", error=CheckpointError, register=False)  # the run's own output
    try:
        data = Path(path).read_bytes()
    except IsADirectoryError:
        raise CheckpointError(f"Checkpoint path {path} is a folder; give a file name.") from None
    except OSError as e:
        raise CheckpointError(f"Cannot read checkpoint {path}: {e.strerror}.") from None
    try:
        meta, tensors = unpack(data, key=_KEY)
    except SealError as e:
        old = "old pickle-based" in str(e)
        raise CheckpointError(
            f"{path} is not a usable fusiondp checkpoint: {e}.",
            hint=("checkpoints of older fusiondp versions were pickles, which are no longer loaded because "
                  "loading one can run code; delete it to start afresh") if old else
            "delete it (or give another --checkpoint path) to start the run afresh") from None
    if meta.get("version") != VERSION:
        raise CheckpointError(f"{path} is a fusiondp checkpoint of format version {meta.get('version')!r}; this "
                              f"fusiondp reads version {VERSION}.", hint="delete it to start the run afresh")
    return meta, tensors


def resume(path: Path, model, opt, public_gen, secret, spec, acct, ch, *, run: RunIdentity):
    """Restore a run from `path`; returns (steps done, history, C_h).

    Raises:
        CheckpointError: unreadable, corrupted, another format version, or another run (method, settings,
            privacy plan or data), naming the differences.
    """
    meta, tensors = read(path)
    saved = meta.get("run") or {}
    if meta.get("method") != spec.name:
        raise _refuse(path, f"method {spec.name!r} here but {meta.get('method')!r} in the checkpoint")
    diffs = _differences(saved.get("settings") or {}, run.settings)
    if diffs:
        raise _refuse(path, "; ".join(diffs[:3]) + (f" (and {len(diffs) - 3} more)" if len(diffs) > 3 else ""))
    if (acct.to_dict() if acct else None) != meta.get("plan"):
        raise _refuse(path, "its privacy plan differs (another epsilon, delta, relation, accountant or step count)")
    if saved.get("shape") != run.shape or saved.get("data_sha256") != run.data_sha256:
        raise _refuse(path, "the training data differ (another file, other rows, or rows in another order)")
    try:
        model.load_state_dict({k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
        state: dict = {}
        for k, v in tensors.items():
            if k.startswith("optim."):
                _, idx, name = k.split(".", 2)
                state.setdefault(int(idx), {})[name] = v
        for idx, st in (meta.get("optimizer_state") or {}).items():
            state.setdefault(int(idx), {}).update(st)
        opt.load_state_dict({"state": state, "param_groups": opt.state_dict()["param_groups"]})
        public_gen.set_state(tensors["rng.public"])
        torch.set_rng_state(tensors["rng.torch"])
        if not secret.secure and "rng.insecure_sampler" in tensors:
            secret.sampler.set_state(tensors["rng.insecure_sampler"])
            secret.noise.set_state(tensors["rng.insecure_noise"])
        step, history = int(meta["step"]), list(meta["history"])
    except (KeyError, ValueError, RuntimeError, TypeError) as e:
        raise CheckpointError(f"{path} does not fit this model or optimiser ({type(e).__name__}).",
                              hint="delete it to start the run afresh") from None
    return step, history, meta["ch"] if meta.get("ch") is not None else ch

