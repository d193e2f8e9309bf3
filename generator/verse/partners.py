"""Rhymes whose partner is two or more lines up: where a model must remember to rhyme.

`gen evaluate --context` scores the last word of such a line with its real history and with
everything before the line above it shuffled, which takes the partner away while keeping the
line the word ends and the one before it."""

from __future__ import annotations

from generator.verse import prosody

LOOKBACK = 4  # lines up that a partner may be (ABAB's partners are two up, ABBA's three)


def distances(ends: list[str | None], lookback: int = LOOKBACK) -> list[int]:
    """Per line, given each line's last word (None for none): how many lines up the nearest
    line whose last word rhymes with it is, up to `lookback`; 0 for none."""
    return [
        next((d for d in range(1, lookback + 1) if i >= d and prosody.rhymes(end, ends[i - d])), 0)
        for i, end in enumerate(ends)
    ]


def distant_rhymes(text: str, lookback: int = LOOKBACK) -> list[tuple[int, int, int]]:
    """(where the line above begins, where the last word begins, where it ends), as offsets
    into `text`, for each line whose last word rhymes with the last word of a line two to
    `lookback` lines up, and not with the line just above."""
    starts, spans, ends, start = [], [], [], 0
    for line in text.split("\n"):
        found = list(prosody.WORD.finditer(line))
        starts.append(start)
        spans.append(found and (start + found[-1].start(), start + found[-1].end()))
        ends.append(found[-1][0].lower() if found else None)
        start += len(line) + 1
    far = distances(ends, lookback)
    return [(starts[i - 1], *spans[i]) for i in range(len(ends)) if far[i] >= 2 and ends[i - 1]]
