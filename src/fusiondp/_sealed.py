"""Files of tensors plus one JSON document, sealed by one digest over both (models and checkpoints).

The container is a `safetensors` file: raw tensor bytes and a JSON header, nothing
pickled, so reading one never runs code from it. The JSON document sits in the header
metadata under one key, and carries ``sha256``: a digest over the canonical JSON of the
document itself (every field but ``sha256``) and over every tensor's name, dtype, shape
and bytes. Changing any byte of the metadata or of a tensor is therefore detected.

The digest is an integrity check (corruption, a stray edit), not a signature: someone who
can write the file can also recompute it.

>>> import torch
>>> blob = pack({"w": torch.ones(2)}, {"kind": "demo", "value": 1.5}, key="demo")
>>> meta, tensors = unpack(blob, key="demo")
>>> meta["value"], tensors["w"].tolist()
(1.5, [1.0, 1.0])
>>> try:
...     unpack(blob.replace(b"1.5", b"9.5"), key="demo")
... except SealError as e:
...     print(e)
its content does not match its recorded digest (corrupted or edited)
"""

from __future__ import annotations

import hashlib
import json
import struct

import torch

_MAX_HEADER = 100 * 2**20


class SealError(Exception):
    """The bytes are not a sealed file of the expected kind (the message says why, in a few words)."""


def _canonical(meta: dict) -> bytes:
    body = {k: v for k, v in meta.items() if k != "sha256"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=True).encode()


def digest(meta: dict, tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over the canonical JSON of `meta` (without its ``sha256``) and every tensor."""
    h = hashlib.sha256(_canonical(meta))
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(b"\x00" + name.encode() + b"\x00" + str(t.dtype).encode() + str(tuple(t.shape)).encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")  # 0-d too
    return h.hexdigest()


def pack(tensors: dict[str, torch.Tensor], meta: dict, *, key: str) -> bytes:
    """The bytes of a sealed file holding `tensors` and `meta` (a JSON-serialisable dict)."""
    from safetensors.torch import save

    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}
    meta = dict(meta)
    meta["sha256"] = digest(meta, tensors)
    return save(tensors, metadata={key: json.dumps(meta, allow_nan=True)})


def read_meta(data: bytes, *, key: str) -> dict:
    """The JSON document of a sealed file, without reading (or checking) its tensors."""
    if len(data) < 8:
        raise SealError("too short to be a safetensors file (empty or truncated)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > _MAX_HEADER or 8 + n > len(data):
        raise SealError("not a safetensors file, or truncated"
                        + (" (a zip archive: an old pickle-based file?)" if data[:2] == b"PK" else ""))
    try:
        header = json.loads(data[8:8 + n])
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise SealError("its header is not valid JSON (corrupted)") from None
    raw = (header.get("__metadata__") or {}).get(key) if isinstance(header, dict) else None
    if raw is None:
        raise SealError(f"a safetensors file without {key} metadata (written by another program?)")
    try:
        meta = json.loads(raw)
    except (json.JSONDecodeError, RecursionError):
        raise SealError(f"its {key} metadata is not valid JSON (corrupted)") from None
    if not isinstance(meta, dict):
        raise SealError(f"its {key} metadata is not a JSON object")
    return meta


def unpack(data: bytes, *, key: str) -> tuple[dict, dict[str, torch.Tensor]]:
    """The JSON document and tensors of a sealed file, after checking its digest.

    Raises:
        SealError: not a safetensors file, truncated, no metadata under `key`, or the digest does not match.
    """
    from safetensors.torch import load

    meta = read_meta(data, key=key)
    try:
        tensors = load(data)
    except Exception as e:  # safetensors raises its own error type for malformed payloads
        raise SealError(f"its tensors cannot be read ({type(e).__name__})") from None
    if not isinstance(meta.get("sha256"), str) or digest(meta, tensors) != meta["sha256"]:
        raise SealError("its content does not match its recorded digest (corrupted or edited)")
    return meta, tensors
