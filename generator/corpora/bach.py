"""The embedded default music corpus: the Bach chorales that ship inside music21.

music21 has them as MusicXML (and a few kern) files. `tools/build_chorale_midi.py` converts
each to MIDI with music21 into `data/bach-chorales-midi.zip`, which ships inside the package
(converting them takes most of a minute on 2 cores); the first use extracts it into the cache
folder, so that the default corpus goes through exactly the same MIDI path as a user's files.
The hymn texts are extracted from music21's scores on first use.
"""

from __future__ import annotations

import os
from pathlib import Path

from generator.atomic import atomic_path, write_text
from generator.corpora import music21_io, shipped
from generator.errors import GenError

MIDI_ARCHIVE = Path(__file__).with_name("data") / "bach-chorales-midi.zip"
SCORE_SUFFIXES = (".mxl", ".xml", ".musicxml", ".krn")  # not the .rntxt harmonic analyses


def default_limit() -> int | None:
    """How many chorales the built-in corpora use: all, unless $GEN_DEFAULT_CORPUS_LIMIT
    (which lets tests use a few) says otherwise."""
    limit = os.environ.get("GEN_DEFAULT_CORPUS_LIMIT")
    return int(limit) if limit else None


def chorale_paths() -> list[Path]:
    """Paths of the Bach chorale scores in music21's bundled corpus."""
    from music21 import corpus

    by_stem = {}  # a few chorales exist as both kern and MusicXML: keep one, MusicXML first
    for p in sorted(Path(p) for p in corpus.getComposer("bach")):
        if p.suffix.lower() in SCORE_SUFFIXES:
            rank = SCORE_SUFFIXES.index(p.suffix.lower())
            if p.stem not in by_stem or rank < by_stem[p.stem][0]:
                by_stem[p.stem] = (rank, p)
    paths = sorted(p for _, p in by_stem.values())
    if not paths:
        raise GenError("music21's bundled corpus has no Bach chorales; reinstall music21")
    return paths


def converted_name(score: Path, suffix: str = ".mid") -> str:
    """The name of what a score is converted to: bwv66.6.mxl -> bwv66_6.mid."""
    return score.stem.replace(".", "_") + suffix


def convert(job: tuple[str, str]) -> str | None:
    """Write one score as MIDI; returns an error message or None. Runs in a worker process."""
    source, target = job
    try:
        mid = music21_io.to_midi(music21_io.parse(Path(source)))
        with atomic_path(target) as tmp:
            mid.save(tmp)
        return None
    except Exception as exc:  # one bad score must not stop the rest
        return f"{Path(source).name}: {exc}"


def _lyrics(job: tuple[str, str]) -> str | None:
    """Write one chorale's hymn text: a line per phrase (phrases end at fermatas). Runs in a
    worker process; returns an error message or None."""
    source, target = job
    try:
        from music21 import expressions

        soprano = music21_io.parse(Path(source)).parts[0]
        lines, words, word = [], [], ""
        for note in soprano.recurse().notes:
            if note.lyrics:  # the lowest-numbered verse sung on this note
                lyric = min(note.lyrics, key=lambda ly: ly.number or 0)
                word += (lyric.text or "").strip()
                if lyric.syllabic in (None, "single", "end"):
                    words.append(word)
                    word = ""
            if any(isinstance(e, expressions.Fermata) for e in note.expressions) and words:
                lines.append(" ".join(words + ([word] if word else [])))
                words, word = [], ""
        if words:
            lines.append(" ".join(words))
        if not lines:
            return f"{Path(source).name}: no lyrics"
        write_text(target, "\n".join(lines) + "\n")
        return None
    except Exception as exc:  # one bad score must not stop the rest
        return f"{Path(source).name}: {exc}"


def _converted(cache_dir: Path, kind: str, suffix: str, work, log, limit: int | None) -> list[Path]:
    """Run `work` on every chorale whose output (in a cache folder per music21 version and
    `kind`) does not exist yet; return the outputs that exist."""
    import music21

    from generator.cache import writable_folder

    folder = writable_folder(Path(cache_dir) / f"bach-{kind}-music21-{music21.__version__}")
    sources = chorale_paths()[:limit]
    targets = [folder / converted_name(p, suffix) for p in sources]
    todo = [
        (str(s), str(t))
        for s, t in zip(sources, targets)
        if not t.exists() and not Path(f"{t}.skip").exists()
    ]
    if todo:
        errors = log.map(work, todo, f"Extracting Bach chorale {kind}")
        failed = [(target, error) for (_, target), error in zip(todo, errors) if error]
        for target, error in failed:  # remembered so that later runs do not parse it again
            Path(f"{target}.skip").write_text(error)
        if failed:
            log.warn(
                f"warning: skipped {len(failed)} of {len(todo)} chorales for {kind} (first: "
                f"{failed[0][1]}); reasons in {folder}/*.skip"
            )
    return [t for t in targets if t.exists()]


def chorale_text_files(cache_dir: Path, log, limit: int | None = None) -> list[Path]:
    """Hymn texts of the chorales (one stanza per chorale), extracted on first use."""
    return _converted(cache_dir, "texts", ".txt", _lyrics, log, limit)


def chorale_midi_files(cache_dir: Path, limit: int | None = None) -> list[Path]:
    """MIDI versions of the chorales (the first `limit`, in the order of music21's scores),
    extracted on first use into `cache_dir`."""
    return shipped.extracted(MIDI_ARCHIVE, cache_dir, "Bach chorale")[:limit]
