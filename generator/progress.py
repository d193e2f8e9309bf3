"""Progress bars and a parallel map that shows one, for long work (encoding, conversion)."""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor

import click

PARALLEL_MIN_ITEMS = 16  # below this, starting worker processes costs more than it saves


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
) -> list:
    """`[func(x) for x in items]`, across processes when there are at least `min_items`, with
    a progress bar.

    `func` must be a picklable module-level function. Worker processes are started fresh
    ("spawn") so that nothing already imported in this process (TensorFlow's threads) is forked.
    """
    workers = worker_count() if workers is None else workers
    with click.progressbar(length=len(items), label=label, file=sys.stderr, show_pos=True) as bar:
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


def iterate_with_progress(items: Iterable, length: int, label: str):
    """Iterate `items` under a progress bar (hidden when stderr is not a terminal)."""
    with click.progressbar(items, length=length, label=label, file=sys.stderr) as bar:
        yield from bar
