"""Work the page asks for, off the server's event loop: a bounded queue of worker threads, and
the models it keeps loaded between requests.

Sampling runs on one worker thread at a time (two cores are not shared faster), with at most
`WAITING` jobs queued behind it; a request beyond that is refused as busy rather than left to
pile up. Loaded samplers are kept per run and weights, and loaded again when the weights file
changes (a run trained further since).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

WORKERS = 1  # sampling jobs at once
WAITING = 32  # sampling jobs queued behind them before requests are refused as busy
MODELS = 2  # samplers kept loaded


class Busy(Exception):
    """The queue is full: the request is refused, nothing was started."""


class Queue:
    """A thread pool that takes at most `workers + waiting` jobs at once."""

    def __init__(self, workers: int = WORKERS, waiting: int = WAITING):
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gen-studio")
        self.limit, self.taken = workers + waiting, 0
        self.lock = threading.Lock()

    def submit(self, job, *args) -> None:
        """Run `job(*args)` on a worker; `Busy` if the queue is full."""
        with self.lock:
            if self.taken >= self.limit:
                raise Busy(f"busy: {self.taken} jobs are running or waiting; try again shortly")
            self.taken += 1
        try:
            future = self.pool.submit(job, *args)
        except RuntimeError:  # the pool is shutting down
            self._done(None)
            raise Busy("busy: the studio is shutting down") from None
        future.add_done_callback(self._done)

    def _done(self, _future) -> None:
        with self.lock:
            self.taken -= 1

    @property
    def load(self) -> int:
        return self.taken

    def shutdown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


class Models:
    """Samplers kept loaded, the least recently used dropped past `MODELS`."""

    def __init__(self, size: int = MODELS):
        self.size, self.kept = size, OrderedDict()
        self.lock = threading.Lock()

    def sampler(self, ckpt, weights: str):
        """A `Sampler` of checkpoint `ckpt` with its `weights`, loaded once per weights file."""
        from generator.sample import Sampler

        path = Path(ckpt.weights_path(weights))
        key = (str(Path(ckpt.path).resolve()), weights)
        stamp = path.stat().st_mtime_ns if path.exists() else None
        with self.lock:
            kept = self.kept.get(key)
            if kept is not None and kept[0] == stamp:
                self.kept.move_to_end(key)
                return kept[1]
        sampler = Sampler(ckpt, weights)  # outside the lock: loading takes seconds
        with self.lock:
            self.kept[key] = (stamp, sampler)
            self.kept.move_to_end(key)
            while len(self.kept) > self.size:
                self.kept.popitem(last=False)
        return sampler
