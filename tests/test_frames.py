"""The `frames` plugin: sixteenth-note frames of the sounding pitches, to and from MIDI."""

from __future__ import annotations

import mido
import pytest
from conftest import run, scale_corpus, tiny, trained_run, write_midi

from generator.corpora import get_corpus
from generator.corpora.frames import FramesCorpus
from generator.corpora.midifile import midi_notes
from generator.errors import GenError

PLUGIN = FramesCorpus()


def test_a_chord_a_held_note_and_a_rest_give_these_frames(tmp_path):
    # C E G for a quarter note, then G held while A is struck (an eighth), then a rest
    notes = [(0, 1, 60, 90), (0, 1, 64, 90), (0, 1.5, 67, 90), (1, 0.5, 69, 90)]
    tokens = PLUGIN.encode_file(write_midi(tmp_path / "a.mid", notes + [(2, 0.25, 48, 90)]))
    chord = ["n:67", "n:64", "n:60", "|"] + ["h:67", "h:64", "h:60", "|"] * 3
    moving = ["n:69", "h:67", "|", "h:69", "h:67", "|"]
    assert tokens == chord + moving + ["|", "|", "n:48", "|"]


def test_a_note_struck_again_is_two_notes_and_unlisted_pitches_end():
    tokens = ["n:60", "|", "n:60", "|", "h:60", "|", "h:62", "x", "|", "|"]
    notes = [(n.pitch, n.start, n.end) for n in PLUGIN.notes(tokens)]
    # a held pitch that was not sounding starts where it is listed; "x" is ignored
    assert notes == [(60, 0.0, 0.125), (60, 0.125, 0.375), (62, 0.375, 0.5)]


def test_the_tempo_and_resolution_of_the_file_do_not_move_notes_off_the_grid(tmp_path):
    notes = [(0, 0.75, 60, 90), (0.75, 0.25, 62, 90), (1, 2, 64, 90), (1, 2, 55, 90)]
    slow = PLUGIN.encode_file(
        write_midi(tmp_path / "s.mid", notes, ticks_per_beat=96, tempo=900_000)
    )
    fast = PLUGIN.encode_file(write_midi(tmp_path / "f.mid", notes, tempo=400_000))
    assert slow == fast
    assert slow.count("|") == 12  # three beats of four sixteenths


def test_encode_write_encode_is_the_same_and_notes_lie_on_the_grid(tmp_path):
    notes = [(b * 0.25, 0.25 * (1 + b % 3), 60 + (b * 5) % 17, 90) for b in range(24)]
    notes += [(0.1, 0.3, 40, 90)]  # off the grid: quantised to the nearest sixteenth
    tokens = PLUGIN.encode_file(write_midi(tmp_path / "in.mid", notes))
    PLUGIN.write(tokens, tmp_path / "out.mid")
    assert PLUGIN.encode_file(tmp_path / "out.mid") == tokens
    written = midi_notes(mido.MidiFile(tmp_path / "out.mid"))
    assert {round(n.start / 0.125, 6) % 1 for n in written} == {0}
    assert [(n.pitch, n.start, n.end) for n in written] == [
        (n.pitch, n.start, n.end) for n in PLUGIN.notes(tokens)
    ]


def test_drums_are_left_out_and_a_file_of_drums_alone_has_no_notes(tmp_path):
    drums = write_midi(tmp_path / "d.mid", [(0, 1, 36, 90)], channel=9)
    with pytest.raises(GenError, match="no notes"):
        PLUGIN.encode_file(drums)


def test_transposition_moves_pitches_and_keeps_frame_ends():
    assert PLUGIN.transposed(["n:60", "h:127", "|"], 2) == ["n:62", "h:127", "|"]
    assert PLUGIN.token_pitch("n:60") == 60 and PLUGIN.token_pitch("h:60") is None
    assert [PLUGIN.token_length(t, "seconds") for t in ("n:60", "|")] == [0.0, 0.125]


def test_it_is_a_built_in_plugin_that_trains_and_samples_on_the_grid(tmp_path):
    assert isinstance(get_corpus("frames"), FramesCorpus)
    corpus = scale_corpus(tmp_path / "tunes")
    ckpt = trained_run(tmp_path, ["--corpus", "frames", "--path", corpus], "f", *tiny())
    result = run("sample", "--checkpoint", ckpt, "--out", tmp_path / "s.mid", "--seconds", 4)
    assert result.exit_code == 0, result.output
    written = midi_notes(mido.MidiFile(tmp_path / "s.mid"))
    assert written and all(abs(n.start / 0.125 - round(n.start / 0.125)) < 1e-6 for n in written)


def test_a_huge_delta_at_a_tiny_tempo_is_refused_before_its_frames_are_made(tmp_path):
    # half a second at a microsecond a beat, but 559,000 beats: 2.2 million sixteenth notes
    path = write_midi(tmp_path / "long.mid", [(0, 559_000, 60, 90)], ticks_per_beat=480, tempo=1)
    with pytest.raises(GenError, match="sixteenth notes"):
        PLUGIN.encode_file(path)


def test_sheet_music_keeps_every_note_on_its_sixteenth(tmp_path):
    from music21 import converter

    tokens = ["n:72", "n:60", "|", "h:72", "n:64", "|", "n:67", "|", "h:67", "|", "|", "n:65", "|"]
    PLUGIN.write(tokens, tmp_path / "s.musicxml")
    notes = converter.parse(tmp_path / "s.musicxml").flatten().notes
    starts = sorted((float(n.offset), p.midi) for n in notes for p in n.pitches)
    assert starts == [(0.0, 60), (0.0, 72), (0.25, 64), (0.5, 67), (1.25, 65)]
