"""resume.h5, where a training run stands, and the lock of the process training a run.

resume.h5 holds every model variable (weights, and the dropout layers' random-generator state),
every optimiser variable (step count, Adam's moments) and the run's state as JSON (step, epoch,
metrics) in one file, written atomically, so they can never disagree. Arrays are plain HDF5
with a checksum each: loading never runs code, and a damaged file fails to load.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from generator.checkpoint import WEIGHTS, writing
from generator.errors import GenError

RESUME, RESUME_FORMAT = "resume.h5", "gen-resume/1"
LOCK = ".lock"  # held by the process training the run


@contextmanager
def locked(run_dir: Path) -> Iterator[None]:
    """Hold the run folder for this process: a second `gen train --resume` of the same run
    (or one started while the first still saves) is refused instead of writing over it."""
    import fcntl

    path = Path(run_dir) / LOCK
    with open(path, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            raise GenError(
                f"run folder '{run_dir}' is in use by another gen process "
                f"(pid {lock.read().strip() or '?'})"
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        try:
            yield
        finally:
            path.unlink(missing_ok=True)


def save_resume(model, run_dir: Path, state: dict) -> None:
    """Write resume.h5 atomically: every model variable (weights, and the dropout layers'
    random-generator state), every optimiser variable (step count, Adam's moments) and
    `state` (JSON: step, epoch, metrics) in one file, so they can never disagree."""
    import h5py

    with writing(Path(run_dir) / RESUME) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["format"] = RESUME_FORMAT
        f.attrs["state"] = json.dumps(state)
        for group, variables in (
            ("model", model.variables),
            ("optimizer", model.optimizer.variables),
        ):
            g = f.create_group(group)
            for i, variable in enumerate(variables):
                # a checksum per array: a damaged file fails to load instead of training on
                data = np.asarray(variable)
                stored = g.create_dataset(f"{i:04d}", data=data, fletcher32=data.ndim > 0)
                stored.attrs["path"] = variable.path


def _open_resume(run_dir: Path):
    """resume.h5 opened for reading, its format checked."""
    import h5py

    path = Path(run_dir) / RESUME
    if not path.exists():
        has_weights = any((Path(run_dir) / w).exists() for w in WEIGHTS.values())
        raise GenError(
            f"'{run_dir}' has no {RESUME}: "
            + (
                "it was written before gen could resume; start a new run from its weights "
                "with --init-from"
                if has_weights
                else "it stopped before its first checkpoint; start it again"
            )
        )
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise GenError(f"'{path}' is not readable: {exc}") from None
    if f.attrs.get("format") != RESUME_FORMAT:
        f.close()
        raise GenError(f"'{path}' is not of format {RESUME_FORMAT}")
    return f


def _layer_path(path: str) -> str:
    """A variable's path without the process-wide counter Keras puts in the names of random
    generators and optimisers ("seed_generator_3/seed_generator_state", "adam_1/iteration")."""
    return re.sub(r"^(seed_generator|adam)_\d+/", r"\1/", path)


@contextmanager
def _reading_resume(run_dir: Path):
    """resume.h5 open for reading; any damage found on the way is one `GenError`."""
    with _open_resume(run_dir) as f:
        try:
            yield f
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise GenError(
                f"'{Path(run_dir) / RESUME}' is damaged ({exc}); start a new run from the "
                f"run's weights with --init-from {run_dir}"
            ) from None


def resume_state(run_dir: Path) -> dict:
    """The JSON state stored in a run's resume.h5 (step, epoch, metrics), without weights."""
    with _reading_resume(run_dir) as f:
        return json.loads(f.attrs["state"])


def load_resume(model, run_dir: Path) -> dict:
    """Restore the model's and its (built) optimiser's variables from resume.h5; its state."""
    with _reading_resume(run_dir) as f:
        for group, variables in (
            ("model", model.variables),
            ("optimizer", model.optimizer.variables),
        ):
            stored = f[group]
            if len(stored) != len(variables):
                raise GenError(f"{RESUME} in '{run_dir}' does not fit the run's model")
            for i, variable in enumerate(variables):
                data = stored[f"{i:04d}"]
                name, shape = _layer_path(data.attrs["path"]), data.shape
                if name != _layer_path(variable.path) or shape != tuple(variable.shape):
                    raise GenError(
                        f"{RESUME} in '{run_dir}' does not fit the run's model "
                        f"({name} {shape} for {variable.path})"
                    )
                variable.assign(data[()])
        return json.loads(f.attrs["state"])
