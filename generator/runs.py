"""The checkpoints folder: a new run folder with room for its files, and the latest run."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from generator.checkpoint import CONFIG, created_time
from generator.errors import GenError

# A run folder holds best + last weights and resume.h5 (weights + Adam's two moments): five
# copies of the parameters, and a sixth while one file is rewritten. Ask for twice that free.
SPACE_COPIES = 12


def check_space(run_dir: Path, num_params: int) -> None:
    """Refuse to start training where the checkpoints would not fit on the disk."""
    need = num_params * 4 * SPACE_COPIES + 2**20
    free = shutil.disk_usage(run_dir).free
    if free < need:
        raise GenError(
            f"only {free / 2**20:.1f} MB free for checkpoints in '{run_dir}'; a model of "
            f"{num_params:,} parameters needs about {need / 2**20:.1f} MB there"
        )


def new_run_dir(root: Path, corpus_name: str, run: str | None = None) -> Path:
    """A new, empty run folder under `root`: `run` if given, else `<corpus>-<date>-<time>`."""
    root = Path(root)
    name = run or f"{corpus_name}-{time.strftime('%Y%m%d-%H%M%S')}"
    path = root / name
    if path.exists() and not path.is_dir():
        raise GenError(f"'{path}' exists and is not a folder; choose another --run name")
    if path.exists() and any(path.iterdir()):
        if run:
            raise GenError(f"run folder '{path}' already exists; choose another --run name")
        path = root / f"{name}-{os.getpid()}"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GenError(f"cannot create checkpoint folder '{path}': {exc.strerror}") from None
    if not os.access(path, os.W_OK):
        raise GenError(f"checkpoint folder '{path}' is not writable")
    return path


def latest_run(root: Path) -> Path:
    """The most recently created run under `root`."""
    root = Path(root)
    runs = [p.parent for p in root.glob(f"*/{CONFIG}")] if root.is_dir() else []
    if not runs:
        raise GenError(f"no trained model in '{root}'; run `gen train` first or give --checkpoint")
    return max(runs, key=lambda run: (created_time(run), run.stat().st_mtime))
