"""The plain eager loop the compiled sampling loop (`generator.draw.DrawLoop`) is held to:
the same filters and bookkeeping, one step at a time, in NumPy where it can be."""

from __future__ import annotations

import numpy as np

from generator.draw import Drawn, Knobs, Variant, aged, chosen_logp, filtered, pick, released


def reference_draw(
    step, primer, states, knobs: Knobs, grammar=None, ban=None, words=None, releases=None
):
    """What `DrawLoop` computes, as a plain eager loop over one step at a time (`step`:
    (ids, states) -> (logits, states)): the reference the compiled loop is tested against.
    `words`: the trie tables (`verse.lexicon.trie_tables`) for `Knobs.words`; `releases`: the
    id that ends each grammar flag's note, for `Knobs.hold`."""
    import tensorflow as tf

    knobs = knobs if releases is not None else knobs._replace(hold=np.inf)
    variant, batch = Variant.of(knobs, True), primer.shape[0]
    ban = tf.zeros(knobs.length_table.shape[1]) if ban is None else ban
    ban = ban + knobs.bias
    flags = tf.zeros((batch, grammar.flags if grammar else 1))
    nodes, words = np.zeros(batch, np.int32), words if variant.words else None
    for t in range(primer.shape[1]):
        logits, states = step(primer[:, t], states)
        flags = grammar.after(flags, primer[:, t]) if grammar else flags
        nodes = _next_nodes(words, nodes, primer[:, t]) if words else nodes
    prev, drawn, logp = primer[:, -1], [], np.zeros(batch, np.float32)
    since = np.broadcast_to(knobs.since, (batch,)).copy()
    lengths, total = np.full(batch, knobs.max_tokens), np.zeros(batch, np.float32)
    done = np.zeros(batch, bool)  # streams that reached their limit
    age = np.zeros(flags.shape, np.float32)  # seconds each flag has been on
    for t in range(knobs.max_tokens):
        now = ban
        if words:  # characters that lead out of every known word are not drawn
            now = ban + _word_costs(words, nodes)
        ids = pick(filtered(logits, flags, knobs, variant, grammar, now), knobs.seed, t).numpy()
        if variant.hold:
            ids = released(ids, flags, age, knobs.hold, releases).numpy()
        if variant.controls:
            due = since >= knobs.every
            ids = np.where(due, np.broadcast_to(knobs.controls, ids.shape), ids)
            since = np.where(due, 0, since + 1)
        drawn.append(ids)
        logp += np.where(done, 0.0, chosen_logp(logits, ids, flags, grammar, now).numpy())
        logits, new_states = step(ids, states)
        if variant.limit:
            table = knobs.length_table
            total += table[0, ids] + table[1, prev] * table[2, ids]
            lengths[~done & (total >= knobs.limit)] = t + 1
            done |= total >= knobs.limit
        states = [np.where(done[:, None], old, new) for old, new in zip(states, new_states)]
        prev, old_flags = ids, flags
        flags = grammar.after(flags, ids) if grammar else flags
        if variant.hold:
            age = aged(age, old_flags, flags, np.asarray(knobs.seconds)[ids]).numpy()
        nodes = _next_nodes(words, nodes, ids) if words else nodes
        if done.all():
            break
    return Drawn(np.array(drawn), np.minimum(lengths, len(drawn)), logp, states)


def _word_costs(words: dict, nodes: np.ndarray) -> np.ndarray:
    """What `filters.Words.forbidden` gives, in NumPy, step by step."""
    after = words["child"][nodes][:, words["column"]]  # the node each token leads to
    here = words["enter"][nodes][:, None]
    step = np.maximum(words["enter"][np.maximum(after, 0)] - here, 0.0)
    ending = (after == 0) | (after == words["possessive"])  # a word ends: the root is next
    cost = step + words["end"][nodes][:, None] * ending
    return np.where(after >= 0, -cost, -np.inf).astype(np.float32)


def _next_nodes(words: dict, nodes: np.ndarray, ids) -> np.ndarray:
    """The trie nodes after `ids`, in NumPy: the free node where a word leaves the trie."""
    nxt = words["child"][nodes, words["column"][np.asarray(ids)]]
    return np.where(nxt >= 0, nxt, words["free"]).astype(np.int32)
