"""Piano rolls: notes land on the right pixels, the primer has its own colour, bar lines follow
the tempo and time signature, and `gen plot` draws any MIDI file."""

from __future__ import annotations

import mido
import numpy as np
import pytest
from conftest import run, write_midi

from generator import pianoroll
from generator.errors import GenError

pytest.importorskip("matplotlib")
WHITE = 2.95  # an RGB sum above this is background (white is 3.0)


def two_notes(tmp_path, velocities=(100, 100)):
    """C4 for 1 s, then E4 for 1 s (120 bpm: one beat is 0.5 s)."""
    return write_midi(tmp_path / "two.mid", [(0, 2, 60, velocities[0]), (2, 2, 64, velocities[1])])


def render(tmp_path, notes, **options):
    """(RGB image as floats in [0, 1], axes) of a piano roll drawn to fill a 200 x 100 image."""
    from matplotlib.image import imread

    fig = pianoroll.figure(notes, size=(4, 2), dpi=50, margins=False, **options)
    path = tmp_path / "roll.png"
    pianoroll.save(fig, path)
    image = imread(path)[:, :, :3]  # (rows, columns, RGB)
    assert image.shape == (100, 200, 3)
    return image, fig.axes[0]


def pixel(image, ax, seconds, pitch):
    """The colour at a point given in data coordinates (matplotlib's origin is bottom left)."""
    x, y = ax.transData.transform((seconds, pitch))
    return image[image.shape[0] - 1 - int(y), int(x)]


def test_two_notes_colour_exactly_their_rectangles(tmp_path):
    mid = mido.MidiFile(two_notes(tmp_path))
    notes = pianoroll.midi_notes(mid)
    assert notes == [pianoroll.Note(60, 0.0, 1.0, 100), pianoroll.Note(64, 1.0, 2.0, 100)]
    image, ax = render(tmp_path, notes, bars=pianoroll.bar_times(mid))
    # the whole image is the roll: 2 s across, pitches 58-66 (2 semitones of margin) up
    assert ax.get_xlim() == (0, 2.0) and ax.get_ylim() == (57.5, 66.5)
    rows, cols = np.mgrid[0 : image.shape[0], 0 : image.shape[1]]
    centres = np.stack([cols.ravel() + 0.5, image.shape[0] - rows.ravel() - 0.5], axis=1)
    seconds, pitch = ax.transData.inverted().transform(centres).T.reshape(2, *image.shape[:2])
    px_s, px_p = 2.0 / 200, 9 / 100  # one pixel in seconds and in semitones

    def inside(note, grow):  # the note's bar (0.8 semitones high, ending 2 pixels short of
        # the note's end), grown by `grow` pixels
        return (
            (seconds >= note.start - grow * px_s)
            & (seconds <= note.end + (grow - 2) * px_s)
            & (np.abs(pitch - note.pitch) <= 0.4 + grow * px_p)
        )

    coloured = image.sum(axis=2) < WHITE
    for note in notes:  # every pixel well inside a note is ink
        assert coloured[inside(note, -1)].all()
    outside = ~(inside(notes[0], 1) | inside(notes[1], 1))
    assert not coloured[outside].any()  # and every pixel away from them is background
    assert coloured[inside(notes[0], -1)].sum() > 500  # about 100 x 9 pixels each
    # spot checks: E4 is silent in the first second, C4 in the second
    assert pixel(image, ax, 0.5, 60).sum() < WHITE and pixel(image, ax, 0.5, 64).sum() > WHITE
    assert pixel(image, ax, 1.5, 64).sum() < WHITE and pixel(image, ax, 1.5, 60).sum() > WHITE


def test_a_note_struck_again_shows_as_two_bars(tmp_path):
    notes = [pianoroll.Note(60, 0.0, 1.0, 100), pianoroll.Note(60, 1.0, 2.0, 100)]
    image, ax = render(tmp_path, notes)
    assert pixel(image, ax, 0.99, 60).sum() > WHITE  # background where the second begins
    assert pixel(image, ax, 0.9, 60).sum() < WHITE and pixel(image, ax, 1.05, 60).sum() < WHITE


def test_louder_notes_are_darker(tmp_path):
    notes = pianoroll.midi_notes(mido.MidiFile(two_notes(tmp_path, velocities=(30, 120))))
    image, ax = render(tmp_path, notes)
    assert pixel(image, ax, 1.5, 64).sum() < pixel(image, ax, 0.5, 60).sum() - 0.3


def test_primer_notes_have_their_own_colour(tmp_path):
    notes = pianoroll.midi_notes(mido.MidiFile(two_notes(tmp_path)))
    image, ax = render(tmp_path, notes, primer_notes=1)  # C4 is the primer
    red, _, blue = pixel(image, ax, 0.5, 60)
    assert red > blue + 0.3  # primer: orange
    red, _, blue = pixel(image, ax, 1.5, 64)
    assert blue > red + 0.3  # generated: blue
    image, ax = render(tmp_path, notes)  # without a primer both are blue
    red, _, blue = pixel(image, ax, 0.5, 60)
    assert blue > red + 0.3


def test_bar_lines_follow_tempo_and_time_signature(tmp_path):
    path = write_midi(tmp_path / "a.mid", [(0, 10, 60, 90)])  # 10 beats at 120 bpm: 5 s
    assert pianoroll.bar_times(mido.MidiFile(path)) == pytest.approx([2.0, 4.0])  # 4/4 default
    path = write_midi(tmp_path / "b.mid", [(0, 7, 60, 90)], tempo=600_000)  # 100 bpm: 4.2 s
    mid = mido.MidiFile(path)
    mid.tracks[0].insert(0, mido.MetaMessage("time_signature", numerator=3, denominator=4))
    assert pianoroll.bar_times(mid) == pytest.approx([1.8, 3.6])  # 3 beats of 0.6 s
    image, ax = render(tmp_path, pianoroll.midi_notes(mid), bars=pianoroll.bar_times(mid))
    line, between = pixel(image, ax, 1.8, 64), pixel(image, ax, 1.2, 64)  # above the note
    assert line.sum() < WHITE and between.sum() > WHITE


def test_note_names_label_each_c():
    assert [pianoroll.note_name(p) for p in (0, 60, 61, 71, 72)] == ["C-1", "C4", "C#4", "B4", "C5"]
    notes = [pianoroll.Note(57, 0, 1, 80), pianoroll.Note(74, 1, 2, 80)]
    ax = pianoroll.figure(notes).axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["C4", "C5"]


def test_gen_plot_draws_a_file_and_refuses_to_overwrite(tmp_path):
    midi = two_notes(tmp_path)
    result = run("plot", midi)
    assert result.exit_code == 0 and f"wrote {tmp_path / 'two.png'} (2 notes)" in result.output
    assert (tmp_path / "two.png").read_bytes().startswith(b"\x89PNG")
    again = run("plot", midi)
    assert again.exit_code == 1 and "already exists; use --force" in again.output
    out = tmp_path / "roll.png"
    assert run("plot", midi, "--out", out).exit_code == 0
    assert run("plot", midi, "--force").exit_code == 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["plot", "missing.mid"], "Error: 'missing.mid': cannot read"),
        (["plot", "notes.txt"], "Error: 'notes.txt': not a MIDI file: it is text"),
        (["plot", "two.mid", "--out", "two.jpg"], "writes .png files, not '.jpg'"),
    ],
)
def test_gen_plot_errors_are_one_line(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    two_notes(tmp_path)
    (tmp_path / "notes.txt").write_text("C D E\n")
    result = run(*args)
    assert result.exit_code == 1 and message in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_plot_is_refused_for_verse_and_standard_output():
    from generator.corpora.midi import MidiCorpus
    from generator.corpora.text import TextCorpus
    from generator.targets import check_targets

    with pytest.raises(GenError, match="--plot draws piano rolls of music; .* 'text'"):
        check_targets("poem.txt", 1, TextCorpus(), False, plot=True)
    with pytest.raises(GenError, match="give --out NAME, not '-'"):
        check_targets("-", 1, MidiCorpus(), False, plot=True)
