"""Evaluation: loss against a hand-computed value, the n-gram baseline, sample statistics,
copy rate, and `gen evaluate` end to end."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import run, scale_corpus, tiny, write_midi

from generator import data, stats
from generator.metrics import CopyIndex, copy_rate
from generator.ngram import NGram, baselines


def test_the_validation_score_does_not_depend_on_how_many_windows_go_at_once():
    from generator.loss import loss_scorer, score_batch
    from generator.model import ModelConfig, build_model

    model = build_model(ModelConfig(vocab_size=7, embed_dim=4, units=8, layers=2, dropout=0))
    stream = np.random.default_rng(0).integers(0, 7, 16 * 37 + 1).astype(np.int32)
    stream = data.SegmentedStream.of(stream)
    one, many = (loss_scorer(model, 16, batch)(stream) for batch in (1, score_batch(16)))
    assert score_batch(16) == 512 and score_batch(128, 16) == 64 and score_batch(128, 96) == 96
    assert one[1] == many[1] == 16 * 37  # every window scored, none dropped
    assert one[0] == pytest.approx(many[0], rel=1e-6)


def test_loss_matches_a_hand_computed_value():
    from generator.evaluate import model_nats
    from generator.model import ModelConfig, build_model

    model = build_model(ModelConfig(vocab_size=3, embed_dim=2, units=4, layers=1, dropout=0))
    probs = np.array([0.5, 0.3, 0.2])
    # zero weights: every position's logits are the output bias, log(probs)
    model.set_weights([np.zeros(w.shape, np.float32) for w in model.get_weights()])
    model.get_layer("logits").bias.assign(np.log(probs).astype(np.float32))
    vocab = SimpleNamespace(tokens=["a", "b", "c"])
    ckpt = SimpleNamespace(
        train=SimpleNamespace(scored_len=4), vocab=vocab, load_model=lambda which: model
    )
    stream = np.array([0, 1, 2, 0, 0, 1, 1, 2, 0], np.int32)  # two windows of 4
    nats, count = model_nats(ckpt, stream)
    targets = stream[1:]
    assert count == 8
    assert nats == pytest.approx(-np.log(probs[targets]).mean(), rel=1e-5)
    vocab.tokens[2] = "<key:C major>"  # a control token: given, never scored
    nats, count = model_nats(ckpt, stream)
    assert count == 6  # the two targets that are the key are left out
    assert nats == pytest.approx(-np.log(probs[targets[targets != 2]]).mean(), rel=1e-5)


def test_unigram_kneser_ney_by_hand():
    model = NGram(1, vocab_size=3).fit([0, 0, 1])
    # counts 2 and 1 of 3, two types: p(w) = max(c - 0.75, 0) / 3 + 0.75 * 2 / 3 * 1/3
    assert model.prob((), 0) == pytest.approx(1.25 / 3 + 0.5 / 3)
    assert model.prob((), 1) == pytest.approx(0.25 / 3 + 0.5 / 3)
    assert model.prob((), 2) == pytest.approx(0.5 / 3)
    assert model.nats([0, 1]) == pytest.approx(-math.log(0.75 / 3))


def test_ngram_distributions_sum_to_one_and_longer_contexts_help():
    rng = np.random.default_rng(0)
    pattern = [0, 1, 2, 3, 1, 2, 0, 3]
    train = np.array(pattern * 50 + rng.integers(0, 5, 40).tolist())
    model = NGram(3, vocab_size=6).fit(train)
    for history in [(), (1,), (1, 2), (5, 5), (0, 3)]:
        assert sum(model.prob(history, w) for w in range(6)) == pytest.approx(1.0)
    results = baselines(train, np.array(pattern * 5), 6, range(1, 4))
    assert results[1] > results[2] > results[3]  # the pattern is predictable from 2 tokens
    assert results[1] == pytest.approx(NGram(1, 6).fit(train).nats(pattern * 5))


def test_music_statistics_of_a_known_file(tmp_path):
    from generator.corpora.midi import MidiCorpus

    # at 120 bpm: C4 and E4 for one beat (0.5 s) each, then a C-E-G chord for two beats
    notes = [(0, 1, 60, 80), (1, 1, 64, 80), (2, 2, 60, 80), (2, 2, 64, 80), (2, 2, 67, 80)]
    plugin = MidiCorpus()
    played = plugin.notes(plugin.encode_file(write_midi(tmp_path / "k.mid", notes)))
    hist = stats.pitch_class_histogram([played])
    np.testing.assert_allclose(hist[[0, 4, 7]], [1.5 / 4, 1.5 / 4, 1 / 4], atol=1e-6)
    assert hist.sum() == pytest.approx(1.0) and hist[[1, 2, 3, 5, 6, 8, 9, 10, 11]].sum() == 0
    figures = stats.music([played])
    assert figures["notes_per_second"] == pytest.approx(5 / 2.0)
    assert figures["pitch_range"] == 7
    assert figures["mean_note_seconds"] == pytest.approx((0.5 + 0.5 + 3 * 1.0) / 5)
    assert figures["polyphony"] == pytest.approx((1 * 1.0 + 3 * 1.0) / 2.0)
    assert figures["in_key_share"] == 1.0 and "on_grid_share" not in figures
    assert stats.histogram_distance(hist, hist) == 0.0
    assert stats.music([played], [0.5])["on_grid_share"] == 1.0  # onsets at 0, 0.5 and 1 s
    # a quarter note of 0.3 s: sixteenths of 75 ms, so 0.5 s and 1 s are 25 ms off the grid
    assert stats.music([played], [0.3])["on_grid_share"] == pytest.approx(1 / 5)


def test_verse_statistics_and_copy_rate_with_known_overlap():
    figures = stats.verse(["the cat sat\nupon the mat\nthe dog\n"])
    assert figures["lines"] == 3 and figures["mean_line_chars"] == pytest.approx(30 / 3)
    assert figures["distinct_1"] == pytest.approx(6 / 8)  # the x3, cat sat upon mat dog
    assert figures["rhymed_line_share"] == pytest.approx(2 / 3)  # sat / mat

    def ids(text):
        return np.array([ord(c) for c in text])

    index = CopyIndex(ids("abcdefgh"), 3, unk_id=ord("?"))
    assert copy_rate([ids("abcdxyz")], index) == pytest.approx(2 / 5)  # abc, bcd
    assert copy_rate([ids("ab")], index) is None
    assert index.count(ids("ab?def")) == (1, 4)  # def; a run holding <unk> is never found


def test_copy_lookup_agrees_with_numpy_isin():
    rng = np.random.default_rng(0)
    corpus = rng.integers(0, 6, 5000)
    index = CopyIndex(corpus, 4)
    for _ in range(20):
        hashes = rng.choice(
            np.concatenate([index.hashes, rng.integers(0, 2**63, 50, np.uint64)]), 80
        )
        assert np.array_equal(index._held(hashes), np.isin(hashes, index.hashes))
    assert not CopyIndex(np.zeros(0, int), 4)._held(hashes).any()  # an empty corpus holds none


@pytest.mark.slow
def test_gen_evaluate_end_to_end(tmp_path):
    corpus = scale_corpus(tmp_path / "midi", files=6)
    assert run("train", "--path", corpus, "--run", "m", *tiny()).exit_code == 0
    result = run("evaluate", "--checkpoint", "checkpoints/m", "--json", "--ngram-order", 3)
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["tokens"] > 0 and set(figures["ngram"]) == {"1", "2", "3"}
    assert figures["bits_per_event"] == pytest.approx(figures["nats_per_event"] / math.log(2))
    assert figures["nats_per_second"] > 0
    text = run("evaluate", "--checkpoint", "checkpoints/m").output
    assert "the best n-gram (order" in text and "nats per second of music" in text

    assert run("sample", "--checkpoint", "checkpoints/m", "--out", "s.mid", "-n", 2).exit_code == 0
    result = run("evaluate", "--checkpoint", "checkpoints/m", "--samples", ".", "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["samples"] == 2 and 0 <= figures["pitch_class_distance"] <= 1
    assert figures["corpus"]["in_key_share"] == 1.0  # the corpus is major scales and triads
    assert figures["corpus"]["on_grid_share"] == 1.0  # and plays on the beat
    assert 0 <= figures["sample"]["on_grid_share"] <= 1
    assert "classifier" in figures and figures["classifier"] is None  # 2: too few to measure
    result = run("evaluate", "--checkpoint", "checkpoints/m", "--samples", ".", "--path", ".")
    assert result.exit_code == 1 and "not both" in result.output


def test_excerpts_cut_verse_into_runs_of_lines_spread_over_the_text():
    from generator.twosample import excerpts

    text = "\n\n".join(f"line {i}" for i in range(10))  # blank lines are not counted
    assert excerpts(text, 3, 5) == ["line 0\nline 1\nline 2", "line 3\nline 4\nline 5"] + [
        "line 6\nline 7\nline 8"
    ]
    assert excerpts(text, 2, 2) == ["line 0\nline 1", "line 8\nline 9"]  # first and last


def test_verse_classifier_tells_shuffled_words_from_verse_but_not_verse_from_verse():
    pytest.importorskip("sklearn")
    from conftest import SHARED_DATA

    from generator.twosample import excerpts, verse_accuracy

    path = SHARED_DATA / "english-verse" / "shakespeare-sonnets.txt"
    if not path.exists():
        pytest.skip(f"{path} is not here (../shared/data)")
    poems = excerpts(path.read_text(), 14, 60)
    rng = np.random.default_rng(0)
    shuffled = [  # each line's words shuffled: the same words and lines, in no order
        "\n".join(" ".join(rng.permutation(line.split())) for line in p.splitlines())
        for p in poems[1::2]
    ]
    assert verse_accuracy(poems[::2], shuffled) >= 0.9  # word order gives them away
    assert verse_accuracy(poems[::2], poems[1::2]) <= 0.75  # the same poet either side
    assert verse_accuracy(poems[:3], shuffled[:3]) is None  # too few to cross-validate


def test_music_classifier_tells_scales_from_chromatic_runs_but_not_scales_from_scales():
    pytest.importorskip("sklearn")
    from generator.corpora.base import Note
    from generator.twosample import music_accuracy

    rng = np.random.default_rng(0)

    def piece(pitches):
        return [Note(int(p), 0.25 * k, 0.25 * k + 0.2) for k, p in enumerate(pitches)]

    major = [0, 2, 4, 5, 7, 9, 11]
    scales = [piece(60 + rng.choice(major, 40)) for _ in range(20)]
    chromatic = [piece(60 + rng.integers(0, 12, 40)) for _ in range(20)]
    more_scales = [piece(60 + rng.choice(major, 40)) for _ in range(20)]
    assert music_accuracy(scales, chromatic) >= 0.9
    assert music_accuracy(scales, more_scales) <= 0.75


def test_music_classifier_sees_held_out_pieces_cut_to_the_samples_length(monkeypatch):
    from generator import evaluate, twosample
    from generator.corpora.midi import MidiCorpus

    plugin = MidiCorpus()
    second_notes = ["on:60", "shift:50", "off:60", "shift:50"] * 10  # a note a second, 10 s
    held_out = [second_notes] * (evaluate.MAX_HELD_OUT + 20)
    samples = [second_notes[: 4 * k] for k in (3, 4, 4, 5, 9)]  # ending at 2.5-8.5 s, median 3.5
    seen = {}
    monkeypatch.setattr(twosample, "music_accuracy", lambda real, s: seen.update(real=real))
    _, compared = evaluate.music_classifier(plugin, held_out, samples)
    assert len(seen["real"]) == evaluate.MAX_HELD_OUT and compared == len(samples)
    assert all([n.start for n in piece] == [0, 1, 2, 3] for piece in seen["real"])


def test_classifier_interval_is_the_wilson_interval():
    from generator.twosample import interval

    # 7 right of 10 (5 pieces of each kind): the Wilson 95 % interval is 0.397-0.892
    assert interval(0.7, 5) == pytest.approx((0.3968, 0.8922), abs=1e-4)
    low, high = interval(0.7, 20)  # 40 predictions: narrower, about the same centre
    assert 0.3968 < low < 0.7 < high < 0.8922
    assert interval(1.0, 20)[1] == 1.0 and interval(0.0, 20)[0] == 0.0


def test_report_gives_the_classifier_with_its_interval():
    from generator import evaluate

    result = {"samples": 20, "classifier": 0.7, "classifier_pieces": 20, "copy_rate": None}
    line = next(x for x in evaluate.report(result, "event") if x.startswith("classifier"))
    assert "70 % cross-validated accuracy" in line
    assert "95 % interval 55-82 % over 20 of each" in line
