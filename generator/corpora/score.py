"""The `score` corpus plugin: anything music21 reads, as the same performance events as `midi`.

MusicXML, ABC (a book of tunes gives one piece per tune), Humdrum **kern and MIDI. A score is
rendered to MIDI by music21 exactly as `score.write("midi")` would, then encoded like a MIDI
file, so `score` and `midi` share a vocabulary and their checkpoints are interchangeable.
MIDI files are read directly, keeping their performed timing.

`--path music21:NAME` names a collection in music21's bundled corpus instead of a folder:
`music21:bach` (the chorales), `music21:essenFolksong` (8,514 tunes), `music21:oneills1850`
(2,009), `music21:ryansMammoth`, any composer music21 knows, or one work
(`music21:bach/bwv66.6`). A tune music21 parses but whose MIDI rendering it refuses because a
tempo, time or key signature object stands in two places is repaired and rendered again; a
tune that still cannot be read is skipped with its reason, kept in the cache.
"""

from __future__ import annotations

from pathlib import Path

from generator.corpora import bach, music21_io
from generator.corpora.midi import MidiCorpus, events_of
from generator.errors import GenError

PREFIX = "music21:"
SCORE_SUFFIXES = (*music21_io.MUSICXML_SUFFIXES, ".abc", ".krn")
MIDI_SUFFIXES = MidiCorpus.input_suffixes


def _corpus_root() -> Path:
    from music21 import corpus

    return Path(corpus.__file__).parent


def collections() -> list[str]:
    """Names of the collections in music21's bundled corpus (its folders holding scores)."""
    root = _corpus_root()
    return sorted(
        (
            d.name
            for d in root.iterdir()
            if d.is_dir()
            and not d.name.startswith(("_", "."))
            and any(p.suffix.lower() in SCORE_SUFFIXES for p in d.rglob("*"))
        ),
        key=str.lower,
    )


def collection_files(name: str) -> list[Path]:
    """Score files of a music21 collection, composer or work, by name (case-insensitive)."""
    from music21 import corpus

    if name.lower() == "bach":  # the chorales, one file per chorale (as the default corpus)
        return bach.chorale_paths()
    known = {c.lower(): c for c in collections()}
    if name.lower() in known:
        folder = _corpus_root() / known[name.lower()]
        return sorted(p for p in folder.rglob("*") if p.suffix.lower() in SCORE_SUFFIXES)
    try:
        found = corpus.getComposer(name) or corpus.getWork(name)
    except Exception:  # music21 raises CorpusException (and others) for unknown names
        found = []
    found = [Path(p) for p in (found if isinstance(found, list) else [found])]
    found = sorted(p for p in found if p.suffix.lower() in SCORE_SUFFIXES)
    if not found:
        sizes = ", ".join(f"{c} ({size(c)})" for c in known.values())
        raise GenError(
            f"music21's corpus has no collection, composer or work '{name}'; collections: {sizes}"
        )
    return found


def size(name: str) -> str:
    """A collection's size as a user weighs it: "1 file, 2 pieces"."""
    files = collection_files(name)
    pieces = sum(piece_count(p) for p in files)
    return f"{len(files):,} file{'s' * (len(files) != 1)}, {pieces:,} piece{'s' * (pieces != 1)}"


def piece_count(path: Path) -> int:
    """The pieces a score file holds, without parsing it: an ABC book's tunes (each opens
    with an `X:` line), else one."""
    if path.suffix.lower() != ".abc":
        return 1
    text = path.read_text(encoding="latin-1")
    return max(1, sum(line.startswith("X:") for line in text.splitlines()))


class ScoreCorpus(MidiCorpus):
    """Scores music21 reads (MusicXML, ABC, kern, MIDI) as performance events."""

    name = "score"
    description = (
        "Scores music21 reads (MusicXML, ABC, kern, MIDI) as MIDI's performance events; "
        "--path music21:NAME for music21's corpora; default: Bach chorales"
    )
    input_suffixes = SCORE_SUFFIXES + MIDI_SUFFIXES
    parallel_min_files = 2  # music21 is slow to parse a score: a process pool pays at once

    def find_files(self, path: Path) -> list[Path]:
        text = str(path)
        if text.startswith(PREFIX):
            return collection_files(text[len(PREFIX) :].strip("/"))
        return super().find_files(path)

    def default_files(self, cache_dir: Path, log) -> list[Path]:
        return bach.chorale_paths()[: bach.default_limit()]

    def read_pieces(self, path: Path) -> tuple[list[list[str]], list[str]]:
        if Path(path).suffix.lower() in MIDI_SUFFIXES:
            return [super().encode_file(path)], []
        pieces, errors = [], []
        for number, piece in enumerate(music21_io.pieces(music21_io.parse(path)), 1):
            try:
                pieces.append(events_of(music21_io.to_midi(piece)))
            except GenError as exc:
                errors.append(f"piece {number}: {exc}")
        if not pieces:
            raise GenError("; ".join(errors[:3]) if errors else "contains no pieces of music")
        return pieces, errors  # a book with some unreadable tunes keeps the rest

    def encode_pieces(self, path: Path) -> list[list[str]]:
        return self.read_pieces(path)[0]

    def encode_file(self, path: Path) -> list[str]:
        return self.encode_pieces(path)[0]
