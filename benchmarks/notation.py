"""Sheet music a musician can read: what `gen sample --out NAME.musicxml` writes, read back.

    python benchmarks/notation.py checkpoints/RUN [--samples 10] [--seconds 30] [--seed 0]

Writes `--samples` outputs of the run as MusicXML, and as many real chorales (music21's, the
default corpus, encoded by the `midi` plugin and written back through the same path), each
twice: as `gen` writes them now, and as music21 writes the quantised MIDI file as it is (how
`gen` wrote them before its scores were laid out). Read back with music21, the table gives the
staves and their clefs, the share of notes that carry an accidental sign, the mean and largest
number of ledger lines per note (counted against the note's own staff), the share of measures
whose voices fill the time signature, whether the title is the file's name, and the seconds to
write a file.
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
STAFF = {"G": ("E4", "F5"), "F": ("G2", "A3"), "C": ("F3", "G4")}  # clef sign: bottom, top line


def ledger_lines(pitch, clef) -> int:
    """Ledger lines a note needs outside the five lines of its staff."""
    from music21 import pitch as m21pitch

    bottom, top = (m21pitch.Pitch(p).diatonicNoteNum for p in STAFF.get(clef.sign, STAFF["G"]))
    step = pitch.diatonicNoteNum
    return max(0, (bottom - step) // 2, (step - top) // 2)


def figures(path: Path) -> dict:
    """What a musician would notice in the MusicXML file at `path`."""
    from music21 import converter

    score = converter.parse(path)
    notes = ledgers = signs = full = measures = most = 0
    clefs = []
    for part in score.parts:
        clef = part.flatten().getElementsByClass("Clef").first()
        clefs.append(clef.sign if clef else "?")
        for measure in part.getElementsByClass("Measure"):
            bar = measure.barDuration.quarterLength
            voices = measure.voices or [measure]
            measures += 1
            full += all(abs(v.duration.quarterLength - bar) < 1e-6 for v in voices)
        for element in part.flatten().notes:
            for pitch in element.pitches:
                notes += 1
                lines = ledger_lines(pitch, clef)
                ledgers, most = ledgers + lines, max(most, lines)
                signs += bool(pitch.accidental and pitch.accidental.displayStatus)
    return {"clefs": "+".join(clefs), "notes": notes, "accidentals": signs / max(notes, 1),
            "ledgers": ledgers / max(notes, 1), "most": most, "full": full / max(measures, 1),
            "title": bool(score.metadata) and score.metadata.bestTitle == path.stem}  # fmt: skip


def as_before(tokens, path: Path) -> None:
    """The score as music21 writes the quantised MIDI file, with no layout."""
    from music21 import converter

    from generator.corpora import performance
    from generator.corpora.midi import MAX_NOTE_SECONDS

    mid = performance.events_to_midi(tokens, MAX_NOTE_SECONDS)
    buffer = io.BytesIO()
    mid.save(file=buffer)
    score = converter.parseData(buffer.getvalue(), format="midi", quarterLengthDivisors=(4, 3))
    score.write("musicxml", fp=str(path))


def written(streams: list, how: str, folder: Path, plugin) -> tuple[list[dict], list[float]]:
    """Each token stream written `how` ("now" or "before") and read back: figures, seconds."""
    found, seconds = [], []
    for k, tokens in enumerate(streams):
        path = folder / f"{how}-{k}.musicxml"
        start = time.perf_counter()
        if how == "now":
            plugin.write(tokens, path)
        else:
            as_before(tokens, path)
        seconds.append(time.perf_counter() - start)
        found.append(figures(path))
    return found, seconds


def row(name: str, how: str, found: list[dict], seconds: list[float]) -> str:
    def mean(key):
        return statistics.mean(f[key] for f in found)

    cells = [f"{len(found)} {name}", how, statistics.mode(f["clefs"] for f in found),
             f"{100 * mean('accidentals'):.1f} %", f"{mean('ledgers'):.2f}",
             str(max(f["most"] for f in found)), f"{100 * mean('full'):.1f} %",
             f"{sum(f['title'] for f in found)}/{len(found)}",
             f"{statistics.mean(seconds):.2f}"]  # fmt: skip
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from generator.corpora import bach, get_corpus

    plugin = get_corpus("midi")
    print("| pieces | written | staves | accidentals | ledger lines per note | most | "
          "full measures | title | seconds per file |\n" + "| --- " * 9 + "|")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="gen-notation-") as tmp:
        folder = Path(tmp)
        command = [sys.executable, "-m", "generator", "--quiet", "sample", "--checkpoint",
                   str(args.run), "--out", str(folder / "sample.mid"), "-n",
                   str(args.samples), "--seconds", str(args.seconds), "--seed",
                   str(args.seed), "--no-report"]  # fmt: skip
        subprocess.run(command, check=True)
        samples = [plugin.encode_file(p) for p in sorted(folder.glob("sample-*.mid"))]
        real_files = bach.chorale_midi_files(folder / "cache", args.samples)
        real = [plugin.encode_file(p) for p in real_files]
        for name, streams in (("samples", samples), ("real chorales", real)):
            for how in ("now", "before"):
                print(row(name, how, *written(streams, how, folder, plugin)), flush=True)


if __name__ == "__main__":
    main()
