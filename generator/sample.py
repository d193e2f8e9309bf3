"""Sampling: a checkpoint -> ids drawn one at a time with carried LSTM state -> output files.

The whole loop (primer, then generation with temperature, top-k and top-p) runs inside one
compiled `tf.function` with `tf.while_loop`; many outputs are drawn at once as a batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generator import checkpoint
from generator.errors import GenError
from generator.vocab import SPECIALS


@dataclass(frozen=True)
class SampleConfig:
    """How to draw tokens; validated here so the library refuses what the CLI refuses."""

    temperature: float | None = None  # < 1 safer, > 1 wilder; None: the plugin's default
    top_k: int = 0  # keep only the k likeliest tokens (0: all)
    top_p: float = 1.0  # keep the smallest set of tokens with this much probability
    max_tokens: int = 2000  # hard cap on generated tokens per output
    unit: str | None = None  # stop by a plugin unit ("seconds") instead of by token count
    unit_limit: float = 0.0  # how many units each output should reach
    seed: int = 0

    def __post_init__(self):
        if self.temperature is not None and not self.temperature > 0:
            raise GenError(f"temperature must be > 0, got {self.temperature}")
        if self.top_k < 0:
            raise GenError(f"top-k must be >= 0, got {self.top_k}")
        if not 0 < self.top_p <= 1:
            raise GenError(f"top-p must be in (0, 1], got {self.top_p}")
        if self.max_tokens < 1:
            raise GenError(f"length must be at least 1, got {self.max_tokens}")


def make_sampler(step_model, vocab_size: int, banned: list[int], rules: dict | None = None):
    """A compiled function drawing a batch of samples; see `draw` for its arguments.

    `rules` are the plugin's token grammar as flags (see `Corpus.token_rules`): each stream
    carries its flags, and tokens whose required flags are not met get no probability.
    """
    import tensorflow as tf

    ban = np.zeros(vocab_size, np.float32)
    ban[banned] = -np.inf
    ban = tf.constant(ban)
    has_rules = rules is not None
    if rules is None:  # one flag that no token reads or writes
        rules = {
            k: np.zeros((vocab_size, 1), np.float32)
            for k in ("needs_set", "needs_clear", "sets", "clears")
        }
    needs_set, needs_clear, sets, clears = (
        tf.constant(rules[k]) for k in ("needs_set", "needs_clear", "sets", "clears")
    )  # each (vocab, flags)
    # Token kinds (vocab, kinds), one-hot: what the model gave to forbidden tokens goes to the
    # allowed tokens of the same kind, so forbidding wrong note-offs does not turn them into
    # note-ons. Without kinds, everything is one kind.
    kinds = tf.constant(rules.get("kinds", np.ones((vocab_size, 1), np.float32)))

    def rule_mask(flags):
        """0 where a token is allowed, -inf where its flags are not met; (batch, vocab)."""
        broken = tf.matmul(1.0 - flags, needs_set, transpose_b=True) + tf.matmul(
            flags, needs_clear, transpose_b=True
        )
        return tf.where(broken > 0, -np.inf, 0.0)

    def update(flags, ids):
        """Flags after each stream's token `ids`; (batch, flags)."""
        return tf.maximum(flags * (1.0 - tf.gather(clears, ids)), tf.gather(sets, ids))

    def constrain(logits, flags):
        """Log-probabilities under the rules, each kind keeping the model's share; (batch,
        vocab)."""
        logp = tf.nn.log_softmax(logits)
        mask = rule_mask(flags)
        share = tf.matmul(tf.exp(logp), kinds)  # (batch, kinds)
        kept = tf.matmul(tf.exp(logp + mask), kinds)
        scale = tf.where(kept > 0, share / tf.maximum(kept, 1e-30), 0.0)
        return logp + mask + tf.math.log(tf.matmul(scale, kinds, transpose_b=True))

    i32, f32 = tf.TensorSpec((), tf.int32), tf.TensorSpec((), tf.float32)
    state = tf.TensorSpec((None, step_model.config.units), tf.float32)
    signature = [
        tf.TensorSpec((None, None), tf.int32),  # primer (batch, primer_len), at least 1 token
        [state] * (2 * step_model.config.layers),  # states before the primer
        i32,  # max_tokens
        tf.TensorSpec((vocab_size, vocab_size), tf.float32),  # units[previous id, id]
        f32,  # unit_limit: a stream stops once its units reach this
        f32,  # temperature
        i32,  # top_k
        f32,  # top_p
        i32,  # seed
    ]

    def build(use_top_k: bool, use_top_p: bool, use_units: bool, use_logp: bool):
        """The loop with only the work these options need: each step of a plain draw is the
        LSTM step, the temperature and one categorical draw."""

        @tf.function(input_signature=signature)
        def draw(primer, states, max_tokens, units, unit_limit, temperature, top_k, top_p, seed):
            advance = step_model.prepare()
            batch = tf.shape(primer)[0]
            logits = tf.zeros((batch, vocab_size))
            flags = tf.zeros((batch, tf.shape(sets)[1]))
            i = tf.constant(0)
            while i < tf.shape(primer)[1]:  # feed the primer, keeping only state and flags
                logits, states = advance(primer[:, i], states)
                if has_rules:
                    flags = update(flags, primer[:, i])
                i += 1
            prev = primer[:, -1]
            out = tf.TensorArray(tf.int32, size=max_tokens)
            done = tf.zeros((batch,), tf.bool)
            lengths = tf.fill((batch,), max_tokens)
            total, logp = tf.zeros((batch,)), tf.zeros((batch,))
            t = tf.constant(0)
            while t < max_tokens and not (use_units and tf.reduce_all(done)):
                filtered = logits / temperature + ban
                if has_rules:
                    filtered = constrain(filtered, flags)
                if use_top_k:
                    kth = tf.math.top_k(filtered, tf.minimum(top_k, vocab_size)).values[:, -1:]
                    filtered = tf.where(filtered < kth, -np.inf, filtered)
                if use_top_p:
                    sorted_logits = tf.sort(filtered, direction="DESCENDING")
                    probs = tf.nn.softmax(sorted_logits)
                    before = tf.cumsum(probs, axis=-1, exclusive=True)  # mass above each
                    cutoff = tf.reduce_min(
                        tf.where(before < top_p, sorted_logits, np.inf), -1, True
                    )
                    filtered = tf.where(filtered < cutoff, -np.inf, filtered)
                ids = tf.random.stateless_categorical(filtered, 1, seed=tf.stack([seed, t]))
                ids = tf.cast(ids[:, 0], tf.int32)
                out = out.write(t, ids)
                if use_logp:  # at temperature 1, under the rules, before top-k/top-p
                    allowed = constrain(logits + ban, flags) if has_rules else logits + ban
                    chosen = tf.gather(tf.nn.log_softmax(allowed), ids, batch_dims=1)
                    logp += tf.where(done, 0.0, chosen)
                new_logits, new_states = advance(ids, states)
                if use_units:
                    total += tf.gather_nd(units, tf.stack([prev, ids], axis=1))
                    finished = tf.logical_and(tf.logical_not(done), total >= unit_limit)
                    lengths = tf.where(finished, t + 1, lengths)
                    done = tf.logical_or(done, finished)
                    keep = done[:, None]  # finished streams keep the state before their last
                    states = [tf.where(keep, old, new) for old, new in zip(states, new_states)]
                else:
                    states = new_states
                logits, prev = new_logits, ids
                if has_rules:
                    flags = update(flags, ids)
                t += 1
            return out.stack()[:t], tf.minimum(lengths, t), logp, states

        return draw

    compiled = {}

    def draw(
        primer,
        states,
        max_tokens,
        units,
        unit_limit,
        temperature,
        top_k,
        top_p,
        seed,
        want_logp=True,
    ):
        """Draw `max_tokens` ids (fewer where every stream reaches `unit_limit` of `units`,
        a (vocab, vocab) matrix indexed by [previous id, id], or None) after a batch of
        `primer` rows (batch, len) fed from `states`.

        Returns ids (time, batch), lengths (batch,), log-probabilities (batch,; zeros unless
        `want_logp`) and states: for a stream that reached `unit_limit`, the state before its
        last token (feed that token to continue it); for one cut off by `max_tokens`, the
        state after it. Each combination of options compiles once, on first use."""
        use_units = units is not None and np.isfinite(unit_limit)
        key = (top_k > 0, top_p < 1.0, use_units, want_logp)
        if key not in compiled:
            compiled[key] = build(*key)
        return compiled[key](
            tf.constant(primer, tf.int32),
            list(states),
            tf.constant(max_tokens, tf.int32),
            tf.constant(units if use_units else np.zeros((vocab_size,) * 2), tf.float32),
            tf.constant(unit_limit if use_units else np.inf, tf.float32),
            tf.constant(temperature, tf.float32),
            tf.constant(top_k, tf.int32),
            tf.constant(top_p, tf.float32),
            tf.constant(seed, tf.int32),
        )

    return draw


def make_scorer(step_model):
    """A compiled function that feeds given token rows and measures their log-probability.

    `score(ids, lengths, start, states)`: rows `ids` (batch, len), of which the first
    `lengths` are real, are fed from `states`; the log-probabilities of the tokens at
    positions >= `start` are summed per row. Returns (log-probabilities (batch,), the states
    after each row's last real token).
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
                nxt = ids[:, t + 1]
                step = tf.gather(tf.nn.log_softmax(logits), nxt, batch_dims=1)
                counted = tf.logical_and(t + 1 >= start, t + 1 < lengths)
                logp += tf.where(counted, step, 0.0)
            t += 1
        return logp, states

    return score


class Sampler:
    """A checkpoint loaded for sampling: its plugin, vocabulary and compiled draw function."""

    def __init__(self, ckpt, which: str = "best"):
        from generator.model import StepModel
        from generator.tf_setup import import_tensorflow

        self.tf = import_tensorflow()
        self.plugin = checkpoint.plugin_of(ckpt)
        checkpoint.check_corpus(ckpt, self.plugin)
        self.vocab = ckpt.vocab
        self.step_model = StepModel(ckpt.load_model(which), ckpt.model_config)
        banned = [self.vocab.index[s] for s in SPECIALS]
        rules = self.plugin.token_rules(self.vocab.tokens)
        self._draw = make_sampler(self.step_model, len(self.vocab), banned, rules)
        self._score = None  # compiled on first use

    def score(self, rows: list[list[int]], start: int, states=None):
        """Log-probability of each id row's tokens from position `start` on, fed from
        `states` (zero states if None), and the states after each row."""
        tf = self.tf
        if self._score is None:
            self._score = make_scorer(self.step_model)
        lengths = np.array([len(r) for r in rows], np.int32)
        ids = np.zeros((len(rows), lengths.max()), np.int32)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = row
        if states is None:
            states = self.step_model.zero_states(len(rows))
        logp, states = self._score(
            tf.constant(ids), tf.constant(lengths), tf.constant(start), list(states)
        )
        return logp.numpy(), states

    def start(self, primer_tokens: list[str]) -> np.ndarray:
        """Primer ids for a new piece: `<start>`, the plugin's lead-in, the primer's tokens."""
        lead_in = [t for t in self.plugin.lead_in if t in self.vocab.index]
        ids = self.vocab.encode(lead_in + primer_tokens)
        return np.concatenate([[self.vocab.start_id], ids]).astype(np.int32)

    def units(self, unit: str | None) -> np.ndarray:
        """The plugin's units as a (previous id, id) matrix; zeros when `unit` is None."""
        size = len(self.vocab)
        if unit is None:
            return np.zeros((size, size), np.float32)
        units = np.asarray(self.plugin.token_units(self.vocab.tokens, unit), np.float32)
        return np.broadcast_to(units if units.ndim == 2 else units[None, :], (size, size))

    def draw(self, primer: np.ndarray, config: SampleConfig, states=None, want_logp=True):
        """Draw from a batch of primers (batch, len); returns id lists, log-probabilities
        (zeros unless `want_logp`) and states: before the last id for a stream that reached
        its unit limit (feed that id to continue it), after it for one cut off by
        `max_tokens`."""
        primer = np.atleast_2d(primer).astype(np.int32)
        if states is None:
            states = self.step_model.zero_states(primer.shape[0])
        ids, lengths, logp, states = self._draw(
            primer,
            states,
            config.max_tokens,
            self.units(config.unit) if config.unit else None,
            config.unit_limit if config.unit else np.inf,
            self.plugin.default_temperature if config.temperature is None else config.temperature,
            config.top_k,
            config.top_p,
            config.seed,
            want_logp,
        )
        ids, lengths = ids.numpy().T, lengths.numpy()  # (batch, time)
        rows = [row[:n].tolist() for row, n in zip(ids, lengths)]
        return rows, logp.numpy(), states
