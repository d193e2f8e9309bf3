"""Measures of generated output against the training corpus: how much of it copies runs of
`n` ids from the corpus verbatim, on the same ids training reads (from the token store)."""

from __future__ import annotations

import numpy as np

HASH_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # odd: each id shifts every earlier one's bits
CHUNK = 1 << 20  # ids hashed at a time, so memory for the corpus's runs grows by 8 bytes a run


def run_hashes(ids: np.ndarray, n: int) -> np.ndarray:
    """A 64-bit hash of every run of `n` consecutive ids, shape (len - n + 1,) uint64. The
    same run always has the same hash; two different runs collide about once in 2^64."""
    ids = np.asarray(ids).astype(np.uint64) + np.uint64(1)
    count = len(ids) - n + 1
    hashes = np.zeros(max(0, count), np.uint64)
    for j in range(n if count > 0 else 0):
        hashes = hashes * HASH_MULTIPLIER + ids[j : j + count]  # wraps modulo 2^64
    return hashes


class CopyIndex:
    """The runs of `n` ids of a corpus stream (an id array or a `data.SegmentedStream`), read
    a chunk at a time, for looking up the runs of samples. Ids in `skip` (control tokens,
    which no output writes) are passed over on both sides."""

    def __init__(self, stream, n: int, unk_id: int = 0, skip=()):
        self.n, self.unk_id, self.skip = n, unk_id, np.asarray(list(skip), np.int64)
        parts, carry = [], np.zeros(0, np.int64)
        read = stream.slice if hasattr(stream, "slice") else lambda a, b: stream[a:b]
        for start in range(0, len(stream), CHUNK):
            ids = np.concatenate([carry, self._kept(read(start, min(len(stream), start + CHUNK)))])
            parts.append(np.unique(run_hashes(ids, n)))
            carry = ids[len(ids) - (n - 1) :] if n > 1 else ids[:0]  # runs across chunks
        self.hashes = np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.uint64)

    def _kept(self, ids) -> np.ndarray:
        ids = np.asarray(ids, np.int64)
        return ids[~np.isin(ids, self.skip)] if len(self.skip) else ids

    def count(self, ids) -> tuple[int, int]:
        """(runs found in the corpus, runs) of one sample's ids; a run holding `<unk>` (a
        token the vocabulary does not know) is never found."""
        ids = self._kept(ids)
        hashes = run_hashes(ids, self.n)
        if not len(hashes):
            return 0, 0
        unknown = np.concatenate([[0], np.cumsum(ids == self.unk_id)])
        clean = unknown[self.n :] - unknown[: len(hashes)] == 0  # runs without <unk>
        return int((self._held(hashes) & clean).sum()), len(hashes)

    def _held(self, hashes: np.ndarray) -> np.ndarray:
        """Which hashes the corpus holds: a binary search in its sorted hashes, not `np.isin`,
        which sorts the whole corpus again for every sample."""
        if not len(self.hashes):
            return np.zeros(len(hashes), bool)
        at = np.minimum(np.searchsorted(self.hashes, hashes), len(self.hashes) - 1)
        return self.hashes[at] == hashes


def pooled_rate(counts: list[tuple[int, int]]) -> float | None:
    """The share of hits in (hits, total) counts taken together; None when there are none."""
    total = sum(t for _, t in counts)
    return sum(h for h, _ in counts) / total if total else None


def copy_rate(samples: list, index: CopyIndex) -> float | None:
    """Share of the samples' runs (id arrays) that also occur in the corpus of `index` (None
    if the samples are shorter than its `n`): how much the model copies instead of
    composing."""
    return pooled_rate([index.count(s) for s in samples])
