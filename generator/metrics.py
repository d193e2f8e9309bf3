"""Measures of generated output against the training corpus."""

from __future__ import annotations

from collections.abc import Iterable


def ngrams(tokens: list[str], n: int) -> Iterable[tuple[str, ...]]:
    """Every run of `n` consecutive tokens."""
    return (tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def copy_rate(samples: list[list[str]], corpus: list[list[str]], n: int) -> float | None:
    """Share of the samples' n-token runs that also occur in the corpus (None if the samples
    are shorter than `n`): how much the model copies instead of composing."""
    seen = set()
    for stream in corpus:
        seen.update(ngrams(stream, n))
    total = hits = 0
    for sample in samples:
        for gram in ngrams(sample, n):
            total += 1
            hits += gram in seen
    return hits / total if total else None
