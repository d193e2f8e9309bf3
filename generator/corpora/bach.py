"""The embedded default music corpus: the Bach chorales that ship inside music21.

They are MusicXML (and a few kern) files; the first use converts each to MIDI with music21, in
parallel, into the cache folder, so that the default corpus goes through exactly the same MIDI
path as a user's files. Later uses find the converted files there.
"""

from __future__ import annotations

import os
from pathlib import Path

from generator.errors import GenError
from generator.progress import map_with_progress

SCORE_SUFFIXES = (".mxl", ".xml", ".musicxml", ".krn")  # not the .rntxt harmonic analyses


def chorale_paths() -> list[Path]:
    """Paths of the Bach chorale scores in music21's bundled corpus."""
    from music21 import corpus

    paths = sorted(Path(p) for p in corpus.getComposer("bach"))
    paths = [p for p in paths if p.suffix.lower() in SCORE_SUFFIXES]
    if not paths:
        raise GenError("music21's bundled corpus has no Bach chorales; reinstall music21")
    return paths


def _convert(job: tuple[str, str]) -> str | None:
    """Write one score as MIDI; returns an error message or None. Runs in a worker process."""
    source, target = job
    try:
        from music21 import converter

        score = converter.parse(source)
        tmp = f"{target}.tmp{os.getpid()}.mid"
        score.write("midi", fp=tmp)
        os.replace(tmp, target)
        return None
    except Exception as exc:  # one bad score must not stop the rest
        return f"{Path(source).name}: {exc}"


def chorale_midi_files(cache_dir: Path, limit: int | None = None) -> list[Path]:
    """MIDI versions of the chorales, converted on first use into `cache_dir`."""
    import music21

    folder = Path(cache_dir) / f"bach-midi-music21-{music21.__version__}"
    folder.mkdir(parents=True, exist_ok=True)
    sources = chorale_paths()[:limit]
    targets = [folder / (p.stem.replace(".", "_") + ".mid") for p in sources]
    todo = [(str(s), str(t)) for s, t in zip(sources, targets) if not t.exists()]
    if todo:
        errors = map_with_progress(_convert, todo, "Converting Bach chorales to MIDI")
        for error in filter(None, errors):
            print(f"skipped {error}")
    return [t for t in targets if t.exists()]
