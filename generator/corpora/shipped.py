"""Corpora shipped inside the package as zip archives, extracted on first use.

Each archive is extracted into a cache folder named by its digest, so that its files are read
like a user's folder (and a run can hold out whole files), and a rebuilt archive is extracted
anew.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from hashlib import sha256
from pathlib import Path

from generator.errors import GenError


def extracted(archive: Path, cache_dir: Path, label: str) -> list[Path]:
    """The archive's files, extracted into `cache_dir` if they are not there yet, in the
    archive's own order (which its build script chose)."""
    from generator.cache import writable_folder

    if not archive.exists():
        raise GenError(f"the built-in {label} corpus is missing ({archive}); reinstall gen")
    digest = sha256(archive.read_bytes()).hexdigest()[:12]
    folder = Path(cache_dir) / f"{archive.stem}-{digest}"
    try:
        with zipfile.ZipFile(archive) as zipped:
            names = [n for n in zipped.namelist() if not n.endswith("/")]
            if not folder.is_dir():
                _extract(zipped, folder, writable_folder(Path(cache_dir)), label)
    except (OSError, zipfile.BadZipFile) as exc:
        raise GenError(f"cannot extract the built-in {label} corpus: {exc}") from None
    return [folder / n for n in names]


def _extract(zipped: zipfile.ZipFile, folder: Path, parent: Path, label: str) -> None:
    """Extract into a temporary folder renamed into place: whole or not at all, even with
    two runs starting at once."""
    work = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=parent))
    try:
        zipped.extractall(work)
        work.rename(folder)
    except OSError as exc:
        if not folder.is_dir():  # not another run's extraction that came first
            raise GenError(f"cannot extract the built-in {label} corpus: {exc}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
