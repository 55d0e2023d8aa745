"""Output files: checked before any work starts, written atomically, never over an input.

Two guarantees every fusiondp writer relies on (docs/reliability.md):

* **Checked first.** `check_outputs` resolves every output path before any data is read
  or any training starts, and refuses one that equals an input (or another output), whose
  suffix does not match its format, or whose folder cannot be created or written.
* **All or nothing.** `write_files` writes each file to a temporary file in the destination
  folder, flushes and fsyncs it, and only when *every* file of the group is staged renames
  them into place (a rename within one folder is atomic). If anything fails (full disk,
  permissions, Ctrl-C) every temporary file is removed and no destination is touched, so a
  failed command leaves exactly the files that were there before.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> write_files({d / "a.txt": b"hello"})
[PosixPath('...a.txt')]
>>> sorted(p.name for p in d.iterdir())
['a.txt']
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import signal
import tempfile
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

from fusiondp.errors import ConfigError, OutputError

_TMP_PREFIX = ".fusiondp-"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _same(a: Path, b: Path) -> bool:
    """True when two paths name the same file (resolved, or the same inode when both exist)."""
    if a == b:
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _writable_folder(path: Path, what: str) -> None:
    """The nearest existing ancestor of `path`'s folder must be a writable folder."""
    parent = path.parent
    while not parent.exists():
        if parent.parent == parent:
            break
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"Cannot write {what} {path}: {parent} is not a folder.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"Cannot write {what} {path}: folder {parent} is not writable.",
                          hint="choose an output path in a folder you can write to")


def check_output(path: str | Path | None, *, what: str, suffixes: Iterable[str],
                 inputs: Iterable[str | Path | None] = ()) -> Path | None:
    """Resolve and check one output path before any work starts; returns the resolved path (None stays None).

    Raises:
        ConfigError: the path is an existing folder, equals one of `inputs`, or its suffix is not one of
            `suffixes` (lower case, with the dot).
        OutputError: its folder cannot be created or written.
    """
    if path is None:
        return None
    p = Path(path).expanduser().resolve()
    allowed = [s.lower() for s in suffixes]
    if p.is_dir():
        raise ConfigError(f"The {what} path {path} is a folder; give a file name.")
    if allowed and p.suffix.lower() not in allowed:
        raise ConfigError(f"The {what} path {path} should end with {' or '.join(allowed)}.",
                          hint=f"for example {p.with_suffix(allowed[0]).name}")
    for inp in inputs:
        if inp is not None and _same(p, Path(inp).expanduser().resolve()):
            raise ConfigError(f"The {what} path {path} is also an input of this command; "
                              "writing it would destroy that input.", hint="choose another output path")
    _writable_folder(p, what)
    return p


def check_distinct(outputs: Mapping[str, Path | None]) -> None:
    """Refuse two outputs of one command that would land on the same file."""
    seen: dict[Path, str] = {}
    for what, p in outputs.items():
        if p is None:
            continue
        for q, other in seen.items():
            if _same(p, q):
                raise ConfigError(f"The {what} and the {other} would both be written to {p}.",
                                  hint="give them different paths")
        seen[p] = what


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _describe(e: OSError) -> str:
    if e.errno == errno.ENOSPC:
        return "no space left on the device"
    if e.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if e.errno == errno.EROFS:
        return "read-only file system"
    return e.strerror or type(e).__name__


def _stage(path: Path, data: bytes) -> Path:
    """Write `data` to a new temporary file next to `path` and fsync it; returns the temporary path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=_TMP_PREFIX + path.name + ".", suffix=".tmp", dir=path.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


@contextlib.contextmanager
def _signals_deferred():
    """Hold SIGINT/SIGTERM until the block ends, so a temporary file is never created without being recorded
    for clean-up (the interrupt is then raised right after the block).

    In the main thread the two signals get a handler that only records them, and the recorded signal is
    passed to the previous handler after the block. A signal mask alone is not enough: it is per thread, and
    in a process with worker threads (a forest's thread pool) the kernel may deliver the signal to a thread
    that does not block it, after which Python runs the handler in the main thread inside the block.
    """
    if threading.current_thread() is not threading.main_thread():  # handlers can only be set from there
        block = getattr(signal, "pthread_sigmask", None)
        if block is None:  # pragma: no cover - platforms without signal masks
            yield
            return
        old_mask = block(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            yield
        finally:
            block(signal.SIG_SETMASK, old_mask)
        return
    received: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, lambda signum, frame: received.append(signum)) for s in held}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if received:
            signum, handler = received[0], previous[received[0]]
            if callable(handler):
                handler(signum, None)  # e.g. default_int_handler: KeyboardInterrupt
            elif handler == signal.SIG_DFL:
                os.kill(os.getpid(), signum)  # the default action, now that the block is over


def write_files(files: Mapping[str | Path, bytes | str]) -> list[Path]:
    """Write every file of `files` (path → content) atomically, all or nothing; returns the paths.

    Raises:
        OutputError: a file could not be written (nothing of the group is left behind).
    """
    staged: list[tuple[Path, Path]] = []
    created: list[Path] = []
    current: Path | None = None
    try:
        for path, data in files.items():
            path = current = Path(path)
            folder = path.parent
            missing = []
            while not folder.exists():
                missing.append(folder)
                folder = folder.parent
            payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
            with _signals_deferred():
                created += reversed(missing)
                staged.append((_stage(path, payload), path))
        with _signals_deferred():  # the group lands together
            for tmp, path in staged:
                os.replace(tmp, path)
        for folder in {p.parent for _, p in staged}:
            _fsync_dir(folder)
    except BaseException as e:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        for folder in reversed(created):  # folders this call made, innermost first, if still empty
            try:
                folder.rmdir()
            except OSError:
                pass
        if isinstance(e, OSError):
            raise OutputError(f"Cannot write {current}: {_describe(e)}; nothing was written.") from e
        raise
    return [p for _, p in staged]


def write_file(path: str | Path, data: bytes | str) -> Path:
    """Write one file atomically (see `write_files`)."""
    return write_files({path: data})[0]


def json_text(payload) -> str:
    """`payload` as indented, strict JSON, the format of every fusiondp report: numpy numbers as plain numbers,
    and the non-finite floats JSON has no literal for (radius = inf, a nan loss) as the strings "inf", "-inf"
    and "nan", so tools other than Python's json (jq, JavaScript) read the file too.

    >>> json_text({"radius": float("inf"), "loss": [float("nan"), 1.5]}).split()
    ['{', '"radius":', '"inf",', '"loss":', '[', '"nan",', '1.5', ']', '}']
    """
    plain = json.loads(json.dumps(payload, default=lambda v: v.item() if hasattr(v, "item") else float(v),
                                  allow_nan=True))
    return json.dumps(_finite(plain), indent=2, allow_nan=False)


def _finite(value):
    """`value` with every non-finite float replaced by its name ("inf", "-inf", "nan")."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
