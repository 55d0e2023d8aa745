"""Test helper: make SIGINT raise KeyboardInterrupt while a test sends it."""

from __future__ import annotations

import contextlib
import signal


@contextlib.contextmanager
def sigint_raises():
    """SIGINT raises KeyboardInterrupt for the duration, as in a terminal. A shell starts background jobs
    with SIGINT ignored, and Python then keeps it ignored, so a test run launched with `cmd &` would
    otherwise never see the signals these tests send."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)
