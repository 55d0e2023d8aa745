"""An interrupt that the kernel hands to a worker thread still leaves no temporary file behind.

A signal mask is per thread: with a forest's thread pool alive, SIGINT may land on a thread that does not block
it, and Python then raises KeyboardInterrupt in the main thread, possibly between creating a temporary file and
recording it for clean-up. `fusiondp._files` defers the signals with a recording handler instead.
"""

from __future__ import annotations

import signal
import threading
import time

import pytest

import fusiondp._files as files
from interrupts import sigint_raises


def test_interrupt_delivered_to_another_thread_leaves_no_temporary_file(tmp_path, monkeypatch):
    stop = threading.Event()
    worker = threading.Thread(target=stop.wait, daemon=True)
    worker.start()
    real = files._stage

    def stage(path, data):
        tmp = real(path, data)
        signal.pthread_kill(worker.ident, signal.SIGINT)  # the worker does not block SIGINT
        time.sleep(0.05)  # the main thread passes a few checks for pending signals here
        return tmp

    monkeypatch.setattr(files, "_stage", stage)
    try:
        with sigint_raises(), pytest.raises(KeyboardInterrupt):
            files.write_files({tmp_path / "out" / "a.txt": b"x", tmp_path / "out" / "b.txt": b"y"})
    finally:
        stop.set()
        worker.join()
    assert sorted(p.name for p in tmp_path.rglob("*")) == []  # no temporary file, no half-made folder
