"""The `remi` and `tsd` plugins (MidiTok): every instrument and the drums kept, time on the beat
grid, files round-trip, bad files are skipped with `midi`'s reasons, and sampled streams obey
MidiTok's own grammar check."""

from __future__ import annotations

from pathlib import Path

import mido
import pytest
from conftest import run, scale_corpus, tiny

from generator.corpora.metrical import RemiCorpus, TsdCorpus
from generator.errors import GenError

PLUGINS = [RemiCorpus(), TsdCorpus()]
IDS = [p.name for p in PLUGINS]


def band(path, time_signature=(3, 4), tempo_change=True):
    """A type-1 file: piano, bass and drums, a sustain pedal, a tempo change, in 3/4."""
    beat = 480
    meta = mido.MidiTrack([mido.MetaMessage("time_signature", numerator=time_signature[0],
                                            denominator=time_signature[1], time=0),
                           mido.MetaMessage("set_tempo", tempo=500_000, time=0)])  # fmt: skip
    if tempo_change:
        meta.append(mido.MetaMessage("set_tempo", tempo=400_000, time=6 * beat))
    piano = mido.MidiTrack([mido.Message("program_change", channel=0, program=0, time=0)])
    piano.append(mido.Message("control_change", channel=0, control=64, value=127, time=0))
    for pitch in [60, 64, 67, 72, 67, 64]:
        piano.append(mido.Message("note_on", channel=0, note=pitch, velocity=90, time=0))
        piano.append(mido.Message("note_off", channel=0, note=pitch, time=beat))
    piano.append(mido.Message("control_change", channel=0, control=64, value=0, time=0))
    bass = mido.MidiTrack([mido.Message("program_change", channel=1, program=33, time=0)])
    for pitch in (36, 43, 36, 41):
        bass.append(mido.Message("note_on", channel=1, note=pitch, velocity=100, time=0))
        bass.append(mido.Message("note_off", channel=1, note=pitch, time=3 * beat // 2))
    drums = mido.MidiTrack()
    for k in range(9):
        drums.append(mido.Message("note_on", channel=9, note=36 if k % 3 == 0 else 42,
                                  velocity=110, time=0 if k == 0 else beat // 2))  # fmt: skip
        drums.append(mido.Message("note_off", channel=9, note=36 if k % 3 == 0 else 42, time=0))
    mid = mido.MidiFile(type=1, ticks_per_beat=beat)
    mid.tracks.extend([meta, piano, bass, drums])
    mid.save(path)
    return path


@pytest.mark.parametrize("plugin", PLUGINS, ids=IDS)
@pytest.mark.parametrize("time_signature", [(7, 8), (5, 4), (6, 8)])
def test_odd_metres_round_trip(plugin, tmp_path, time_signature):
    tokens = plugin.encode_file(band(tmp_path / "band.mid", time_signature))
    assert f"TimeSig_{time_signature[0]}/{time_signature[1]}" in tokens
    plugin.write(tokens, tmp_path / "out.mid")
    assert plugin.encode_file(tmp_path / "out.mid") == tokens


@pytest.mark.parametrize("plugin", PLUGINS, ids=IDS)
def test_drums_alone_round_trip(plugin, tmp_path):
    mid = mido.MidiFile(ticks_per_beat=480)
    hits = mido.MidiTrack()
    for k in range(8):
        hits.append(
            mido.Message("note_on", channel=9, note=36 + k % 3, velocity=100, time=240 * bool(k))
        )
        hits.append(mido.Message("note_off", channel=9, note=36 + k % 3, time=0))
    mid.tracks.append(hits)
    mid.save(tmp_path / "drums.mid")
    tokens = plugin.encode_file(tmp_path / "drums.mid")
    assert all(n.drum for n in plugin.notes(tokens)) and len(plugin.notes(tokens)) == 8
    plugin.write(tokens, tmp_path / "out.mid")
    assert plugin.encode_file(tmp_path / "out.mid") == tokens


@pytest.mark.parametrize("plugin", PLUGINS, ids=IDS)
def test_a_band_keeps_its_instruments_drums_and_pedal_and_round_trips(plugin, tmp_path):
    tokens = plugin.encode_file(band(tmp_path / "band.mid"))
    assert any(t.startswith("PitchDrum_") for t in tokens)  # the drums are kept
    assert {"Program_0", "Program_33", "Program_-1"} <= set(tokens)
    assert any(t.startswith("Pedal_") for t in tokens) and any("TimeSig_3/4" == t for t in tokens)
    plugin.write(tokens, tmp_path / "out.mid")
    assert plugin.encode_file(tmp_path / "out.mid") == tokens  # encode -> write -> encode
    written = mido.MidiFile(tmp_path / "out.mid")
    programs = {m.program for t in written.tracks for m in t if m.type == "program_change"}
    drum_notes = [m for t in written.tracks for m in t if m.type == "note_on" and m.channel == 9]
    assert {0, 33} <= programs and len(drum_notes) == 9  # a track each, drums on channel 10
    notes = plugin.notes(tokens)
    assert {(n.program, n.drum) for n in notes} == {(0, False), (33, False), (0, True)}
    assert sum(n.drum for n in notes) == 9 and sum(n.program == 33 for n in notes) == 4
    assert plugin.bar_seconds(tokens)[0] == pytest.approx(1.5, abs=0.02)  # 3 beats, ~120 bpm


@pytest.mark.parametrize("plugin", PLUGINS, ids=IDS)
def test_notes_lie_on_the_beat_grid(plugin, tmp_path):
    # onsets 10 ticks off the beat (of 480) are written on the grid (eighths of a beat)
    path = tmp_path / "loose.mid"
    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    for k, pitch in enumerate([60, 62, 64, 65]):
        track.append(mido.Message("note_on", note=pitch, velocity=80, time=10 if k else 7))
        track.append(mido.Message("note_off", note=pitch, time=460))
    mid.tracks.append(track)
    mid.save(path)
    starts = [n.start for n in plugin.notes(plugin.encode_file(path))]
    beat = starts[1]  # MidiTok's tempo nearest to 120 bpm: 121.29
    assert beat == pytest.approx(60 / 121.29, rel=1e-3)
    assert [s / beat for s in starts] == pytest.approx([0, 1, 2, 3])  # each on its beat
    assert plugin.beat_seconds(plugin.encode_file(path)) == pytest.approx(beat)  # the written tempo


def test_transposition_moves_pitches_but_never_drums():
    plugin = RemiCorpus()
    assert plugin.augment("Pitch_60", 2) == "Pitch_62"
    assert plugin.augment("PitchDrum_36", 2) == "PitchDrum_36"
    assert plugin.augment("Position_8", -3) == "Position_8"
    assert plugin.augmentations() == (-3, -2, -1, 1, 2, 3)


def test_lengths_in_seconds_at_120_bpm_in_four_four():
    assert RemiCorpus().token_length("Bar_None", "seconds") == 2.0
    assert RemiCorpus().token_length("Position_8", "seconds") == 0.0
    assert TsdCorpus().token_length("TimeShift_1.4.8", "seconds") == 0.75  # 1.5 beats
    with pytest.raises(GenError, match="cannot measure length in lines"):
        TsdCorpus().token_length("TimeShift_1.4.8", "lines")


@pytest.mark.slow
@pytest.mark.parametrize("name", IDS)
def test_a_trained_model_samples_what_miditok_calls_error_free(name, tmp_path):
    from generator.checkpoint import load_checkpoint
    from generator.config import SampleConfig
    from generator.sample import Sampler

    corpus = scale_corpus(tmp_path / "midi", files=6)
    band(corpus / "band.mid")
    args = ("train", "--corpus", name, "--path", corpus, "--run", "m", *tiny(epochs=3))
    result = run(*args)
    assert result.exit_code == 0, result.output
    ckpt = load_checkpoint(Path("checkpoints/m"))
    assert ckpt.learned_grammar()["Pitch"] == ["Velocity"]  # learned from the corpus
    sampler = Sampler(ckpt)
    rows, _, _ = sampler.draw(
        sampler.start([])[None].repeat(8, 0), SampleConfig(max_tokens=300, seed=4, temperature=1.5)
    )
    plugin = sampler.plugin
    for row in rows:
        assert plugin._tokenizer.tokens_errors(sampler.vocab.decode(row)) == 0
    out = tmp_path / "s.mid"
    assert run("sample", "--checkpoint", ckpt.path, "--out", out, "--seconds", 4).exit_code == 0
    assert plugin.encode_file(out)  # a MIDI file that reads back
    score = tmp_path / "s.musicxml"
    assert run("sample", "--checkpoint", ckpt.path, "--out", score, "--seconds", 4).exit_code == 0
    from music21 import converter

    notes = converter.parse(score).flatten().notes
    offsets = [float(n.offset) for n in notes]
    assert offsets and all((8 * o) % 1 == 0 for o in offsets)  # on the grid: eighths of a beat
    bass_family = {(program, False) for program in range(32, 40)}
    for programs, played in (("bass", bass_family), ("drums,0", {(0, True), (0, False)})):
        args = ("sample", "--checkpoint", ckpt.path, "--seconds", 8, "--seed", 2, "--force")
        assert run(*args, "--out", out, "--programs", programs).exit_code == 0
        notes = plugin.notes(plugin.encode_file(out))
        assert notes and {(n.program, n.drum) for n in notes} <= played, programs


def test_programs_are_numbers_drums_families_or_general_midi_names():
    from generator.config import parse_programs

    assert parse_programs("0,33,drums") == (-1, 0, 33)
    assert parse_programs("bass, Piano") == (0, 1, 2, 3, 4, 5, 6, 7, 32, 33, 34, 35, 36, 37, 38, 39)
    assert parse_programs("Violin, acoustic  grand piano,banjo,gunshot") == (0, 40, 105, 127)
    hint = r"unknown instrument 'violn' in --programs \(did you mean 'violin'\?\); give programs "
    with pytest.raises(GenError, match=hint):
        parse_programs("piano,violn")
    with pytest.raises(GenError, match="unknown instrument 'kazoo' in --programs; give programs "):
        parse_programs("piano,kazoo")  # no far-fetched guess (koto)
    with pytest.raises(GenError, match="unknown instrument '128'"):
        parse_programs("128")


def test_programs_are_refused_for_a_run_that_does_not_choose_instruments(tmp_path):
    corpus = scale_corpus(tmp_path / "midi", files=4)
    assert run("train", "--path", corpus, "--run", "p", *tiny(epochs=1)).exit_code == 0
    result = run("sample", "--checkpoint", "checkpoints/p", "--out", "x.mid", "--programs", "0")
    assert result.exit_code == 1
    assert "corpus 'midi' does not choose instruments; --programs works with" in result.output


def test_a_grammar_learned_from_the_corpus_keeps_what_followed_and_no_dead_end():
    import numpy as np

    from generator.corpora.base import Corpus
    from generator.data import SegmentedStream
    from generator.tokenmaps import kind_transitions
    from generator.vocab import Vocab

    class Letters(Corpus):
        def token_kind(self, token):
            return token[0].upper()  # a1, a2 -> kind A

    vocab = Vocab(["<unk>", "<start>", "a1", "a2", "b1", "c1"])
    tokens = ["<start>", "a1", "b1", "a2", "b1", "c1", "<start>", "a2", "<unk>", "c1"]
    stream = SegmentedStream.of(np.array([vocab.index[t] for t in tokens]))
    # C only ever ended a piece: a stream sent there would have nowhere to go, so it is cut
    assert kind_transitions(Letters(), vocab, stream) == {"<start>": ["A"], "A": ["B"], "B": ["A"]}
    assert kind_transitions(Corpus(), vocab, stream) is None  # no kinds named: no grammar
