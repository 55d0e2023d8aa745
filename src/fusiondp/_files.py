"""Input and output files: inputs checked before they are opened, outputs written atomically, never over an input.

The guarantees every fusiondp reader and writer relies on (docs/reliability.md):

* **Inputs are regular files.** `check_input` refuses a missing path, a folder and anything that is not a
  regular file (a FIFO, a device, a socket: opening a FIFO with no writer would block forever) *before*
  the file is opened, and records the file as an input of the current run.
* **Never over an input (one rule).** Within a run (`run_scope`: every CLI command runs in one, with the
  command's input options declared up front) every file read through `check_input` and every declared
  input is an input of the run. `refuse_input` refuses an output path that names one of them: the same
  resolved path (``realpath``), or the same file (``st_dev``/``st_ino``: a hard link or another spelling).
  `check_output` applies it before any work starts and `write_files` applies it again to every file it
  writes, so no output of any command, derived ones included (a report's HTML page, a default path), can
  replace an input.
* **Checked first.** `check_output` resolves every output path before any data is read or any training
  starts, and refuses one that is an input (or another output), whose suffix does not match its format, or
  whose folder cannot be created or written.
* **All or nothing.** `write_files` writes each file to a temporary file in the destination folder with
  explicit `os.write` calls (a write that makes no progress is a full disk), fsyncs it, and checks that the
  staged file holds exactly the bytes given (a short write the system did not report is caught here); only
  when *every* file of the group is staged does it rename them into place (a rename within one folder is
  atomic). If anything fails (full disk, permissions, Ctrl-C) every temporary file is removed and no
  destination is touched, so a failed command leaves exactly the files that were there before.

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
import stat
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from fusiondp.errors import ConfigError, DataError, FusionDPError, OutputError

_TMP_PREFIX = ".fusiondp-"
_CHUNK = 1 << 20  # bytes per os.write call when staging an output


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def resolve(path: str | Path, what: str = "path") -> Path:
    """`path` made absolute with every symlink followed; a symlink loop is refused (ConfigError)."""
    try:
        return Path(path).expanduser().resolve()
    except (RuntimeError, OSError) as e:  # Python < 3.13 raises RuntimeError for a loop, 3.13 OSError
        raise ConfigError(f"The {what} path {path} cannot be resolved: {_loop_or(e)}.") from None


def _loop_or(e: BaseException) -> str:
    if isinstance(e, RuntimeError) or getattr(e, "errno", None) == errno.ELOOP:
        return "it is a symlink loop"
    return _describe(e) if isinstance(e, OSError) else type(e).__name__


def _same(a: Path, b: Path) -> bool:
    """True when two paths name the same file (resolved, or the same inode when both exist)."""
    if a == b:
        return True
    try:
        sa, sb = os.stat(a), os.stat(b)
    except (OSError, ValueError):
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


# --------------------------------------------------------------------------- the inputs of a run
class _Run:
    """The inputs of one run; see `run_scope`."""

    def __init__(self) -> None:
        self.inputs: dict[Path, str] = {}  # resolved path -> how it was named


_RUNS: list[_Run] = []  # innermost last; a plain list (not a ContextVar) so worker threads see it too


@contextlib.contextmanager
def run_scope(inputs: Iterable[tuple[str, str | Path | None] | str | Path | None] = ()) -> Iterator[None]:
    """Declare a run: while the block runs, no output may be written over any of `inputs` or over any file
    read through `check_input`. Nested scopes add to the outer ones.

    `inputs` holds paths, or (name, path) pairs whose name (an option) the refusal message quotes. A file a
    command reads back from its own output (a checkpoint it resumes from, a results file it appends to) is
    read with ``check_input(..., register=False)``.
    """
    run = _Run()
    for item in inputs:
        name, p = item if isinstance(item, tuple) else (str(item), item)
        if p is not None:
            with contextlib.suppress(FusionDPError):
                run.inputs.setdefault(resolve(p), name)
    _RUNS.append(run)
    try:
        yield
    finally:
        _RUNS.remove(run)


def note_input(path: str | Path, name: str | None = None) -> None:
    """Record `path` as an input of the current run (no-op outside `run_scope`)."""
    if not _RUNS:
        return
    with contextlib.suppress(FusionDPError):
        _RUNS[-1].inputs.setdefault(resolve(path), name or str(path))


def refuse_input(path: str | Path, what: str, inputs: Iterable[str | Path | None] = ()) -> None:
    """Refuse (ConfigError) an output `path` that is an input of the current run or one of `inputs`:
    the same resolved path, or the same file (device and inode) under another name."""
    p = resolve(path, what)
    known = [(q, name) for r in _RUNS for q, name in r.inputs.items()]
    known += [(resolve(q), str(q)) for q in inputs if q is not None]
    for q, name in known:
        if _same(p, q):
            shown = "" if name == str(path) else f" (the input {name})"
            raise ConfigError(f"The {what} path {path} is also an input of this command{shown}; "
                              "writing it would destroy that input.", hint="choose another output path")


def check_input(path: str | Path, *, what: str, error: type[FusionDPError] = DataError,
                kind: str = "file", register: bool = True) -> Path:
    """Check an input file before it is opened and (`register`) record it as an input of the run; returns it.

    Refused with `error`: a missing path, a folder, a symlink loop, and anything that is not a regular file
    (a FIFO with no writer would block the command forever; a device could be endless).
    """
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise error(f"{what} {kind} not found: {path}") from None
    except (RuntimeError, OSError) as e:
        raise error(f"Cannot read {what} {kind} {path}: {_loop_or(e)}.") from None
    if stat.S_ISDIR(st.st_mode):
        raise error(f"{what} path {path} is a folder, not a {kind}.")
    if not stat.S_ISREG(st.st_mode):
        kind_of = ("a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode)
                   else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else "not a regular file")
        raise error(f"{what} path {path} is {kind_of}, not a regular file; it was not opened.",
                    hint="give a regular file (copy the data into one)")
    if register:
        note_input(path, what)
    return path


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
    p = resolve(path, what)
    allowed = [s.lower() for s in suffixes]
    if p.is_dir():
        raise ConfigError(f"The {what} path {path} is a folder; give a file name.")
    if allowed and p.suffix.lower() not in allowed:
        raise ConfigError(f"The {what} path {path} should end with {' or '.join(allowed)}.",
                          hint=f"for example {p.with_suffix(allowed[0]).name}")
    refuse_input(path, what, inputs)
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
        short = str(e.strerror or "")
        return "no space left on the device" + (f" ({short})" if short.startswith("short write") else "")
    if e.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if e.errno == errno.EROFS:
        return "read-only file system"
    return e.strerror or type(e).__name__


def _write_all(fd: int, data: bytes) -> None:
    """Write every byte of `data` to `fd`, however the system splits the writes; a write that makes no
    progress is a full disk (ENOSPC), never a silent short file."""
    view = memoryview(data)
    while view:
        n = os.write(fd, view[:_CHUNK])
        if n <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[n:]


def _stage(path: Path, data: bytes) -> Path:
    """Write `data` to a new temporary file next to `path`, fsync it and check it holds exactly `data`'s
    length; returns the temporary path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=_TMP_PREFIX + path.name + ".", suffix=".tmp", dir=path.parent)
    tmp = Path(name)
    try:
        try:
            _write_all(fd, data)
            os.fsync(fd)
            size = os.fstat(fd).st_size
        finally:
            os.close(fd)
        if size != len(data):  # the system accepted the writes but the file is short (a full disk it hid)
            raise OSError(errno.ENOSPC, f"short write: {size} of {len(data)} bytes reached the disk")
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
        ConfigError: a path is an input of the current run (`run_scope`); nothing is written.
        OutputError: a file could not be written (nothing of the group is left behind).
    """
    for path in files:  # never over an input of the run (checked before anything is written)
        refuse_input(path, "output")
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
        if isinstance(e, RuntimeError) and "ymlink loop" in str(e):  # Python < 3.13: a loop in a folder path
            raise OutputError(f"Cannot write {current}: a symlink loop; nothing was written.") from e
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
