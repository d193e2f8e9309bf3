"""Build the Bach chorale MIDI files that ship inside `gen` (`gen train --corpus midi`).

    python tools/build_chorale_midi.py [OUT.zip]

Converts every Bach chorale in music21's bundled corpus to MIDI with music21, in parallel, and
writes `generator/corpora/data/bach-chorales-midi.zip`: one file per chorale, in the order of
music21's scores (a run's seeded split of held-out files follows that order), with fixed
timestamps so that the same music21 gives the same archive. The archive's comment names the
music21 version that converted it.
"""

from __future__ import annotations

import sys
import tempfile
import zipfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generator.corpora import bach  # noqa: E402

TARGET = ROOT / "generator" / "corpora" / "data" / "bach-chorales-midi.zip"


def main(target: Path = TARGET) -> None:
    import music21

    sources = bach.chorale_paths()
    with tempfile.TemporaryDirectory() as tmp:
        jobs = [(str(s), str(Path(tmp) / bach.converted_name(s))) for s in sources]
        with ProcessPoolExecutor() as pool:
            errors = [e for e in pool.map(bach.convert, jobs) if e]
        if errors:
            sys.exit(f"{len(errors)} chorales failed to convert (first: {errors[0]})")
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
            archive.comment = f"music21 {music21.__version__}".encode()
            for _, made in jobs:
                info = zipfile.ZipInfo(Path(made).name, date_time=(2026, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, Path(made).read_bytes())
    print(f"{target}: {len(jobs)} chorales, {target.stat().st_size:,} bytes")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else TARGET)
