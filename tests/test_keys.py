"""Keys as control tokens: names as a musician writes them, the key music21 finds, keys moved
with transposition, and `gen sample --key` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import run, tiny, write_midi

from generator import keys
from generator.corpora.base import Note
from generator.corpora.midi import MidiCorpus
from generator.errors import GenError


@pytest.mark.parametrize(
    "text, name",
    [("D minor", "D minor"), ("dm", "D minor"), ("F#", "F# major"), ("Gb major", "F# major"),
     ("B- major", "Bb major"), ("a# min", "Bb minor"), ("Cb", "B major"), ("E minor", "E minor")],
)  # fmt: skip
def test_key_names_are_read_as_a_musician_writes_them(text, name):
    assert keys.parse(text) == name


def test_an_unknown_key_is_one_line_listing_the_keys():
    with pytest.raises(GenError, match=r"unknown key 'H minor'; give one of C major, C# major"):
        keys.parse("H minor")


def music21_key(weights) -> str:
    """The key music21's own analysis finds for pitch-class durations: the reference."""
    from music21 import note, stream

    part = stream.Stream()
    for pitch_class in np.flatnonzero(weights):
        part.append(note.Note(60 + int(pitch_class), quarterLength=float(weights[pitch_class])))
    found = part.analyze("key")
    return f"{keys.TONICS[found.tonic.pitchClass]} {found.mode}"


def test_the_key_finder_gives_music21s_answers():
    rng = np.random.default_rng(0)
    for _ in range(150):
        weights = np.round(rng.exponential(1.0, 12) * (rng.random(12) < 0.6), 2)  # some absent
        weights[rng.integers(12)] += 0.25  # never none
        assert keys.key_of_weights(weights) == music21_key(weights), weights


def scale(tonic: int, minor: bool) -> list[Note]:
    """A scale and its tonic triad, a beat a note at 120 bpm."""
    steps = [0, 2, 3, 5, 7, 8, 11, 12] if minor else [0, 2, 4, 5, 7, 9, 11, 12]
    third = 3 if minor else 4
    melody = [Note(tonic + s, 0.5 * k, 0.5 * k + 0.5) for k, s in enumerate(steps)]
    chord = [Note(tonic + s, 4.0, 6.0) for s in (0, third, 7)]
    return melody + chord


def test_the_key_of_a_scale_is_its_key_and_moves_with_transposition():
    assert keys.key_of(scale(62, minor=True)) == "D minor"
    assert keys.key_of(scale(67, minor=False)) == "G major"
    assert keys.key_of([Note(36, 0, 1, drum=True)]) is None  # drums have no key
    assert (
        keys.transposed("D minor", 3) == "F minor" and keys.transposed("C major", -1) == "B major"
    )
    assert keys.key_of_token(keys.token("Eb major")) == "Eb major"
    assert keys.key_of_token("<key:H major>") is None and keys.key_of_token("on:60") is None


def test_with_a_key_asked_the_piece_in_its_mode_is_moved_to_its_tonic():
    plugin = MidiCorpus()

    def events(notes):
        stream = []
        for n in notes:  # one after another: a melody is enough for the analysis
            stream += ["vel:20", f"on:{n.pitch}", f"shift:{round(100 * (n.end - n.start))}"]
            stream += [f"off:{n.pitch}"]
        return stream

    c_major, a_minor = events(scale(60, minor=False)), events(scale(57, minor=True))
    chosen = keys.fitted(plugin, [c_major, a_minor], "D minor")  # the minor one, up a fourth
    assert keys.key_of(plugin.notes(chosen)) == "D minor"
    chosen = keys.fitted(plugin, [a_minor], "F# major")  # no major one: the first, moved
    assert keys.key_of(plugin.notes(chosen)).startswith("F# ")
    assert keys.fitted(plugin, [a_minor], "F# major", fallback=False) is None


def _melody(tonic: int, minor: bool) -> list[str]:
    """Performance events of a scale and its tonic triad's notes, one after another."""
    third = 3 if minor else 4
    arpeggio = [Note(tonic + s, 6.0 + k, 7.0 + k) for k, s in enumerate((0, third, 7, 12, 7, 0))]
    stream = []
    for n in scale(tonic, minor) + arpeggio:
        stream += ["vel:20", f"on:{n.pitch}", f"shift:{round(100 * (n.end - n.start))}"]
        stream += [f"off:{n.pitch}"]
    return stream


@pytest.mark.parametrize("rounds, minor", [(3, True), (1, False)])
def test_an_output_with_no_piece_in_the_keys_mode_draws_more(rounds, minor):
    plugin = MidiCorpus()
    c_major, a_minor = _melody(60, minor=False), _melody(57, minor=True)
    assert [keys.key_of(plugin.notes(p)) for p in (c_major, a_minor)] == ["C major", "A minor"]
    asked = []

    def draw(n, round_):  # major pieces first, then minor ones
        asked.append((n, round_))
        return [c_major if round_ == 0 else a_minor] * n

    chosen = keys.in_key(draw, plugin, "D minor", size=2, per=3, rounds=rounds)
    assert asked == [(6, 0), (6, 1)][:rounds]  # once more for both outputs, then no more
    found = [keys.key_of(plugin.notes(piece)) for piece in chosen]
    assert found == (["D minor"] * 2 if minor else ["D major"] * 2)  # else the first, moved
    asked.clear()
    keys.in_key(lambda n, r: draw(n, r + 1), plugin, "D minor", size=2, per=3, rounds=rounds)
    assert asked == [(6, 1)]  # the first draw has them: no more


def test_each_further_round_for_a_key_holds_it_a_nat_more_firmly():
    from generator.config import SampleConfig
    from generator.outputs import round_config

    asked = SampleConfig(key="D minor", key_bias=1.0)
    assert [round_config(asked, r).key_bias for r in range(4)] == [1.0, 2.0, 3.0, 4.0]
    assert round_config(SampleConfig(key_bias=0.0), 3).key_bias == 0.0  # none asked: none
    assert round_config(SampleConfig(key_bias=99.5), 3).key_bias == 100.0  # the most allowed


def test_a_keys_scale_and_the_penalty_of_notes_outside_it():
    from generator.corpora.metrical import RemiCorpus
    from generator.tokenmaps import key_bias
    from generator.vocab import Vocab

    assert keys.scale_classes("C major") == {0, 2, 4, 5, 7, 9, 11}
    assert keys.scale_classes("A minor") == {9, 11, 0, 2, 4, 5, 7, 8}  # G#, the leading tone
    assert keys.scale_classes("Eb major") == {3, 5, 7, 8, 10, 0, 2}
    tokens = ["<unk>", "<start>", "on:60", "on:61", "off:61", "shift:5", "on:73", "<key:C major>"]
    bias = key_bias(MidiCorpus(), Vocab(tokens), "C major", 2.5)
    assert bias.tolist() == [0, 0, 0, -2.5, 0, 0, -2.5, 0]  # note-ons of C# only
    remi = RemiCorpus()
    assert [remi.token_pitch(t) for t in ("Pitch_61", "PitchDrum_61", "Program_61")] == [
        61, None, None,
    ]  # fmt: skip


def test_augmentation_moves_the_key_token_with_the_notes():
    from generator.tokenmaps import augmentation_maps
    from generator.vocab import Vocab

    vocab = Vocab(["<unk>", "<start>", "on:60", "on:62", "<key:C major>", "<key:D major>"])
    maps = augmentation_maps(MidiCorpus(), vocab)  # rows: identity, -3 ... +3 but 0
    plus_two = maps[5]
    assert plus_two.tolist() == [0, 1, 3, 3, 5, 5]  # C major -> D major, like on:60 -> on:62


@pytest.mark.slow
def test_a_model_trained_with_keys_samples_in_the_key_asked(tmp_path):
    corpus = tmp_path / "midi"
    corpus.mkdir()
    for k, (tonic, minor) in enumerate([(60, False), (62, True), (67, False), (57, True)] * 2):
        notes = [(n.start * 2, (n.end - n.start) * 2, n.pitch, 80) for n in scale(tonic, minor)]
        write_midi(corpus / f"{k}.mid", notes)
    assert run("train", "--path", corpus, "--run", "k", *tiny(epochs=2)).exit_code == 0
    config = json.loads(open("checkpoints/k/config.json").read())
    assert sum(config["keys"].values()) == 7  # the pieces of the training split, one held out
    assert set(config["keys"]) <= {"C major", "D minor", "G major", "A minor"}
    args = ("sample", "--checkpoint", "checkpoints/k", "--length", 30, "--json", "-n", 3)
    result = run(*args, "--out", tmp_path / "d.mid", "--key", "dm")
    assert result.exit_code == 0, result.output
    assert [s["key"] for s in json.loads(result.stdout)] == ["D minor"] * 3
    drawn = json.loads(run(*args, "--out", tmp_path / "x.mid", "--seed", 1).stdout)
    assert {s["key"] for s in drawn} <= set(config["keys"])  # drawn from the corpus's keys
    result = run("sample", "--checkpoint", "checkpoints/k", "--out", "y.mid", "--key", "H")
    assert result.exit_code == 1 and "unknown key 'H'" in result.output
    held = run(*args, "--out", tmp_path / "b.mid", "--seed", 2, "--key-bias", 100, "--length", 90)
    played = 0
    for s in json.loads(held.stdout):  # notes out of each output's key held back entirely
        notes = MidiCorpus().notes(MidiCorpus().encode_file(Path(s["path"])))
        assert {n.pitch % 12 for n in notes} <= keys.scale_classes(s["key"]), s["key"]
        played += len(notes)
    assert played > 0


def test_key_is_refused_for_a_run_without_keys(tmp_path):
    (tmp_path / "poem.txt").write_text("the cat sat on the mat\n" * 40)
    args = ("train", "--corpus", "text", "--path", tmp_path / "poem.txt", "--run", "t")
    assert run(*args, *tiny(epochs=1)).exit_code == 0
    result = run("sample", "--checkpoint", "checkpoints/t", "--out", "-", "--key", "C")
    assert result.exit_code == 1 and "--key: this run was trained without keys" in result.output
