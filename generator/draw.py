"""Drawing ids one at a time from a step model with carried LSTM state: the compiled loop that
sampling runs (its plain eager reference is `generator.drawref`), and a scorer of given ids.

The compiled loop (primer, then generation) is one `tf.function` with a `tf.while_loop`, and
draws many streams at once as a batch. Each combination of options in use (top-k, top-p, a
length limit, log-probabilities) compiles a loop with only the work it needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from generator import filters


class Knobs(NamedTuple):
    """What one draw takes; passed to the compiled loop as tensors, so one loop serves all."""

    max_tokens: int  # ids drawn per stream at most
    length_table: np.ndarray  # (3, vocab): see `tokenmaps.length_table`
    limit: float  # a stream stops once its length reaches this (inf: never)
    temperature: float
    top_k: int  # keep the k likeliest ids (0: all)
    top_p: float  # keep the likeliest ids holding this probability (1: all)
    seed: int
    # added to the logits: -inf for ids not to draw, a penalty for notes out of a stream's key;
    # (vocab,) for every stream, (batch, vocab) for each, or (1,) zeros
    bias: np.ndarray = np.zeros(1, np.float32)
    controls: np.ndarray = np.full(1, -1, np.int32)  # (batch,) the control id each stream repeats
    every: int = 0  # a stream's control comes again after this many other ids (0: never)
    since: np.ndarray = np.zeros(1, np.int32)  # (batch,) ids since the primer's last control
    words: int = 0  # verse keeps to the known words of trie `DrawLoop.tries[words]` (0: none)
    # music: a note sounding this many seconds is ended by the sampler itself, so the model
    # hears it end (inf: never); `seconds` (vocab,) is how much time each id adds
    hold: float = np.inf
    seconds: np.ndarray = np.zeros(1, np.float32)


class Drawn(NamedTuple):
    """A drawn batch: ids (time, batch), each stream's length (batch,), the log-probability
    of its ids (batch,; zeros unless asked for) and the states: for a stream that reached its
    limit, the state before its last id (feed that id to continue it); for one cut off by
    `max_tokens`, the state after it."""

    ids: object
    lengths: object
    logp: object
    states: list


@dataclass(frozen=True)
class Variant:
    """Which filters and bookkeeping a loop does."""

    top_k: bool
    top_p: bool
    limit: bool
    logp: bool
    controls: bool
    words: int
    hold: bool

    @classmethod
    def of(cls, knobs: Knobs, logp: bool) -> Variant:
        """The work a draw with `knobs` needs (and log-probabilities, with `logp`)."""
        limit, hold = bool(np.isfinite(knobs.limit)), bool(np.isfinite(knobs.hold))
        return cls(
            knobs.top_k > 0, knobs.top_p < 1.0, limit, logp, knobs.every > 0, int(knobs.words),
            hold,
        )  # fmt: skip


def filtered(logits, flags, knobs, variant: Variant, grammar, ban):
    """The logits a token is drawn from: `filters` in their order, as `variant` asks."""
    out = filters.scaled(logits, knobs.temperature, ban)
    if grammar is not None:
        out = grammar.constrain(out, flags)
    if variant.top_k:
        out = filters.top_k(out, knobs.top_k)
    if variant.top_p:
        out = filters.top_p(out, knobs.top_p)
    return out


def pick(logits, seed, t):
    """One id per row of `logits`, drawn with the stateless seed (seed, step `t`)."""
    import tensorflow as tf

    ids = tf.random.stateless_categorical(logits, 1, seed=tf.stack([seed, t]))
    return tf.cast(ids[:, 0], tf.int32)


def added_length(table, prev, ids):
    """How much each stream's id adds to its length after its previous id (`length_table`)."""
    import tensorflow as tf

    return tf.gather(table[0], ids) + tf.gather(table[1], prev) * tf.gather(table[2], ids)


def chosen_logp(logits, ids, flags, grammar, ban):
    """Log-probability of `ids` at temperature 1 under the grammar, before top-k/top-p."""
    import tensorflow as tf

    allowed = logits + ban
    allowed = grammar.constrain(allowed, flags) if grammar is not None else allowed
    return tf.gather(tf.nn.log_softmax(allowed), ids, batch_dims=1)


def released(ids, flags, age, hold, releases):
    """Each stream's id, or where a note has sounded `hold` seconds or more (`age`: seconds
    each grammar flag has been on), the release (`releases`: the id that ends each flag's
    note, -1 for none) of the longest held."""
    import tensorflow as tf

    over = flags * tf.cast(age >= hold, tf.float32) * tf.cast(releases >= 0, tf.float32)
    oldest = tf.argmax(age * over + over, axis=1, output_type=tf.int32)
    return tf.where(tf.reduce_any(over > 0, axis=1), tf.gather(releases, oldest), ids)


def aged(age, flags, after, seconds):
    """Seconds each flag has been on after an id adding `seconds` (batch,): 0 for a flag it
    turned on, and for one that is off."""
    import tensorflow as tf

    return tf.where(after > flags, 0.0, (age + seconds[:, None]) * after)


class DrawLoop:
    """The compiled sampling loop of a step model: `loop(primer, states, knobs, logp)` draws
    after a batch of primers (batch, len >= 1) fed from `states`; see `Drawn`."""

    def __init__(self, step_model, vocab_size: int, banned: list[int], grammar_tables=None,
                 releases=None):  # fmt: skip
        import tensorflow as tf

        ban = np.zeros(vocab_size, np.float32)
        ban[banned] = -np.inf
        self.ban = tf.constant(ban)
        self.grammar = filters.Grammar(grammar_tables) if grammar_tables else None
        # (flags,) the id that ends each grammar flag's note (`tokenmaps.releases`), or None
        self.releases = None if releases is None else tf.constant(releases, tf.int32)
        self.tries: dict[int, filters.Words] = {}  # set before a draw with `Knobs.words`
        self.step_model, self.vocab_size = step_model, vocab_size
        self._compiled: dict[Variant, object] = {}

    def __call__(self, primer, states, knobs: Knobs, logp: bool = True) -> Drawn:
        import tensorflow as tf

        if self.releases is None:  # no grammar flag is a note: nothing to end
            knobs = knobs._replace(hold=np.inf)
        variant = Variant.of(knobs, logp)
        if not variant.hold:
            knobs = knobs._replace(seconds=np.zeros(1, np.float32))
        if variant not in self._compiled:
            self._compiled[variant] = self._build(variant)
        if not variant.limit:  # the table is not read: a small one saves the copy
            knobs = knobs._replace(length_table=np.zeros((3, 1), np.float32), limit=np.inf)
        knobs = knobs._replace(bias=np.atleast_2d(knobs.bias))  # rows: one, or one a stream
        types = Knobs(
            tf.int32, tf.float32, tf.float32, tf.float32, tf.int32, tf.float32, tf.int32,
            tf.float32, tf.int32, tf.int32, tf.int32, tf.int32, tf.float32, tf.float32,
        )  # fmt: skip
        knobs = Knobs(*(tf.constant(v, t) for v, t in zip(knobs, types)))
        return Drawn(*self._compiled[variant](tf.constant(primer, tf.int32), list(states), knobs))

    def _feed(self, advance, primer, states, grammar, words):
        """The logits, states, grammar flags and word-trie nodes after a batch of primers."""
        import tensorflow as tf

        batch = tf.shape(primer)[0]
        logits = tf.zeros((batch, self.vocab_size))
        flags = tf.zeros((batch, grammar.flags if grammar else 1))
        nodes = tf.zeros((batch,), tf.int32)  # where each stream stands in the word trie
        i = tf.constant(0)
        while i < tf.shape(primer)[1]:
            logits, states = advance(primer[:, i], states)
            flags = grammar.after(flags, primer[:, i]) if grammar else flags
            nodes = words.after(nodes, primer[:, i]) if words else nodes
            i += 1
        return logits, states, flags, nodes

    def _build(self, variant: Variant):
        import tensorflow as tf

        scalar = tf.TensorSpec((), tf.int32), tf.TensorSpec((), tf.float32)
        ids_spec = tf.TensorSpec((None,), tf.int32)
        knob_specs = Knobs(
            scalar[0], tf.TensorSpec((None, None), tf.float32), *(scalar[1],) * 2, scalar[0],
            scalar[1], scalar[0], tf.TensorSpec((None, None), tf.float32), ids_spec, scalar[0],
            ids_spec, scalar[0], scalar[1], tf.TensorSpec((None,), tf.float32),
        )  # fmt: skip
        state = tf.TensorSpec((None, self.step_model.config.units), tf.float32)
        states_spec = [state] * (2 * self.step_model.config.layers)
        primer_spec = tf.TensorSpec((None, None), tf.int32)
        grammar, specials, releases = self.grammar, self.ban, self.releases
        words = self.tries[variant.words] if variant.words else None

        @tf.function(input_signature=[primer_spec, states_spec, knob_specs])
        def loop(primer, states, knobs):
            advance = self.step_model.prepare()
            ban = specials + knobs.bias  # (vocab,) or (batch, vocab)
            batch = tf.shape(primer)[0]
            logits, states, flags, nodes = self._feed(advance, primer, states, grammar, words)
            prev, out = primer[:, -1], tf.TensorArray(tf.int32, size=knobs.max_tokens)
            done = tf.zeros((batch,), tf.bool)
            lengths = tf.fill((batch,), knobs.max_tokens)
            total, logp = tf.zeros((batch,)), tf.zeros((batch,))
            since = tf.broadcast_to(knobs.since, [batch])
            age = tf.zeros_like(flags)  # seconds each flag has been on, from the draw's start
            t = tf.constant(0)
            while t < knobs.max_tokens and not (variant.limit and tf.reduce_all(done)):
                now = ban + words.forbidden(nodes) if words else ban
                ids = pick(filtered(logits, flags, knobs, variant, grammar, now), knobs.seed, t)
                if variant.hold:  # a note held too long is ended, as the file would end it
                    ids = released(ids, flags, age, knobs.hold, releases)
                if variant.controls:  # a stream's control token, given again when it is due
                    due = since >= knobs.every
                    ids = tf.where(due, tf.broadcast_to(knobs.controls, [batch]), ids)
                    since = tf.where(due, 0, since + 1)
                out = out.write(t, ids)
                if variant.logp:
                    logp += tf.where(done, 0.0, chosen_logp(logits, ids, flags, grammar, now))
                logits, new_states = advance(ids, states)
                if variant.limit:
                    total += added_length(knobs.length_table, prev, ids)
                    finished = tf.logical_and(tf.logical_not(done), total >= knobs.limit)
                    lengths = tf.where(finished, t + 1, lengths)
                    done = tf.logical_or(done, finished)
                    keep = done[:, None]  # finished streams keep the state before their last
                    states = [tf.where(keep, old, new) for old, new in zip(states, new_states)]
                else:
                    states = new_states
                prev, old_flags = ids, flags
                flags = grammar.after(flags, ids) if grammar else flags
                if variant.hold:
                    age = aged(age, old_flags, flags, tf.gather(knobs.seconds, ids))
                nodes = words.after(nodes, ids) if words else nodes
                t += 1
            return out.stack()[:t], tf.minimum(lengths, t), logp, states

        return loop


def compile_scorer(step_model):
    """A compiled function that feeds given id rows and measures their log-probability.

    `score(ids, lengths, start, states)`: rows `ids` (batch, len), of which the first
    `lengths` are real, are fed from `states`; the log-probabilities of the ids at positions
    >= `start` are summed per row. Returns (log-probabilities (batch,), the states after each
    row's last real id).
    """
    import tensorflow as tf

    state = tf.TensorSpec((None, step_model.config.units), tf.float32)
    signature = [
        tf.TensorSpec((None, None), tf.int32),
        tf.TensorSpec((None,), tf.int32),
        tf.TensorSpec((), tf.int32),
        [state] * (2 * step_model.config.layers),
    ]

    @tf.function(input_signature=signature)
    def score(ids, lengths, start, states):
        advance = step_model.prepare()
        logp = tf.zeros((tf.shape(ids)[0],))
        t = tf.constant(0)
        while t < tf.shape(ids)[1]:
            logits, new_states = advance(ids[:, t], states)
            real = (t < lengths)[:, None]
            states = [tf.where(real, new, old) for old, new in zip(states, new_states)]
            if t + 1 < tf.shape(ids)[1]:
                step = tf.gather(tf.nn.log_softmax(logits), ids[:, t + 1], batch_dims=1)
                counted = tf.logical_and(t + 1 >= start, t + 1 < lengths)
                logp += tf.where(counted, step, 0.0)
            t += 1
        return logp, states

    return score
