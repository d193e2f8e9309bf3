"""What turns the model's logits into the distribution a token is drawn from: pure functions of
tensors, shared by the compiled sampling loop and its plain reference (`generator.draw`).

Applied in this order: banned tokens (and, for verse, characters that leave every known word)
and temperature, the plugin's grammar, top-k, top-p. Each takes and returns logits of shape
(batch, vocab); a token a filter removes gets -inf.
"""

from __future__ import annotations

import numpy as np


def scaled(logits, temperature, ban):
    """Logits divided by the temperature, with `ban` (vocab,) or (batch, vocab) added: -inf
    for the tokens the sampler never writes, a penalty for notes out of a stream's key, 0 for
    the rest."""
    return logits / temperature + ban


def top_k(logits, k: int):
    """Only the `k` likeliest tokens of each row keep their logits (ties at the k-th all
    stay)."""
    import tensorflow as tf

    kth = tf.math.top_k(logits, tf.minimum(k, tf.shape(logits)[-1])).values[:, -1:]
    return tf.where(logits < kth, -np.inf, logits)


def top_p(logits, p: float):
    """Only the likeliest tokens whose probabilities, taken together, first reach `p` keep
    their logits (nucleus sampling); the likeliest token always stays."""
    import tensorflow as tf

    ranked = tf.sort(logits, direction="DESCENDING")
    above = tf.cumsum(tf.nn.softmax(ranked), axis=-1, exclusive=True)  # mass before each
    cutoff = tf.reduce_min(tf.where(above < p, ranked, np.inf), -1, keepdims=True)
    return tf.where(logits < cutoff, -np.inf, logits)


class Grammar:
    """A plugin's grammar (`tokenmaps.grammar_tables`) as tensors: each stream carries flags
    (batch, flags), and tokens whose needs are not met get no probability."""

    def __init__(self, tables: dict[str, np.ndarray]):
        import tensorflow as tf

        self.needs_set, self.needs_clear, self.sets, self.clears, self.groups = (
            tf.constant(tables[k]) for k in ("needs_set", "needs_clear", "sets", "clears", "groups")
        )  # each (vocab, flags), groups (vocab, groups)

    @property
    def flags(self) -> int:
        return int(self.sets.shape[1])

    def forbidden(self, flags):
        """0 where a token is allowed after `flags`, -inf where it is not; (batch, vocab)."""
        import tensorflow as tf

        broken = tf.matmul(1.0 - flags, self.needs_set, transpose_b=True)
        broken += tf.matmul(flags, self.needs_clear, transpose_b=True)
        return tf.where(broken > 0, -np.inf, 0.0)

    def after(self, flags, ids):
        """Each stream's flags after its token `ids` (batch,)."""
        import tensorflow as tf

        return tf.maximum(flags * (1.0 - tf.gather(self.clears, ids)), tf.gather(self.sets, ids))

    def constrain(self, logits, flags):
        """Log-probabilities under the grammar: forbidden tokens get none, and what the model
        gave them goes to the allowed tokens of their group, so that forbidding wrong
        note-offs does not turn them into note-ons; (batch, vocab). A row whose allowed
        tokens all got no probability that a float can hold is masked plainly, and one with
        no allowed token at all is left as the model gave it: a draw always finds a token."""
        import tensorflow as tf

        logp = tf.nn.log_softmax(logits)
        mask = self.forbidden(flags)
        share = tf.matmul(tf.exp(logp), self.groups)  # (batch, groups)
        kept = tf.matmul(tf.exp(logp + mask), self.groups)
        scale = tf.where(kept > 0, share / tf.maximum(kept, 1e-30), 0.0)
        moved = logp + mask + tf.math.log(tf.matmul(scale, self.groups, transpose_b=True))
        masked = logp + mask

        def any_finite(x):
            return tf.reduce_any(x > -np.inf, axis=-1, keepdims=True)

        return tf.where(any_finite(moved), moved, tf.where(any_finite(masked), masked, logp))


class Words:
    """A trie of known words (`verse.lexicon.trie_tables`) as tensors: each stream carries the
    node it stands at (batch,), and characters that lead out of every known word get no
    probability."""

    def __init__(self, tables: dict[str, np.ndarray]):
        import tensorflow as tf

        self.child = tf.constant(tables["child"])  # (nodes, columns)
        self.column = tf.constant(tables["column"])  # (vocab,)
        self.free = int(tables["free"])
        self.enter = tf.constant(tables["enter"])  # (nodes,): the cost of standing there
        self.end = tf.constant(tables["end"])  # (nodes,): the cost of ending a word there
        self.possessive = int(tables["possessive"])

    def forbidden(self, nodes):
        """-inf where a token leads out of every known word; elsewhere minus what it costs
        (a rare word: `verse.lexicon`); (batch, vocab)."""
        import tensorflow as tf

        rows = tf.gather(self.child, nodes)  # (batch, columns)
        after = tf.gather(rows, self.column, axis=1)  # (batch, vocab): the node each leads to
        here = tf.gather(self.enter, nodes)[:, None]
        step = tf.nn.relu(tf.gather(self.enter, tf.maximum(after, 0)) - here)
        ending = tf.cast((after == 0) | (after == self.possessive), tf.float32)  # the root
        cost = step + tf.gather(self.end, nodes)[:, None] * ending
        return tf.where(after >= 0, -cost, -np.inf)

    def after(self, nodes, ids):
        """Each stream's node after its token `ids` (batch,); the free node off the trie."""
        import tensorflow as tf

        nxt = tf.gather_nd(self.child, tf.stack([nodes, tf.gather(self.column, ids)], axis=1))
        return tf.where(nxt >= 0, nxt, self.free)
