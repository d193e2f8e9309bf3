"""Audio: a MIDI file rendered to WAV by FluidSynth with a General MIDI SoundFont.

`gen render` runs the `fluidsynth` program (Debian's package `fluidsynth`) in its fast-render
mode, which writes the file as quickly as the processor allows instead of playing in real time,
with the first SoundFont found in the usual places (Debian's `fluid-soundfont-gm` puts one in
/usr/share/sounds/sf2/). Both are programs outside Python, so their absence is one clear line
naming the packages, checked before anything is written.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from generator.atomic import atomic_path, check_target
from generator.errors import GenError

# Where General MIDI SoundFonts are usually installed, in order of preference; $GEN_SOUNDFONT
# and --soundfont come before all of them.
SOUNDFONT_PLACES = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/soundfonts/*.sf2",
    "/usr/share/sounds/sf2/*.sf2",
)
INSTALL = "apt install fluidsynth fluid-soundfont-gm"  # Debian: the program, a SoundFont
SAMPLE_RATE = 44_100  # CD quality
GAIN = 0.4  # FluidSynth's 0.2 leaves a piano note at -27 dBFS; 0.4 still leaves room for chords
FILE_TYPES = {".wav": "wav", ".oga": "oga", ".ogg": "oga"}  # suffix -> FluidSynth -T
RENDER_SECONDS = 600  # a stuck synthesizer is stopped rather than waited on for ever


def find_fluidsynth() -> str:
    """Path of the `fluidsynth` program; a `GenError` naming the packages if it is missing."""
    found = shutil.which("fluidsynth")
    if found is None:
        raise GenError(
            f"FluidSynth is not installed (no 'fluidsynth' on PATH); install it and a "
            f"SoundFont with: {INSTALL}"
        )
    return found


def find_soundfont(given: Path | str | None = None) -> Path:
    """The SoundFont to play with: `given`, else $GEN_SOUNDFONT, else the first one found in
    `SOUNDFONT_PLACES`; a `GenError` saying what to install or give if there is none."""
    named = [(given, "--soundfont"), (os.environ.get("GEN_SOUNDFONT"), "GEN_SOUNDFONT")]
    for path, source in named:
        if path:  # a SoundFont asked for by name must exist: no silent fallback
            if not Path(path).is_file():
                raise GenError(f"{source} '{path}' is not a file; give a .sf2 SoundFont")
            return Path(path)
    for place in SOUNDFONT_PLACES:
        folder, pattern = Path(place).parent, Path(place).name
        found = sorted(folder.glob(pattern)) if folder.is_dir() else []
        if found:
            return found[0]
    raise GenError(
        f"no General MIDI SoundFont found (looked in {', '.join(SOUNDFONT_PLACES)} and "
        f"$GEN_SOUNDFONT); install one with: {INSTALL}, or give --soundfont FILE.sf2"
    )


def output_path(midi: Path, out: Path | None, force: bool) -> Path:
    """The WAV file to write (default: `midi` with .wav), refusing what cannot be written."""
    out = Path(out) if out is not None else Path(midi).with_suffix(".wav")
    if out.suffix.lower() != ".wav":
        raise GenError(f"--out '{out}': gen render writes .wav files, not '{out.suffix}'")
    return check_target(out, force)


def render(midi: Path, out: Path | None = None, soundfont=None, force=False) -> Path:
    """Render the MIDI file `midi` to WAV at `out` through a temporary file; returns `out`.
    Everything a user can get wrong (file, output, tools) is checked before FluidSynth runs."""
    return synthesize(midi, output_path(midi, out, force), soundfont)


def synthesize(midi: Path, target: Path, soundfont=None) -> Path:
    """Render `midi` to `target`, in the format its suffix names (.wav; .oga, Ogg Vorbis for
    web pages); returns `target`."""
    from generator.corpora.midi import read_midi

    file_type = FILE_TYPES.get(Path(target).suffix.lower())
    if file_type is None:
        raise GenError(f"'{target}': audio is written as {', '.join(FILE_TYPES)}")
    try:
        read_midi(Path(midi))  # FluidSynth would play a broken file as silence, without a word
    except GenError as exc:
        raise GenError(f"'{midi}': {exc}") from None
    program, font = find_fluidsynth(), find_soundfont(soundfont)
    try:
        with atomic_path(target) as tmp:
            # -n -i: no MIDI input, no shell; -F: render to the file as fast as possible
            command = [program, "-n", "-i", "-q", "-F", str(tmp), "-T", file_type]
            command += ["-g", str(GAIN), "-r", str(SAMPLE_RATE), str(font), str(midi)]
            done = subprocess.run(command, capture_output=True, text=True, timeout=RENDER_SECONDS)
            if done.returncode != 0 or not tmp.is_file() or tmp.stat().st_size == 0:
                last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no message"]
                raise GenError(f"fluidsynth failed (exit {done.returncode}): {last[0]}")
    except subprocess.TimeoutExpired:
        raise GenError(f"fluidsynth took over {RENDER_SECONDS} s; stopped") from None
    except OSError as exc:
        raise GenError(f"cannot write '{target}': {exc.strerror or exc}") from None
    return target
