"""A count-based baseline: an interpolated Kneser-Ney n-gram model over token ids.

`gen evaluate` prints its held-out loss next to the network's, on the same tokens and the
same split, so every loss has a non-neural reference: the question "what loss is good?"
gets the answer "this much below what counting gets".

    p(w | h) = max(c(h, w) - D, 0) / c(h) + D * N(h) / c(h) * p(w | h minus its first token)

c counts the n-gram at the highest order and its continuations (how many different tokens
precede it) at lower orders; N(h) is how many different tokens follow h; below unigrams is
the uniform distribution over the vocabulary. A context never seen falls through to the
next order down. Streams are scored as one sequence, like the network's windows.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

DISCOUNT = 0.75


class NGram:
    """Interpolated Kneser-Ney over int ids 0 .. vocab_size - 1."""

    def __init__(self, order: int, vocab_size: int, discount: float = DISCOUNT):
        if order < 1:
            raise ValueError("order must be at least 1")
        self.order, self.vocab_size, self.discount = order, vocab_size, discount
        # per order k (1-based): context tuple -> {token: count}
        self.counts: list[dict] = [defaultdict(dict) for _ in range(order + 1)]
        self.totals: list[dict] = [{} for _ in range(order + 1)]

    def fit(self, ids) -> NGram:
        ids = [int(i) for i in np.asarray(ids).ravel()]
        top = self.order
        seen_before: set[tuple] = set()  # (preceding token, n-gram) pairs already counted
        for n in range(top, 0, -1):
            table = self.counts[n]
            for end in range(n, len(ids) + 1):
                gram = tuple(ids[end - n : end])
                context, token = gram[:-1], gram[-1]
                # raw counts at the top order (and at the stream's very start); below it,
                # continuation counts: one per distinct preceding token
                if n < top and end > n:
                    key = (ids[end - n - 1], gram)
                    if key in seen_before:
                        continue
                    seen_before.add(key)
                row = table[context]
                row[token] = row.get(token, 0) + 1
            self.totals[n] = {ctx: sum(row.values()) for ctx, row in table.items()}
        return self

    def prob(self, history: tuple, token: int) -> float:
        """p(token | the last order - 1 tokens of `history`)."""
        p = 1.0 / self.vocab_size
        for n in range(1, self.order + 1):
            if len(history) < n - 1:
                break
            context = tuple(history[len(history) - (n - 1) :]) if n > 1 else ()
            row = self.counts[n].get(context)
            if not row:
                break  # an unseen context: longer ones are unseen too
            total = self.totals[n][context]
            d = self.discount
            p = max(row.get(token, 0) - d, 0.0) / total + d * len(row) / total * p
        return p

    def nats(self, ids) -> float:
        """Mean negative log-probability of `ids` (each token given those before it)."""
        ids = [int(i) for i in np.asarray(ids).ravel()]
        if len(ids) < 2:
            raise ValueError("need at least two tokens to score")
        total = 0.0
        for t in range(1, len(ids)):
            history = tuple(ids[max(0, t - self.order + 1) : t])
            total -= math.log(self.prob(history, ids[t]))
        return total / (len(ids) - 1)


def baselines(train_ids, val_ids, vocab_size: int, orders=range(1, 7)) -> dict[int, float]:
    """Held-out nats per token of n-gram models of each order, trained on `train_ids`."""
    longest = NGram(max(orders), vocab_size).fit(train_ids)
    results = {}
    for order in orders:  # a lower-order model is the same counts, read to a shorter depth
        model = NGram(order, vocab_size)
        model.counts = longest.counts[: order + 1]
        model.totals = longest.totals[: order + 1]
        if order < longest.order:  # its top order needs raw, not continuation, counts
            model.counts[order], model.totals[order] = _raw(train_ids, order)
        results[order] = model.nats(val_ids)
    return results


def _raw(ids, n: int):
    ids = [int(i) for i in np.asarray(ids).ravel()]
    table: dict = defaultdict(dict)
    for end in range(n, len(ids) + 1):
        gram = tuple(ids[end - n : end])
        row = table[gram[:-1]]
        row[gram[-1]] = row.get(gram[-1], 0) + 1
    return table, {ctx: sum(row.values()) for ctx, row in table.items()}
