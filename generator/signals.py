"""Ctrl-C and SIGTERM during training: noted, so that the step in progress finishes and a
checkpoint is saved before the run stops; a second Ctrl-C stops at once."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

SIGNAL_NAMES = {signal.SIGINT: "Ctrl-C (SIGINT)", signal.SIGTERM: "SIGTERM"}


@contextmanager
def caught_signals(log) -> Iterator[dict]:
    """While inside, SIGINT and SIGTERM are noted in the yielded dict ("signum") instead of
    stopping the process; a second Ctrl-C stops at once. Only the main thread can do this."""
    caught = {"signum": None}
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return

    def note(signum, frame):
        if caught["signum"] is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: the user does not want to wait
        caught["signum"] = signum
        log(f"{SIGNAL_NAMES[signum]}: saving a checkpoint after this step (Ctrl-C again quits)")

    previous = {s: signal.signal(s, note) for s in SIGNAL_NAMES}
    try:
        yield caught
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
