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

from generator.atomic import atomic_path
from generator.corpora.base import GM_FAMILIES, Note
from generator.corpora.midifile import bar_times, midi_notes  # noqa: F401 (read files here)
from generator.errors import GenError

PITCH_MARGIN = 2  # semitones of empty rows above and below the notes
NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
GENERATED_COLOURS = "Blues"  # matplotlib colour maps; the shade follows velocity
PRIMER_COLOURS = "Oranges"
INSTRUMENT_COLOURS = "tab10"  # a colour per instrument family where there are several
MIN_BAR_PIXELS = 6  # bar lines closer than this would paint the roll grey: left out
GAP_PIXELS = 2  # each note's bar ends this much short of its end (a third of it at most)
DPI = 100


def note_name(pitch: int) -> str:
    """Scientific pitch name of a MIDI pitch: 60 -> 'C4'."""
    return f"{NAMES[pitch % 12]}{pitch // 12 - 1}"


def instrument(note: Note) -> str:
    """The instrument family a note is drawn as: its General MIDI family, or drums."""
    return "drums" if note.drum else GM_FAMILIES[note.program // 8]


def colours(notes, primer_notes: int) -> tuple[list, list[tuple[str, object]]]:
    """Each note's colour, and the legend's (label, colour) pairs. One instrument: generated
    notes blue and the primer's orange, shaded by velocity (soft light, loud dark, never so
    light they vanish); several: a colour per instrument family, shaded the same way."""
    from matplotlib import colormaps

    shade = [0.35 + 0.65 * n.velocity / 127 for n in notes]
    families = list(dict.fromkeys(instrument(n) for n in notes))
    if len(families) <= 1:
        maps = {False: colormaps[GENERATED_COLOURS], True: colormaps[PRIMER_COLOURS]}
        drawn = [maps[k < primer_notes](v) for k, v in enumerate(shade)]
        legend = [("primer", maps[True](0.8)), ("generated", maps[False](0.8))]
        return drawn, legend if primer_notes > 0 else []
    palette = colormaps[INSTRUMENT_COLOURS]
    hue = {family: palette(i % palette.N) for i, family in enumerate(families)}
    drawn = [(*hue[instrument(n)][:3], v) for n, v in zip(notes, shade)]  # shade as opacity
    return drawn, [(family, hue[family]) for family in families]


def figure(notes, bars=(), primer_notes=0, title="", size=None, dpi=DPI, margins=True):
    """A matplotlib Figure (Agg canvas) of `notes` (by start); the first `primer_notes` are
    the primer's. `size` is (width, height) in inches (default: width grows with length);
    `margins=False` fills the whole image with the roll (no axes, labels or legend)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import PolyCollection
    from matplotlib.figure import Figure

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
    drawn, legend = colours(notes, primer_notes)
    gap = GAP_PIXELS * length / width_px  # a note struck again shows as two bars, not one
    ends = [max(n.end - gap, n.start + (n.end - n.start) * 2 / 3) for n in notes]
    boxes = [[(n.start, n.pitch - 0.4), (end, n.pitch - 0.4), (end, n.pitch + 0.4),
              (n.start, n.pitch + 0.4)] for n, end in zip(notes, ends)]  # fmt: skip
    ax.add_collection(PolyCollection(boxes, facecolors=drawn, edgecolors="none", zorder=2))
    if margins:
        _label(ax, low, high, title, legend)
    return fig


def _label(ax, low: int, high: int, title: str, legend) -> None:
    """Note names at each C, the time axis, the title and the legend."""
    from matplotlib.patches import Patch

    ax.set_yticks([p for p in range(low, high + 1) if p % 12 == 0])
    ax.set_yticklabels([note_name(p) for p in ax.get_yticks()])
    ax.set_xlabel("seconds")
    ax.set_title(title, loc="right", fontsize="medium")
    if legend:
        handles = [Patch(color=colour, label=label) for label, colour in legend]
        ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0, 1), ncol=len(handles))
        ax.get_legend().set_frame_on(False)


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
