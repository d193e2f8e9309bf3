"""How far back a model listens (`gen evaluate --context`): a known answer on a stream with a
long-range rule, and the command."""

from __future__ import annotations

import json
import math
import random

import pytest
from conftest import copy_runs, run, trained_run

from generator import checkpoint as ckpt_io
from generator import context
from generator import evaluate as ev
from generator.progress import Reporter


@pytest.fixture(scope="module")
def copies(tmp_path_factory):
    """A small model trained on lines of four random letters of abcd, '=', the same four
    again (20 lines a piece): it learns to count to the '=' and the line break, and to copy."""
    root = tmp_path_factory.mktemp("copies")
    rng = random.Random(0)
    corpus = root / "copies"
    corpus.mkdir()
    for k in range(100):
        words = ["".join(rng.choice("abcd") for _ in range(4)) for _ in range(20)]
        (corpus / f"p{k:03d}.txt").write_text("".join(f"{w}={w}\n" for w in words))
    # no weight decay: with it the count spreads over several cells, none of them |r| > 0.8
    shape = ["--layers", 1, "--units", 64, "--embed-dim", 16, "--dropout", 0, "--seq-len", 32,
             "--batch-size", 16, "--epochs", 60, "--weight-decay", 0]  # fmt: skip
    return trained_run(root, ["--corpus", "text", "--path", corpus], "copies", *shape)


@pytest.mark.slow
def test_the_curve_falls_once_the_history_holds_what_repeats_and_scrambling_it_hurts(copies):
    ckpt = ckpt_io.load_checkpoint(copies)
    _, held, _ = ev.split_ids(ckpt, ckpt_io.plugin_of(ckpt), None, Reporter(quiet=True))
    # the text plugin's lead-in is two line breaks: the first line's letters have 3 to 6 tokens
    # before them, its '=', copies and line break 7 to 12
    result = context.measure(ckpt, held, near=3, edges=(6, 12))
    letters, copies = result["curve"][:2]
    assert abs(letters["carried"] - math.log(4)) < 0.15  # random: nothing to learn
    assert copies["carried"] < 0.2  # each copy is five tokens after its original
    mixed = result["scrambled"]
    assert mixed["scrambled"] - mixed["real"] > 0.2  # copies of shuffled letters are lost


def test_gen_evaluate_context_prints_the_curve_draws_it_and_gives_json(two_runs, tmp_path):
    root = copy_runs(two_runs, tmp_path / "checkpoints")
    plot = tmp_path / "context.png"
    args = ["evaluate", "--checkpoint", root / "verse", "--context"]
    shown = run(*args, "--plot", plot)
    assert shown.exit_code == 0, shown.output
    assert "carried  windowed" in shown.output and "scrambled history" in shown.output
    assert plot.read_bytes().startswith(b"\x89PNG")
    result = json.loads(run(*args, "--json").stdout)
    assert result["seq_len"] == 16 and result["curve"][0]["from"] == 1
    assert sum(b["tokens"] for b in result["curve"]) > 0
    assert "rhymes" in result  # verse: none here, the corpus's line ends repeat one word
    first = result["curve"][0]
    assert first["carried"] == pytest.approx(first["windowed"])  # within one window: the same
    refused = run("evaluate", "--checkpoint", root / "verse", "--plot", tmp_path / "x.png")
    assert refused.exit_code == 1 and "--plot draws the --context curve" in refused.output


@pytest.mark.slow
def test_gen_inspect_finds_the_cell_that_counts_the_line(copies, tmp_path):
    out = tmp_path / "cells.png"
    shown = run("inspect", "--checkpoint", copies, "--out", out, "--length", 400)
    assert shown.exit_code == 0, shown.output
    assert out.read_bytes().startswith(b"\x89PNG")
    assert "<span" in out.with_suffix(".html").read_text()
    found = json.loads(run("inspect", "--checkpoint", copies, "--json").stdout)
    counting = next(r for r in found["tracking"] if r["feature"] == "position in line")
    assert abs(counting["r"]) > 0.8  # the model must count to place '=' and the line break
    assert 0 < found["layers"][0]["median_forget"] < 1


def test_the_plain_forward_pass_is_keras_step_model(two_runs):
    """`cells.activity`'s NumPy pass gives the outputs Keras' cells give, step by step."""
    import numpy as np

    from generator import cells
    from generator.model import StepModel

    ckpt = ckpt_io.load_checkpoint(two_runs / "music")
    model = ckpt.load_model()
    ids = np.random.default_rng(0).integers(0, len(ckpt.vocab), 40).astype(np.int32)
    layers = cells.activity(model, ids)
    step = StepModel(model, ckpt.model_config)
    states = step.zero_states(1)
    for t, token in enumerate(ids):
        _, states = step(np.array([token]), states)
        for k, layer in enumerate(layers):
            np.testing.assert_allclose(layer["hidden"][t], states[2 * k][0], atol=1e-5)
            np.testing.assert_allclose(layer["cell"][t], states[2 * k + 1][0], atol=1e-5)


def test_verse_features_count_what_a_reader_counts():
    from generator import cells
    from generator.corpora import get_corpus

    text = 'He said ("go home")\n"Yes" and\n'
    found = cells.verse_features(get_corpus("text"), list(text))
    as_text = {name: "".join(str(int(v)) for v in values) for name, values in found.items()}
    assert as_text["inside quotes or brackets"] == "0000000011111111110" + "01111000000"
    assert as_text["words in line"] == "1112222222333444444" + "00111112220"
    assert as_text["syllables in line"] == "0011111222223333344" + "00000111110"
    position = found["position in line"]
    assert position[:3].tolist() == [1, 2, 3] and position[19] == 0


def test_the_rhyme_partner_is_counted_in_lines_up():
    from generator import cells
    from generator.corpora import get_corpus

    quatrain = "The cat sat on the mat\nA dog ran in the fog\nI saw a big fat rat\nA log\n"
    found = cells.verse_features(get_corpus("text"), list(quatrain))
    found = found["lines up to the rhyme partner"]
    lines = [23, 21, 20, 6]  # characters of each line, its line break included
    assert found.tolist() == [0] * lines[0] + [0] * lines[1] + [2] * lines[2] + [2] * lines[3]


def test_music_features_follow_the_notes_as_their_tokens_are_read():
    from generator import cells
    from generator.corpora import get_corpus

    tokens = ["vel:20", "on:60", "shift:50", "on:64", "shift:50", "off:60", "off:64"]
    found = cells.music_features(get_corpus("midi"), tokens)
    assert found["position in bar"].tolist() == [0, 0, 0.25, 0.25, 0.5, 0.5, 0.5]
    assert found["seconds since a note began"].tolist() == [0, 0, 0.5, 0, 0.5, 0.5, 0.5]
    assert found["notes sounding"].tolist() == [0, 1, 1, 2, 0, 0, 0]
    assert "semitones above the tonic" not in found  # no key token: no tonic to measure from


def test_rhymes_with_a_partner_two_or_more_lines_up_are_found():
    from generator.verse.partners import distant_rhymes

    alternate = ("The cat sat on the mat\nA dog ran in the fog\nI saw a big fat rat\n"
                 "It lay upon a log\n")  # fmt: skip
    found = distant_rhymes(alternate)
    assert [alternate[first:end] for _, first, end in found] == ["rat", "log"]
    assert [alternate[above:].split("\n")[0] for above, _, _ in found] == [
        "A dog ran in the fog", "I saw a big fat rat"]  # fmt: skip
    couplets = ("The cat sat on the mat\nI saw a big fat rat\nA dog ran in the fog\n"
                "It lay on a log\n")  # fmt: skip
    assert distant_rhymes(couplets) == []  # each partner is the line just above
