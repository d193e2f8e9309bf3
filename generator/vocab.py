"""Vocabulary: string tokens <-> integer ids, saved as versioned JSON ("gen-vocab/1").

Ids 0 and 1 are special: `<unk>` stands for tokens the model never saw, `<start>` opens every
piece or poem so that sampling can begin from nothing. The sampler never emits either.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from generator.atomic import write_text
from generator.errors import GenError

FORMAT = "gen-vocab/1"
UNK, START = "<unk>", "<start>"
SPECIALS = (UNK, START)


class Vocab:
    """An ordered list of tokens; a token's id is its position."""

    def __init__(self, tokens: Iterable[str]):
        tokens = list(tokens)
        if tuple(tokens[: len(SPECIALS)]) != SPECIALS:
            tokens = list(SPECIALS) + [t for t in tokens if t not in SPECIALS]
        self.tokens = tokens
        self.index = {t: i for i, t in enumerate(tokens)}
        if len(self.index) != len(tokens):
            raise GenError("vocabulary has duplicate tokens")

    @classmethod
    def build(
        cls, streams: Iterable[list[str]], base: list[str] | None = None, min_count: int = 1
    ) -> Vocab:
        """The fixed `base` vocabulary if given, else the tokens of `streams` seen at least
        `min_count` times, most frequent first (ties in first-seen order)."""
        if base is not None:
            return cls(base)
        counts = Counter()
        for stream in streams:
            counts.update(stream)
        return cls.from_counts(counts, min_count)

    @classmethod
    def from_counts(cls, counts: Counter, min_count: int = 1) -> Vocab:
        """The tokens counted at least `min_count` times, most frequent first (ties in the
        counter's order, which is first-seen order)."""
        return cls(t for t, n in counts.most_common() if n >= min_count)

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def unk_id(self) -> int:
        return self.index[UNK]

    @property
    def start_id(self) -> int:
        return self.index[START]

    def encode(self, tokens: list[str]) -> np.ndarray:
        """Ids of `tokens`, shape (len,), unknown tokens mapped to `<unk>`."""
        unk = self.unk_id
        return np.fromiter((self.index.get(t, unk) for t in tokens), np.int32, len(tokens))

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens of `ids`, special tokens dropped."""
        n = len(SPECIALS)
        return [self.tokens[i] for i in ids if i >= n]

    def unknown(self, tokens: Iterable[str]) -> list[str]:
        """Distinct tokens not in the vocabulary, in first-seen order."""
        return list(dict.fromkeys(t for t in tokens if t not in self.index))

    def save(self, path: Path) -> None:
        """Write atomically: a temporary file in the same folder, then a rename."""
        write_text(path, json.dumps({"format": FORMAT, "tokens": self.tokens}, indent=0))

    @classmethod
    def load(cls, path: Path) -> Vocab:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise GenError(f"cannot read vocabulary '{path}': {exc}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            found = data.get("format") if isinstance(data, dict) else None
            raise GenError(f"vocabulary '{path}' has format {found!r}, expected '{FORMAT}'")
        tokens = data.get("tokens")
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise GenError(f"vocabulary '{path}' is corrupt: 'tokens' is not a list of strings")
        return cls(tokens)
