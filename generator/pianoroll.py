"""Piano rolls: notes (read from a MIDI file, or handed over by a music plugin) drawn as a PNG
with matplotlib.

Time in seconds runs left to right and pitch bottom to top (only the range the notes use, with
a margin, a note name at each C); each note is a bar shaded by its velocity, a primer's notes in
another colour than the generated ones, and bar lines follow the file's tempo and time signature
(MIDI's defaults, 120 bpm in 4/4, where it gives none), or the plugin's bars.
matplotlib is imported inside the functions that draw, on its Agg backend with no pyplot state,
so importing this module, and `gen --help`, stay fast.
"""

from __future__ import annotations

from pathlib import Path

import mido

from generator.atomic import atomic_path
from generator.corpora.base import Note
from generator.errors import GenError

DRUM_CHANNEL = 9  # MIDI channel 10, counted from 0: its notes name drums, not pitches

PITCH_MARGIN = 2  # semitones of empty rows above and below the notes
NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
GENERATED_COLOURS = "Blues"  # matplotlib colour maps; the shade follows velocity
PRIMER_COLOURS = "Oranges"
MIN_BAR_PIXELS = 6  # bar lines closer than this would paint the roll grey: left out
DPI = 100


def note_name(pitch: int) -> str:
    """Scientific pitch name of a MIDI pitch: 60 -> 'C4'."""
    return f"{NAMES[pitch % 12]}{pitch // 12 - 1}"


def midi_notes(mid: mido.MidiFile) -> list[Note]:
    """The pitched notes of a parsed MIDI file, all tracks and channels but drums (channel
    10), with each channel's program; a note still sounding at the end ends there."""
    seconds = 0.0
    programs = [0] * 16
    started: dict[tuple[int, int], tuple[float, int]] = {}  # (channel, pitch) -> start, velocity
    notes = []

    def end(key):
        start, velocity = started.pop(key)
        notes.append(Note(key[1], start, seconds, velocity, programs[key[0]]))

    for msg in mid:  # merged tracks, msg.time in seconds with tempo changes applied
        seconds += msg.time
        if msg.type == "program_change":
            programs[msg.channel] = msg.program
        if msg.type not in ("note_on", "note_off") or msg.channel == DRUM_CHANNEL:
            continue
        key = (msg.channel, msg.note)
        if key in started:  # a note-off, or a re-strike that ends the sounding note
            end(key)
        if msg.type == "note_on" and msg.velocity > 0:
            started[key] = (seconds, msg.velocity)
    for key in list(started):
        end(key)
    return sorted(notes, key=lambda n: (n.start, n.pitch))


def bar_times(mid: mido.MidiFile) -> list[float]:
    """Seconds at which bars begin (after the first), from the file's tempo and time signature
    changes; none for a file timed in SMPTE frames, which has no beats."""
    division = mid.ticks_per_beat
    if division <= 0 or division >= 0x8000 or mid.type == 2:  # no beats to count bars in
        return []
    tempos, signatures, last = [(0, 500_000)], [(0, 4, 4)], 0  # MIDI's defaults
    for track in mid.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "set_tempo":
                tempos.append((tick, msg.tempo))
            elif msg.type == "time_signature":
                signatures.append((tick, msg.numerator, msg.denominator))
        last = max(last, tick)
    tempos.sort(key=lambda t: t[0])  # stable: a change at tick 0 overrides the default
    signatures.sort(key=lambda s: s[0])

    def seconds(tick: float) -> float:
        total, at, tempo = 0.0, 0, tempos[0][1]
        for change, new in tempos:
            if change > tick:
                break
            total += (change - at) * tempo / 1e6 / division
            at, tempo = change, new
        return total + (tick - at) * tempo / 1e6 / division

    bars, tick, i = [], 0.0, 0
    while tick < last:
        while i + 1 < len(signatures) and signatures[i + 1][0] <= tick:
            i += 1
        numerator, denominator = signatures[i][1:]
        following = tick + numerator * division * 4 / denominator
        if i + 1 < len(signatures) and signatures[i + 1][0] < following:
            following = signatures[i + 1][0]  # a change inside a bar starts a new one
        tick = following
        if tick < last:
            bars.append(seconds(tick))
    return bars


def figure(notes, bars=(), primer_notes=0, title="", size=None, dpi=DPI, margins=True):
    """A matplotlib Figure (Agg canvas) of `notes` (by start); the first `primer_notes` are
    the primer's. `size` is (width, height) in inches (default: width grows with length);
    `margins=False` fills the whole image with the roll (no axes, labels or legend)."""
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import PolyCollection
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    length = max((n.end for n in notes), default=0.0) or 1.0
    low = min((n.pitch for n in notes), default=60) - PITCH_MARGIN
    high = max((n.pitch for n in notes), default=60) + PITCH_MARGIN
    if size is None:  # about 4 s of music per inch, within readable limits
        size = (min(30.0, max(8.0, 2.0 + length / 4)), min(12.0, max(4.0, (high - low) / 8)))
    fig = Figure(figsize=size, dpi=dpi)
    FigureCanvasAgg(fig)
    if margins:
        fig.subplots_adjust(left=0.07, right=0.99, bottom=0.1, top=0.9)
        ax = fig.add_subplot()
    else:
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_axis_off()
    ax.set_xlim(0, length)
    ax.set_ylim(low - 0.5, high + 0.5)  # each pitch a row one unit high, centred on it
    width_px = size[0] * dpi * (0.92 if margins else 1)
    if bars and len(bars) * MIN_BAR_PIXELS <= width_px:
        for at in bars:
            ax.axvline(at, color="0.8", linewidth=0.6, zorder=0)
    maps = {False: colormaps[GENERATED_COLOURS], True: colormaps[PRIMER_COLOURS]}
    boxes, colours = [], []
    for k, n in enumerate(notes):
        y0, y1 = n.pitch - 0.4, n.pitch + 0.4
        boxes.append([(n.start, y0), (n.end, y0), (n.end, y1), (n.start, y1)])
        # soft notes light, loud ones dark, never so light they vanish into the background
        colours.append(maps[k < primer_notes](0.35 + 0.65 * n.velocity / 127))
    ax.add_collection(PolyCollection(boxes, facecolors=colours, edgecolors="none", zorder=2))
    if margins:
        ax.set_yticks([p for p in range(low, high + 1) if p % 12 == 0])
        ax.set_yticklabels([note_name(p) for p in ax.get_yticks()])
        ax.set_xlabel("seconds")
        ax.set_title(title, loc="right", fontsize="medium")
        if primer_notes > 0:
            shade = 0.8
            handles = [Patch(color=maps[True](shade), label="primer")]
            handles.append(Patch(color=maps[False](shade), label="generated"))
            ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0, 1), ncol=2)
            ax.get_legend().set_frame_on(False)
    return fig


def save(fig, path: Path | str) -> None:
    """Write a figure as PNG through a temporary file, so a crash leaves no half image."""
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=fig.dpi)
    except OSError as exc:
        raise GenError(f"cannot write '{path}': {exc.strerror or exc}") from None


def plot_notes(notes, path: Path | str, bars=(), primer_notes=0, title="") -> None:
    """Draw notes as a piano roll PNG at `path`, with bar lines at `bars` (seconds); the
    first `primer_notes` notes (by start) are the primer's."""
    save(figure(sorted(notes, key=lambda n: (n.start, n.pitch)), bars, primer_notes, title), path)


def plot_file(midi_path: Path | str, path: Path | str) -> int:
    """Draw the MIDI file at `midi_path` as a piano roll PNG at `path`; returns its notes."""
    from generator.corpora.midi import read_midi

    try:
        mid = read_midi(Path(midi_path))
    except GenError as exc:
        raise GenError(f"'{midi_path}': {exc}") from None
    if mid.type == 2:  # independent sequences: no one time line to draw
        raise GenError(f"'{midi_path}': type-2 MIDI (independent sequences) is not supported")
    notes = midi_notes(mid)
    save(figure(notes, bar_times(mid), title=Path(midi_path).name), path)
    return len(notes)
