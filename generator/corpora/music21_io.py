"""Scores through music21: parse any format it reads, render to MIDI, write MusicXML or PDF.

PDF is engraved from the same MusicXML by MuseScore or, failing that, LilyPond (its
`musicxml2ly`), whichever is installed; music21's own LilyPond writer drops much of a sampled
performance, so it is not used.

music21 caches parsed files as pickles in its scratch folder and reads them back on the next
parse; `gen` never does either (a pickle can carry code), it parses the source every time and
keeps its own JSON token cache instead.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import mido

from generator.errors import GenError

MUSICXML_SUFFIXES = (".musicxml", ".xml", ".mxl")
# MuseScore's program names across versions and packagings, tried first; then LilyPond.
MUSESCORE_PROGRAMS = ("mscore", "musescore", "mscore4portable", "mscore4", "musescore4")
MUSESCORE_PROGRAMS += ("mscore3", "musescore3", "mscore-portable")
INSTALL_PDF = (
    "install MuseScore (https://musescore.org) or LilyPond (apt install lilypond) to write "
    "PDF; .musicxml needs nothing"
)
MARKS = ("MetronomeMark", "TimeSignature", "KeySignature")  # music21 moves these for MIDI
ENGRAVE_SECONDS = 300  # a stuck engraver is stopped rather than waited on for ever


def describe(exc: Exception) -> str:
    """An exception as `Type: message`, or just `Type` when it has no message."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def parse(path: Path):
    """A music21 Score, Part or Opus parsed from `path`; a `GenError` with the reason if not."""
    from music21 import converter

    try:
        return converter.parse(Path(path), forceSource=True, storePickle=False)
    except Exception as exc:  # music21 raises many types for files it cannot read
        raise GenError(f"music21 cannot read it ({describe(exc)})") from None


def pieces(parsed) -> list:
    """The pieces in a parsed file: the scores of an Opus (an ABC book), else the file itself."""
    from music21 import stream

    if isinstance(parsed, stream.Opus):
        return list(parsed.scores)
    return [parsed]


def without_repeats(piece):
    """A copy of `piece` with its repeat signs, repeat expressions and volta brackets removed,
    so that it plays once through as written."""
    import copy

    from music21 import bar, repeat, spanner

    piece = copy.deepcopy(piece)
    for measure in piece.recurse().getElementsByClass("Measure"):
        if isinstance(measure.leftBarline, bar.Repeat):
            measure.leftBarline = None
        if isinstance(measure.rightBarline, bar.Repeat):
            measure.rightBarline = None
    for kind in (repeat.RepeatExpression, spanner.RepeatBracket):
        for element in list(piece.recurse().getElementsByClass(kind)):
            element.activeSite.remove(element)
    return piece


def with_unique_marks(piece):
    """A copy of `piece` in which no tempo, time or key signature object stands in two places
    (an ABC tune's parse can share one between measures, and music21's MIDI writer then
    refuses the stream: "... is already found in this Stream"); the second place gets a copy."""
    import copy

    piece = copy.deepcopy(piece)  # keeps shared objects shared, so they can be found
    seen: set[int] = set()
    for site in piece.recurse(streamsOnly=True, includeSelf=True):
        for mark in list(site.getElementsByClass(MARKS)):
            if id(mark) in seen:
                site.replace(mark, copy.deepcopy(mark))
            seen.add(id(mark))
    return piece


def _render(piece) -> bytes:
    """music21's MIDI bytes for `piece`, played once through where its repeats are malformed
    (music21 cannot expand them)."""
    from music21.midi import translate
    from music21.repeat import ExpanderException

    try:
        return translate.streamToMidiFile(piece).writestr()
    except ExpanderException:
        return translate.streamToMidiFile(without_repeats(piece)).writestr()


def to_midi(piece) -> mido.MidiFile:
    """The MIDI file music21 writes for a score (the same bytes as `score.write("midi")`).
    A stream music21 refuses because a mark stands in two places is rendered again with
    `with_unique_marks`."""
    from music21.exceptions21 import StreamException

    try:
        try:
            data = _render(piece)
        except StreamException as exc:
            if "already found" not in str(exc):
                raise
            data = _render(with_unique_marks(piece))
        return mido.MidiFile(file=io.BytesIO(data))
    except Exception as exc:  # music21 and mido raise many types for what they cannot do
        raise GenError(f"music21 cannot render it as MIDI ({describe(exc)})") from None


def write_musicxml(mid: mido.MidiFile, path: Path, divisors=(4, 3), title=None) -> None:
    """Write a MIDI performance as sheet music: music21 quantises it to `divisors` of a
    quarter note (default: sixteenths and eighth-note triplets; music already on a grid
    passes its own), `notation` lays it out for reading (staves, key, title: `title`, or the
    file's name), and music21 writes MusicXML (compressed when `path` ends in .mxl)."""
    from music21 import converter

    from generator.corpora import notation

    buffer = io.BytesIO()
    mid.save(file=buffer)
    try:
        data = buffer.getvalue()
        score = converter.parseData(data, format="midi", quarterLengthDivisors=divisors)
        score = notation.readable(score, title or Path(path).stem)
        fmt = "mxl" if Path(path).suffix.lower() == ".mxl" else "musicxml"
        score.write(fmt, fp=str(path))
    except Exception as exc:
        raise GenError(f"music21 cannot write it as MusicXML ({describe(exc)})") from None


def pdf_engine() -> tuple[str, str]:
    """('musescore' or 'lilypond', program path) of the first engraver installed; a
    `GenError` saying what to install when there is none."""
    for name in MUSESCORE_PROGRAMS:
        found = shutil.which(name)
        if found:
            return "musescore", found
    lilypond = shutil.which("lilypond")
    if lilypond and shutil.which("musicxml2ly"):  # both ship in LilyPond's package
        return "lilypond", lilypond
    raise GenError(f"no MuseScore or LilyPond program found; {INSTALL_PDF}")


def write_pdf(mid: mido.MidiFile, path: Path, divisors=(4, 3)) -> None:
    """Write a MIDI performance as engraved sheet music (PDF): the MusicXML that
    `write_musicxml` writes, engraved by MuseScore or LilyPond."""
    kind, program = pdf_engine()
    with tempfile.TemporaryDirectory(prefix="gen-pdf-") as folder:
        xml, pdf = Path(folder) / "score.musicxml", Path(folder) / "score.pdf"
        write_musicxml(mid, xml, divisors, title=Path(path).stem)
        if kind == "musescore":
            # no screen here: Qt's offscreen platform lets MuseScore start without one
            env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
            _engrave([program, "-o", str(pdf), str(xml)], env)
        else:
            ly = Path(folder) / "score.ly"
            _engrave([shutil.which("musicxml2ly") or "musicxml2ly", "-o", str(ly), str(xml)])
            _engrave([program, "-o", str(pdf.with_suffix("")), str(ly)])  # adds .pdf
        if not pdf.is_file():
            raise GenError(f"{Path(program).name} wrote no PDF")
        shutil.copyfile(pdf, path)


def save(mid: mido.MidiFile, path: Path, divisors=(4, 3)) -> None:
    """Write a MIDI performance as what `path`'s suffix asks: sheet music (MusicXML or PDF,
    quantised to `divisors`) or the MIDI file itself."""
    suffix = Path(path).suffix.lower()
    if suffix in MUSICXML_SUFFIXES:
        write_musicxml(mid, path, divisors)
    elif suffix == ".pdf":
        write_pdf(mid, path, divisors)
    else:
        mid.save(path)


def _engrave(command: list[str], env=None) -> None:
    """Run one engraving step; a `GenError` with the program's last words if it fails."""
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=ENGRAVE_SECONDS
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GenError(f"{Path(command[0]).name} failed ({describe(exc)})") from None
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no message"]
        raise GenError(f"{Path(command[0]).name} failed (exit {done.returncode}): {last[0]}")
