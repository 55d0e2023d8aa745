"""Issue 14: every row of `cases.CASES` gets its exit code, one `error:` line without a traceback,
byte-identical inputs and exactly the expected files afterwards (see cases.py for the table)."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import cases as C  # noqa: E402
from interrupts import sigint_raises  # noqa: E402

from fusiondp.cli.app import run_cli  # noqa: E402
from fusiondp.errors import FusionDPError  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def _snapshot(folder: Path) -> dict[str, str]:
    """Relative path → SHA-256 of every file under `folder` (temporary files included); a symbolic link is
    recorded by its target (its content is the target's, recorded under the target's own name)."""
    return {str(p.relative_to(folder)): hashlib.sha256(
        b"link:" + os.readlink(p).encode() if p.is_symlink() else p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_symlink() or p.is_file()}


@contextlib.contextmanager
def _chdir(folder: Path):
    old = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(old)


@contextlib.contextmanager
def interrupt_after_first_save():
    """Send this process SIGINT right after the first checkpoint is written (a real signal, not a raise)."""
    from fusiondp.train import checkpoint

    real = checkpoint.save

    def save(*args, **kwargs):
        real(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGINT)

    checkpoint.save = save
    try:
        with sigint_raises():
            yield
    finally:
        checkpoint.save = real


@pytest.fixture(scope="session")
def kit(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("kit")
    with _chdir(folder):
        C.build_kit(folder, run_cli)
        C.build_partial_checkpoint(folder, run_cli, interrupt_after_first_save)
    assert sorted(p.name for p in folder.iterdir()) == sorted(C.KIT_FILES)
    return folder


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _enospc_at(monkeypatch, n: int) -> None:
    """The disk fills while the n-th file of a write group is staged."""
    import fusiondp._files as files

    real, calls = files._stage, []

    def stage(path, data):
        calls.append(path)
        if len(calls) == n:
            _enospc()
        return real(path, data)

    monkeypatch.setattr(files, "_stage", stage)


def _apply_fault(fault: str | None, monkeypatch, folder: Path) -> contextlib.AbstractContextManager:
    """Install the row's fault; returns a context manager active while the command runs."""
    import fusiondp._files as files

    if fault == "enospc":  # the disk fills while the output is being written: its fsync fails
        monkeypatch.setattr(os, "fsync", _enospc)
    elif fault == "enospc_third":  # the third file of a group (the model, after report JSON and HTML) fails
        _enospc_at(monkeypatch, 3)
    elif fault == "sigint_write":
        real = files._stage

        def stage(path, data):
            tmp = real(path, data)
            os.kill(os.getpid(), signal.SIGINT)
            return tmp

        monkeypatch.setattr(files, "_stage", stage)
        return sigint_raises()
    elif fault == "sigint_train":
        return interrupt_after_first_save()
    elif fault == "forbid_training":
        import fusiondp.pipeline as pipeline

        def forbidden(*a, **k):
            raise AssertionError("training started before the outputs were checked")

        monkeypatch.setattr(pipeline, "train", forbidden)
    elif fault == "symlink":
        (folder / "link.csv").symlink_to(folder / "support.csv")
    elif fault == "symlink_loop":
        (folder / "loop.csv").symlink_to("loop.csv")
    elif fault == "enospc_second":  # the second file of a group (an audit's HTML page, after its JSON) fails
        _enospc_at(monkeypatch, 2)
    elif fault == "short_write":  # the disk keeps only half of the output and reports no error
        real_fsync = os.fsync

        def fsync(fd):
            size = os.fstat(fd).st_size
            if size > 1:
                os.ftruncate(fd, size // 2)
            return real_fsync(fd)

        monkeypatch.setattr(os, "fsync", fsync)
    elif fault == "fifo":
        return _fifo_watchdog(folder / "fifo")
    elif fault == "hardlink":
        os.link(folder / "model.safetensors", folder / "m.html")
    return contextlib.nullcontext()


@contextlib.contextmanager
def _fifo_watchdog(path: Path, after: float = 30.0):
    """A FIFO with no writer at `path`; should the command block on it, a writer opens it after `after`
    seconds (so the test ends) and the test fails."""
    import threading

    os.mkfifo(path)
    done, fired = threading.Event(), []

    def unblock():
        if not done.wait(after):
            fired.append(True)
            with open(path, "wb"):
                pass

    t = threading.Thread(target=unblock, daemon=True)
    t.start()
    try:
        yield
    finally:
        done.set()
        t.join()
        assert not fired, "the command blocked on the FIFO"


@contextlib.contextmanager
def _tmpfs(where: Path, *, fill: bool):
    """A 64 KiB tmpfs mounted at `where` (filled up when `fill`); the row is skipped where mounting is not
    permitted."""
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(where)], capture_output=True)
    if done.returncode != 0:
        where.rmdir()
        pytest.skip("cannot mount a tmpfs here (needs root): " + done.stderr.decode(errors="replace").strip())
    try:
        if fill:
            fd = os.open(where / "fill", os.O_WRONLY | os.O_CREAT)
            try:
                with contextlib.suppress(OSError):
                    while os.write(fd, b"\0" * 4096):
                        pass
            finally:
                os.close(fd)
        yield
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)
        with contextlib.suppress(OSError):
            where.rmdir()


def _sigkill_then_resume(case: C.Case, folder: Path) -> None:
    """Run the command in a subprocess, SIGKILL it once its first checkpoint exists, check nothing else was
    written, then let the row's in-process run resume it."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    # Slow each step a little so the run cannot finish before the kill.
    code = ("import time, fusiondp.train.core as c; real = c.FeatureDPEngine.backward\n"
            "def backward(self, *a, **k):\n    time.sleep(0.3); return real(self, *a, **k)\n"
            "c.FeatureDPEngine.backward = backward\nfrom fusiondp.cli.app import run_cli; import sys; sys.exit(run_cli(sys.argv[1:]))")
    proc = subprocess.Popen([sys.executable, "-c", code, *case.argv], cwd=folder, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while not (folder / "k.ckpt").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    left = set(_snapshot(folder))
    assert "k.ckpt" in left and "run.json" not in left and not any("tmp" in p for p in left), left


@pytest.mark.parametrize("case", C.CASES, ids=[c.id for c in C.CASES])
def test_case(case: C.Case, kit: Path, tmp_path: Path, monkeypatch, capsys):
    folder = tmp_path / "work"
    folder.mkdir()
    for name in case.kit:
        shutil.copy(kit / name, folder / name)
    for name, build in case.files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(build(kit))

    if case.api is not None:
        before = _snapshot(folder)
        with _chdir(folder), pytest.raises(FusionDPError) as info:
            case.api()
        assert case.message in str(info.value), str(info.value)
        assert "np.float64" not in str(info.value) and "PWNED" not in _snapshot(folder)
        assert _snapshot(folder) == before, "an API call that failed changed the files"
        return

    if case.fault == "sigkill":
        _sigkill_then_resume(case, folder)
    disk = (_tmpfs(folder / "full", fill=case.fault == "tmpfs_full") if case.fault in ("tmpfs_64k", "tmpfs_full")
            else contextlib.nullcontext())
    with disk:
        before = _snapshot(folder)
        ctx = _apply_fault(case.fault, monkeypatch, folder)
        if case.fault in ("symlink", "symlink_loop", "hardlink"):
            before = _snapshot(folder)
        capsys.readouterr()
        with _chdir(folder), ctx:
            code = run_cli(case.argv)
        out, err = capsys.readouterr()
        monkeypatch.undo()
        after = _snapshot(folder)

    assert code == case.code, f"exit {code}, expected {case.code}\nstdout: {out}\nstderr: {err}"
    assert "Traceback" not in out + err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    if case.code != 0:
        errors = [ln for ln in lines if ln.startswith("error:")]
        hints = [ln for ln in lines if ln.startswith("hint:")]
        others = [ln for ln in lines if not ln.startswith(("error:", "hint:", "warning:"))]
        assert len(errors) == 1 and len(hints) <= 1 and not others, err
        assert case.message in errors[0], err
        if case.hint:
            assert hints and case.hint in hints[0], err
        assert "np.float64" not in err
    else:
        assert case.message in out + err, out + err
    for name, digest in before.items():  # every input byte-identical (or, for a resumed checkpoint, still there)
        assert name in after, f"{name} disappeared"
        if name not in case.changed:
            assert after[name] == digest, f"{name} was modified"
    assert set(after) == set(before) | set(case.new), f"files afterwards: {sorted(set(after) - set(before))}"


def test_table_size():
    """Issue 14 asks for at least 60 rows, every issue section represented."""
    assert len(C.CASES) >= 60 and len({c.id for c in C.CASES}) == len(C.CASES)
    assert {c.group for c in C.CASES} >= {"checkpoint", "model file", "outputs", "atomic", "calibration", "silent",
                                           "traceback", "rough", "handled"}
