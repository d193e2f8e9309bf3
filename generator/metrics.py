"""Measures of generated output against the training corpus."""

from __future__ import annotations

from collections.abc import Iterable


def ngrams(tokens: list[str], n: int) -> Iterable[tuple[str, ...]]:
    """Every run of `n` consecutive tokens."""
    return (tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def copy_counts(samples: list[list[str]], corpus: list[list[str]], n: int) -> list[tuple[int, int]]:
    """(runs found in the corpus, runs) for each sample's n-token runs; the corpus's runs are
    collected once for all samples."""
    seen = set()
    for stream in corpus:
        seen.update(ngrams(stream, n))
    return [
        (sum(gram in seen for gram in ngrams(sample, n)), max(0, len(sample) - n + 1))
        for sample in samples
    ]


def copy_rate(samples: list[list[str]], corpus: list[list[str]], n: int) -> float | None:
    """Share of the samples' n-token runs that also occur in the corpus (None if the samples
    are shorter than `n`): how much the model copies instead of composing."""
    return pooled_rate(copy_counts(samples, corpus, n))


def pooled_rate(counts: list[tuple[int, int]]) -> float | None:
    """The share of hits in (hits, total) counts taken together; None when there are none."""
    total = sum(t for _, t in counts)
    return sum(h for h, _ in counts) / total if total else None
