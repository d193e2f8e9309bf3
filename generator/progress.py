"""Reporting long work: a `Reporter` that library code is handed, with informational lines,
warnings, progress bars, and a parallel map that shows one.

Bars go to standard error and show the position, the rate and the time left. A quiet reporter
(`gen --quiet`) draws no bars and prints only warnings, on standard error, so that a script's
standard output stays clean.
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
RATE_AFTER_SECONDS = 0.5  # a rate measured over less time than this is mostly noise


def format_duration(seconds: float) -> str:
    """12 s, 3 min 05 s, 2 h 07 min: short enough for the end of a bar."""
    seconds = math.ceil(seconds)  # "0 s left" while work remains would be wrong
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class _NoBar:
    """What a bar is when it is not drawn: it counts nothing and draws nothing."""

    def __init__(self, items: Iterable):
        self.items = items

    def __iter__(self):
        return iter(self.items)

    def update(self, steps: int) -> None:
        pass


@contextmanager
def _click_bar(length: int, label: str, unit: str, items: Iterable | None):
    """A click progress bar on standard error with the position, `unit`s per second and the
    time left (click's own ETA has no rate beside it and waits a second before it shows)."""
    bar = None

    def rate_and_eta(_item) -> str | None:
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


class Reporter:
    """Where library code reports. Calling it prints an informational line (dropped when
    `quiet`, except warnings); `warn` always prints, on standard error when quiet; `bar` and
    `map` show progress unless quiet. `err` sends every line to standard error (for commands
    whose standard output is their result). `echo(line, err)` prints a line; without `bars`
    (lines kept for a page, say) no bar is drawn."""

    def __init__(
        self, quiet: bool = False, err: bool = False, echo: Callable | None = None, bars=True
    ):
        self.quiet, self.err, self.bars = quiet, err, bars
        self.echo = echo or (lambda line, err: click.echo(line, err=err))

    @classmethod
    def of(cls, log) -> Reporter:
        """`log` if it is a Reporter, else one that prints through the function `log`."""
        if log is None or isinstance(log, Reporter):
            return log or cls()
        return cls(echo=lambda line, err: log(line))

    def __call__(self, line: str) -> None:
        if line.startswith("warning"):
            self.warn(line)
        elif not self.quiet:
            self.echo(line, self.err)

    def warn(self, line: str) -> None:
        self.echo(line, self.err or self.quiet)

    @contextmanager
    def bar(self, length: int, label: str, unit: str = "items", items=None, hide_below=0):
        """A progress bar over `items` (or updated by hand with `update(n)`); none when
        quiet or when `length` is below `hide_below`."""
        if self.quiet or not self.bars or length < hide_below:
            yield _NoBar(items if items is not None else range(length))
            return
        with _click_bar(length, label, unit, items) as bar:
            yield bar

    def map(
        self, func: Callable, items: list, label: str, workers=None, min_items=None, unit="files"
    ):
        """`[func(x) for x in items]` under a progress bar, across processes when there are at
        least `min_items`. `func` must be a picklable module-level function. Worker processes
        are started fresh ("spawn") so that nothing already imported in this process
        (TensorFlow's threads) is forked."""
        workers = worker_count() if workers is None else workers
        min_items = PARALLEL_MIN_ITEMS if min_items is None else min_items
        with self.bar(len(items), label, unit) as bar:
            if workers <= 1 or len(items) < max(2, min_items):
                results = []
                for item in items:
                    results.append(func(item))
                    bar.update(1)
                return results
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                results = []
                chunk = max(1, len(items) // (workers * 8))
                for result in pool.map(func, items, chunksize=chunk):
                    results.append(result)
                    bar.update(1)
                return results
