"""Atomic file writes: write to a temporary name beside the target, then rename.

A crash at any moment leaves either the previous file or the new one, never half a file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path in `path`'s folder with `path`'s suffixes (writers such as Keras
    and music21 choose the format by suffix); on success it replaces `path`, on failure it is
    removed."""
    path = Path(path)
    suffixes = "".join(path.suffixes)
    stem = path.name[: len(path.name) - len(suffixes)]
    tmp = path.with_name(f".{stem}.tmp{os.getpid()}{suffixes}")
    try:
        yield tmp
        _sync(tmp)  # the new contents are on the disk before the name points at them
        os.replace(tmp, path)
        _sync(path.parent)  # and so is the rename
    finally:
        if tmp.exists():
            tmp.unlink()


def check_target(path: Path | str, force: bool = False) -> Path:
    """`path` as a file that may be written: not a folder, not an existing file unless
    `force`, in a folder that exists and is writable; a `GenError` saying which if not."""
    from generator.errors import GenError

    path = Path(path)
    if path.is_dir():
        raise GenError(f"--out '{path}' is a folder; give a file name")
    if path.exists() and not force:
        raise GenError(f"{path} already exists; use --force to overwrite")
    if not path.parent.is_dir():
        raise GenError(f"output folder '{path.parent}' does not exist")
    if not os.access(path.parent, os.W_OK):
        raise GenError(f"output folder '{path.parent}' is not writable")
    return path


def _sync(path: Path) -> None:
    """fsync a file or folder, so a power cut cannot leave a renamed but empty file."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems cannot sync folders
        pass
    finally:
        os.close(fd)


def write_text(path: Path | str, text: str) -> None:
    """Write UTF-8 text to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_figure(figure, path: Path | str) -> None:
    """Lay out a matplotlib figure and save it to `path` atomically, in the format its suffix
    names."""
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp)


def remove_leftovers(folder: Path | str) -> list[Path]:
    """Remove the temporary files that processes killed mid-write (kill -9, power loss) left
    in `folder`; files of processes still running are kept. Returns what was removed."""
    removed = []
    for path in Path(folder).glob(".*.tmp*"):
        match = re.fullmatch(r"\..+\.tmp(\d+)(\..*)?", path.name)
        if match is None or _running(int(match.group(1))):
            continue
        path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def _running(pid: int) -> bool:
    """Whether process `pid` is alive. This process counts as dead: it cleans up before it
    writes, so a file with its number comes from an earlier process that had the same pid."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True
