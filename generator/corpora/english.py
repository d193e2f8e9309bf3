"""The embedded default verse corpus: English public-domain poems shipped inside the package.

`data/english-verse.zip` (built by `tools/build_verse_corpus.py`; sources in `data/README.md`)
holds the poems in files of about 20,000 characters. The first use extracts them into the
cache folder, so that they are read like a user's folder of poems and a run holds out whole
files for validation.
"""

from __future__ import annotations

from pathlib import Path

from generator.corpora import shipped

ARCHIVE = Path(__file__).with_name("data") / "english-verse.zip"


def english_verse_files(cache_dir: Path, limit: int | None = None) -> list[Path]:
    """The corpus's text files (the first `limit` of them), extracted on first use."""
    files = sorted(
        f for f in shipped.extracted(ARCHIVE, cache_dir, "English verse") if f.suffix == ".txt"
    )
    return files[:limit]
