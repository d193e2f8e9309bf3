"""The model and the sampler: the step model equals the full model, the compiled loop equals
its plain reference for every option, and the options behave."""

from __future__ import annotations

import re

import numpy as np
import pytest

from generator import filters
from generator.draw import DrawLoop, Knobs, compile_scorer
from generator.drawref import reference_draw
from generator.errors import GenError
from generator.model import ModelConfig, StepModel, build_model
from generator.sample import SampleConfig
from generator.targets import output_path
from generator.tf_setup import import_tensorflow
from generator.verse import lexicon

tf = import_tensorflow()


@pytest.fixture(scope="module")
def tiny():
    """An untrained 2-layer model over 12 tokens, with random but fixed weights."""
    import keras

    keras.utils.set_random_seed(3)
    config = ModelConfig(vocab_size=12, embed_dim=4, units=8, layers=2, dropout=0.1)
    model = build_model(config)
    return model, StepModel(model, config)


def knobs(
    max_tokens=40, table=None, limit=np.inf, temperature=1.0, top_k=0, top_p=1.0, seed=7,
    bias=None, words=0, **held,
):  # fmt: skip
    """A draw's inputs; no length limit unless a length `table` and a `limit` are given.
    `held`: `hold` and `seconds`, to end notes held too long."""
    table = np.zeros((3, 1), np.float32) if table is None else table
    bias = np.zeros(1, np.float32) if bias is None else bias
    return Knobs(
        max_tokens, table, limit, temperature, top_k, top_p, seed, bias, words=words, **held
    )


def each_token_adds_one():
    """A length table in which every id adds 1."""
    return np.stack([np.ones(12), np.zeros(12), np.zeros(12)]).astype(np.float32)


def draw(sampler, batch=3, **options):
    """Call a compiled loop from <start>-like token 1 with zero states; (ids (batch, time),
    lengths)."""
    states = [tf.zeros((batch, 8))] * 4
    drawn = sampler(np.ones((batch, 1), np.int32), states, knobs(**options))
    return drawn.ids.numpy().T, drawn.lengths.numpy()


def test_step_model_matches_the_full_model(tiny):
    model, step = tiny
    ids = np.random.default_rng(0).integers(0, 12, (2, 9)).astype(np.int32)
    full = model(ids, training=False).numpy()  # (batch, time, vocab)
    states = step.zero_states(2)
    for t in range(9):
        logits, states = step(tf.constant(ids[:, t]), states)
        np.testing.assert_allclose(logits.numpy(), full[:, t], atol=1e-5)


def test_a_new_model_starts_from_unit_scale_embeddings():
    embeddings = build_model(ModelConfig(vocab_size=500, embed_dim=64)).get_layer("embed")
    values = embeddings.embeddings.numpy()
    assert abs(values.mean()) < 0.02 and 0.97 < values.std() < 1.03  # 32,000 draws of N(0, 1)


@pytest.mark.parametrize("layers", [1, 2, 3])
def test_prepared_step_matches_the_keras_cells(layers):
    """The sampler's packed step (table lookup for the first layer) gives the cells' results."""
    config = ModelConfig(vocab_size=12, embed_dim=4, units=8, layers=layers, dropout=0.1)
    step = StepModel(build_model(config), config)
    prepared = tf.function(lambda ids, states: step.prepare()(ids, states))
    ids = np.random.default_rng(1).integers(0, 12, (3, 7)).astype(np.int32)
    states = [tf.random.normal((3, 8), seed=i) for i in range(2 * layers)]
    mine = theirs = states
    for t in range(7):
        logits, mine = prepared(tf.constant(ids[:, t]), mine)
        expected, theirs = step(tf.constant(ids[:, t]), theirs)
        np.testing.assert_allclose(logits.numpy(), expected.numpy(), atol=1e-5)
        for a, b in zip(mine, theirs):
            np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)


def test_sampling_is_deterministic_per_seed_and_never_emits_banned(tiny):
    sampler = DrawLoop(tiny[1], 12, banned=[0, 1])
    a, _ = draw(sampler, seed=5)
    b, _ = draw(sampler, seed=5)
    c, _ = draw(sampler, seed=6)
    assert a.shape == (3, 40) and np.array_equal(a, b) and not np.array_equal(a, c)
    assert not np.isin(a, [0, 1]).any()


def test_top_k_one_is_greedy(tiny):
    model, step = tiny
    sampler = DrawLoop(step, 12, banned=[0, 1])
    ids, _ = draw(sampler, batch=1, max_tokens=10, top_k=1, seed=1)
    other, _ = draw(sampler, batch=1, max_tokens=10, top_k=1, seed=99)
    assert np.array_equal(ids, other)
    seq = np.concatenate([[1], ids[0]])[None, :].astype(np.int32)
    logits = model(seq, training=False).numpy()[0, :-1]
    logits[:, :2] = -np.inf
    assert ids[0].tolist() == logits.argmax(-1).tolist()


def test_top_p_small_keeps_only_the_likeliest(tiny):
    sampler = DrawLoop(tiny[1], 12, banned=[0, 1])
    greedy, _ = draw(sampler, top_k=1)
    nucleus, _ = draw(sampler, top_p=1e-6, seed=123)
    assert np.array_equal(greedy, nucleus)


def test_units_stop_each_stream(tiny):
    sampler = DrawLoop(tiny[1], 12, banned=[0, 1])
    _, lengths = draw(sampler, table=each_token_adds_one(), limit=5.0, max_tokens=40)
    assert lengths.tolist() == [5, 5, 5]


def test_config_and_paths_are_checked(tmp_path):
    with pytest.raises(GenError, match=r"temperature must be in \(0, 100\], got 0"):
        SampleConfig(temperature=0)
    with pytest.raises(GenError, match=r"top-p must be in \(0, 1\], got 1.5"):
        SampleConfig(top_p=1.5)
    with pytest.raises(GenError, match=r"length must be in \[1, 10,000,000\], got 0"):
        SampleConfig(max_tokens=0)
    assert [output_path(tmp_path / "song", 2, ".mid", k).name for k in (0, 1)] == [
        "song-1.mid",
        "song-2.mid",
    ]
    assert output_path(tmp_path / "tune.txt", 1, ".mid", 0).name == "tune.txt"


def test_states_of_streams_cut_by_max_tokens_are_after_their_last_token(tiny):
    model, step = tiny
    sampler = DrawLoop(step, 12, banned=[0, 1])
    zeros = [tf.zeros((1, 8))] * 4
    ids, _, _, states = sampler([[1]], zeros, knobs(5, top_k=1, seed=0))
    seq = np.concatenate([[1], ids.numpy()[:, 0]])[None, :].astype(np.int32)
    expected = zeros
    for t in range(seq.shape[1]):
        _, expected = step(tf.constant(seq[:, t]), expected)
    np.testing.assert_allclose(states[-1].numpy(), expected[-1].numpy(), atol=1e-5)


def test_returned_states_continue_a_stream_exactly(tiny):
    sampler = DrawLoop(tiny[1], 12, banned=[0, 1])
    whole, _ = draw(sampler, batch=1, max_tokens=10, top_k=1)
    states = [tf.zeros((1, 8))] * 4
    first, n, _, states = sampler(
        [[1]], states, knobs(10, each_token_adds_one(), 4.0, top_k=1, seed=0)
    )
    first = first.numpy().T[0][: n.numpy()[0]]
    assert len(first) == 4
    rest, _, _, _ = sampler([[first[-1]]], states, knobs(6, top_k=1, seed=0))
    assert first.tolist() + rest.numpy().T[0].tolist() == whole[0].tolist()


def test_scorer_sums_the_log_probabilities_of_the_fed_tokens(tiny):
    model, step = tiny
    score = compile_scorer(step)
    ids = np.array([[1, 5, 7, 3, 9], [1, 4, 4, 0, 0]], np.int32)  # second row: 3 real tokens
    logp, _ = score(tf.constant(ids), tf.constant([5, 3]), tf.constant(2), [tf.zeros((2, 8))] * 4)
    full = tf.nn.log_softmax(model(ids, training=False)).numpy()  # (batch, time, vocab)
    expected0 = full[0, 1, 7] + full[0, 2, 3] + full[0, 3, 9]  # tokens at positions 2, 3, 4
    expected1 = full[1, 1, 4]  # position 2 only
    np.testing.assert_allclose(logp.numpy(), [expected0, expected1], rtol=1e-5)


class FixedStep:
    """A stand-in step model whose next-token probabilities are always `probs`."""

    def __init__(self, probs):
        from types import SimpleNamespace

        self.config = SimpleNamespace(units=1, layers=1)
        self.logits = tf.math.log(tf.constant([probs], tf.float32))

    def zero_states(self, batch):
        return [tf.zeros((batch, 1))] * 2

    def __call__(self, ids, states):
        return tf.repeat(self.logits, tf.shape(ids)[0], axis=0), states

    def prepare(self):
        return self


RULES = {  # tokens 0 and 1 of group "note-off", 2 of "shift"; 1 needs a flag never set
    "needs_set": np.array([[0], [1], [0]], np.float32),
    "needs_clear": np.zeros((3, 1), np.float32),
    "sets": np.zeros((3, 1), np.float32),
    "clears": np.zeros((3, 1), np.float32),
    "groups": np.array([[1, 0], [1, 0], [0, 1]], np.float32),
}


def test_forbidden_probability_stays_within_its_group():
    sampler = DrawLoop(FixedStep([0.1, 0.6, 0.3]), 3, banned=[], grammar_tables=RULES)
    ids, _, _, _ = sampler(np.zeros((500, 1), np.int32), [tf.zeros((500, 1))] * 2, knobs(4, seed=3))
    ids = ids.numpy()
    assert not (ids == 1).any()
    share = (ids == 0).mean()  # 0.1 + 0.6 moved from the forbidden token of its kind
    assert 0.65 < share < 0.75, share  # plain masking would give 0.1 / 0.4 = 0.25


def test_filters_keep_what_they_promise():
    logits = tf.math.log(tf.constant([[0.5, 0.3, 0.15, 0.05]]))
    kept = lambda out: np.isfinite(out.numpy()[0]).tolist()  # noqa: E731
    assert kept(filters.top_k(logits, 2)) == [True, True, False, False]
    assert kept(filters.top_p(logits, 0.5)) == [True, False, False, False]  # 0.5 reached
    assert kept(filters.top_p(logits, 0.51)) == [True, True, False, False]
    assert kept(filters.top_p(logits, 1e-9)) == [True, False, False, False]  # never empty
    ban = tf.constant([0.0, -np.inf, 0.0, 0.0])
    halved = filters.scaled(logits, 2.0, ban).numpy()[0]
    assert np.isneginf(halved[1]) and halved[0] == pytest.approx(np.log(0.5) / 2)
    grammar = filters.Grammar(RULES)
    logp = np.exp(grammar.constrain(tf.math.log([[0.1, 0.6, 0.3]]), tf.zeros((1, 1))).numpy())
    np.testing.assert_allclose(logp, [[0.7, 0.0, 0.3]], atol=1e-6)  # 0.6 stays a note-off


OPTIONS = {  # each option the compiled loop has a variant for, and all of them together
    "plain": {},
    "temperature": {"temperature": 0.5},
    "top-k": {"top_k": 3},
    "top-p": {"top_p": 0.8},
    "length limit": {"limit": 4.0},
    "all": {"temperature": 1.5, "top_k": 5, "top_p": 0.9, "limit": 6.0},
    "bias per stream": {
        "bias": np.array(
            [[0, 0, -2, -2, 0, 0, 0, 0, -np.inf, 0, 0, -5]] * 2 + [[0] * 12] * 2, np.float32
        )
    },  # fmt: skip
    "known words": {"words": 1},
    "notes held at most 2 s": {"hold": 2.0},
}
# the tiny model's 12 ids as characters, and the words `--words real` keeps to with them
CHARS = ["<s>", "<u>", " ", "a", "b", "c", "d", "e", "'", "\n", "x", "y"]
KNOWN = {"ab", "abc", "cab", "bed", "a"}


def rules_with_a_note():
    """Grammar tables over the tiny model's 12 ids: token 7 turns flag 0 on (a note starts),
    token 6 turns it off (the note ends), token 5 needs it on."""
    tables = {
        k: np.zeros((12, 1), np.float32) for k in ("needs_set", "needs_clear", "sets", "clears")
    }
    tables["needs_set"][5, 0] = tables["sets"][7, 0] = tables["clears"][6, 0] = 1.0
    tables["needs_set"][6, 0] = tables["needs_clear"][7, 0] = 1.0
    tables["groups"] = np.ones((12, 1), np.float32)
    return tables


@pytest.mark.parametrize("grammar", [None, "rules"])
@pytest.mark.parametrize("option", list(OPTIONS))
def test_the_compiled_loop_draws_what_the_plain_reference_draws(tiny, option, grammar):
    """Same seed, same ids, lengths, log-probabilities and final states, for each option."""
    step = tiny[1]
    lengths = np.random.default_rng(0).integers(0, 3, (3, 12)).astype(np.float32)  # with pairs
    options = dict(OPTIONS[option])
    limit = options.pop("limit", np.inf)
    setting = knobs(30, lengths, limit, seed=11, seconds=lengths[0], **options)
    tables, releases = None, None
    if grammar:  # token 5 needs flag 0, which token 7 sets and token 6 clears (a note's end)
        tables, releases = rules_with_a_note(), np.array([6], np.int32)
    loop = DrawLoop(step, 12, banned=[0, 1], grammar_tables=tables, releases=releases)
    words = lexicon.trie_tables(CHARS, KNOWN, preferred={"ab", "cab", "a"})  # abc, bed: rare
    loop.tries[1] = filters.Words(words)
    primer = np.array([[1, 4, 7], [1, 2, 3], [1, 9, 9], [1, 8, 6]], np.int32)  # be, a, 'd
    states = step.zero_states(4)
    compiled = loop(primer, states, setting, logp=True)
    plain = reference_draw(
        step.prepare(), primer, states, setting, loop.grammar, loop.ban, words, releases
    )
    ids, n = compiled.ids.numpy().T, compiled.lengths.numpy()
    assert n.tolist() == plain.lengths.tolist()
    for row, expected, length in zip(ids, plain.ids.T, n):
        assert row[:length].tolist() == expected[:length].tolist()
    np.testing.assert_allclose(compiled.logp.numpy(), plain.logp, rtol=1e-4, atol=1e-4)
    for a, b in zip(compiled.states, plain.states):
        np.testing.assert_allclose(a.numpy(), np.asarray(b), atol=1e-5)
    if limit < np.inf:
        assert (n < 30).all()  # the limit, not the token count, stopped each stream
    if "bias" in options:
        assert 8 not in ids[:2].ravel() and 8 in ids[2:].ravel()  # -inf: never drawn there
    texts = ["".join(CHARS[i] for i in row[:length]) for row, length in zip(ids, n)]
    later = [re.split("[ \n]+", text)[1:-1] for text in texts]  # whole words after a break
    later = [[w.removesuffix("'s").strip("'") for w in ws] for ws in later]  # 's, quotes
    if "words" in options:  # after the primer's word (be..., or 'd... off the trie), known ones
        assert all(ws and all(w in KNOWN for w in ws if w) for ws in later), texts
    elif option == "plain":
        assert any(w not in KNOWN for ws in later for w in ws if w), texts  # as drawn


def test_a_note_held_past_the_limit_is_ended_by_the_sampler(tiny):
    """Every id adds 1 s; where note 7 has sounded 3 s, the next id is its end (6), so the
    model hears the note end. Without the limit, some note sounds longer."""

    def longest_and_late_ends(rows, hold):
        longest, late = 0, []
        for row in rows:
            age = None  # seconds the note has sounded, None while silent
            for token in row:
                if age is not None and age >= hold:
                    late.append(token != 6)
                if token == 6:
                    age = None
                elif token == 7 and age is None:
                    age = 0  # a note's time counts from the ids after its start
                elif age is not None:
                    age, longest = age + 1, max(longest, age + 1)
        return longest, late

    loop = DrawLoop(tiny[1], 12, [0, 1], rules_with_a_note(), releases=np.array([6], np.int32))
    states, primer = tiny[1].zero_states(8), np.ones((8, 1), np.int32)
    seconds = np.ones(12, np.float32)
    free = loop(primer, states, knobs(60, seed=3), logp=False).ids.numpy().T
    held = loop(primer, states, knobs(60, seed=3, hold=3.0, seconds=seconds), logp=False)
    assert longest_and_late_ends(free, 3)[0] > 3
    longest, checks = longest_and_late_ends(held.ids.numpy().T, 3)
    assert longest == 3 and checks and not any(checks)
