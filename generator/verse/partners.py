"""Rhymes whose partner is two or more lines up: where a model must remember to rhyme.

`gen evaluate --context` scores the last word of such a line with its real history and with
everything before the line above it shuffled, which takes the partner away while keeping the
line the word ends and the one before it."""

from __future__ import annotations

from generator.verse import prosody

LOOKBACK = 4  # lines up that a partner may be (ABAB's partners are two up, ABBA's three)


def distant_rhymes(text: str, lookback: int = LOOKBACK) -> list[tuple[int, int, int]]:
    """(where the line above begins, where the last word begins, where it ends), as offsets
    into `text`, for each line whose last word rhymes with the last word of a line two to
    `lookback` lines up, and not with the line just above."""
    lines, start = [], 0
    for line in text.split("\n"):
        found = list(prosody.WORD.finditer(line))
        last = found[-1] if found else None
        lines.append((start, last and (start + last.start(), start + last.end(), last[0].lower())))
        start += len(line) + 1
    spans = []
    for i in range(2, len(lines)):
        end_word, above = lines[i][1], lines[i - 1]
        if not end_word or not above[1] or prosody.rhymes(end_word[2], above[1][2]):
            continue
        earlier = [lines[j][1] for j in range(max(0, i - lookback), i - 1) if lines[j][1]]
        if any(prosody.rhymes(end_word[2], word[2]) for word in earlier):
            spans.append((above[0], end_word[0], end_word[1]))
    return spans
