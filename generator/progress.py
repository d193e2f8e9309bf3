"""Progress bars and a parallel map that shows one, for long work (encoding, conversion).

Bars go to standard error, show the position, the rate and the time left, and are not drawn at
all under `gen --quiet` (which sets `GEN_QUIET`, so that scripts can also set it themselves).
"""

from __future__ import annotations

import math
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager

import click

PARALLEL_MIN_ITEMS = 16  # below this, starting worker processes costs more than it saves
QUIET_ENV = "GEN_QUIET"  # set (not "0") by `gen --quiet`: no progress bars, no chatter
RATE_AFTER_SECONDS = 0.5  # a rate measured over less time than this is mostly noise


def quiet() -> bool:
    """Whether progress bars and informational lines are silenced (`gen --quiet`)."""
    return os.environ.get(QUIET_ENV, "") not in ("", "0")


def format_duration(seconds: float) -> str:
    """12 s, 3 min 05 s, 2 h 07 min: short enough for the end of a bar."""
    seconds = math.ceil(seconds)  # "0 s left" while work remains would be wrong
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class _NoBar:
    """What a bar is under --quiet: it counts nothing and draws nothing."""

    def __init__(self, items: Iterable):
        self.items = items

    def __iter__(self):
        return iter(self.items)

    def update(self, steps: int) -> None:
        pass


@contextmanager
def progress_bar(length: int, label: str, unit: str = "items", items: Iterable | None = None):
    """A click progress bar over `items` (or updated by hand) on standard error, with the
    position, `unit`s per second and the time left; a bar that draws nothing under --quiet."""
    if quiet():
        yield _NoBar(items if items is not None else range(length))
        return
    bar = None

    def rate_and_eta(_item) -> str | None:
        # click's own ETA has no rate beside it and waits a second before it shows
        elapsed = time.time() - bar.start
        if not bar.pos or elapsed < RATE_AFTER_SECONDS:
            return None
        rate = bar.pos / elapsed
        left = f", {format_duration((length - bar.pos) / rate)} left" if bar.pos < length else ""
        return f"{rate:,.1f} {unit}/s{left}"

    bar = click.progressbar(
        items,
        length=length,
        label=label,
        file=sys.stderr,
        show_pos=True,
        show_eta=False,
        item_show_func=rate_and_eta,
    )
    with bar:
        yield bar


def worker_count() -> int:
    """Worker processes to use: the cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def map_with_progress(
    func: Callable,
    items: list,
    label: str,
    workers: int | None = None,
    min_items: int = PARALLEL_MIN_ITEMS,
    unit: str = "files",
) -> list:
    """`[func(x) for x in items]`, across processes when there are at least `min_items`, with
    a progress bar.

    `func` must be a picklable module-level function. Worker processes are started fresh
    ("spawn") so that nothing already imported in this process (TensorFlow's threads) is forked.
    """
    workers = worker_count() if workers is None else workers
    with progress_bar(len(items), label, unit) as bar:
        if workers <= 1 or len(items) < max(2, min_items):
            results = []
            for item in items:
                results.append(func(item))
                bar.update(1)
            return results
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            results = []
            for result in pool.map(func, items, chunksize=max(1, len(items) // (workers * 8))):
                results.append(result)
                bar.update(1)
            return results


def iterate_with_progress(items: Iterable, length: int, label: str, unit: str = "items"):
    """Iterate `items` under a progress bar (only its label when stderr is not a terminal,
    nothing under --quiet)."""
    with progress_bar(length, label, unit, items) as bar:
        yield from bar
