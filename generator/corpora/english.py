"""The embedded default verse corpus: English public-domain poems shipped inside the package.

`data/english-verse.zip` (built by `tools/build_verse_corpus.py`; sources in `data/README.md`)
holds the poems in files of about 20,000 characters. The first use extracts them into the
cache folder, so that they are read like a user's folder of poems and a run holds out whole
files for validation.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from hashlib import sha256
from pathlib import Path

from generator.errors import GenError

ARCHIVE = Path(__file__).with_name("data") / "english-verse.zip"


def english_verse_files(cache_dir: Path, limit: int | None = None) -> list[Path]:
    """The corpus's text files (the first `limit` of them), extracted on first use into a
    cache folder named by the archive's digest, so a rebuilt archive is extracted anew."""
    from generator.cache import writable_folder

    if not ARCHIVE.exists():
        raise GenError(f"the built-in English verse corpus is missing ({ARCHIVE}); reinstall gen")
    digest = sha256(ARCHIVE.read_bytes()).hexdigest()[:12]
    folder = Path(cache_dir) / f"english-verse-{digest}"
    if not folder.is_dir():
        parent = writable_folder(Path(cache_dir))
        work = Path(tempfile.mkdtemp(prefix=".english-verse-", dir=parent))
        try:
            with zipfile.ZipFile(ARCHIVE) as archive:
                archive.extractall(work)
            work.rename(folder)  # whole or not at all, even with two runs starting at once
        except (OSError, zipfile.BadZipFile) as exc:
            if not folder.is_dir():  # not another run's extraction that came first
                raise GenError(f"cannot extract the built-in English verse: {exc}") from None
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return sorted(folder.glob("*.txt"))[:limit]
