"""Metre: whether a line scans as iambic, trochaic, anapestic or dactylic feet.

The rule (the same for candidates, reports and benchmarks): a line scans when some reading of
its words matches the metre's pattern of unstressed (0) and stressed (1) syllables, foot by
foot, with at most one foot inverted (a trochee for an iamb, say). A reading takes each word's
stresses from one of its CMU dictionary pronunciations; a one-syllable word and a secondary
stress may take either stress, as a reader places them by context, and a word outside the
dictionary fits anywhere. An anapestic line may drop its first syllable (a limerick's "There
was an old man"), a dactylic line its last one or two.
"""

from __future__ import annotations

from functools import lru_cache

from generator.verse import prosody

FEET = {"iambic": "01", "trochaic": "10", "anapestic": "001", "dactylic": "100"}
METRES = (*FEET, "none")
ANY = "?"  # a syllable that may take either stress
MAX_READINGS = 256  # readings of a line kept while its words are combined


@lru_cache(maxsize=65536)
def word_stresses(word: str) -> frozenset[str]:
    """The stress patterns a word may take, one character per syllable: 0, 1 or `ANY`."""
    import pronouncing

    found = set()
    for phones in prosody.pronunciations(word):
        marks = pronouncing.stresses(phones)
        found.add(ANY if len(marks) == 1 else marks.replace("2", ANY))
    return frozenset(found or {ANY * prosody.rule_syllables(word)})


def readings(line: str, longest: int) -> set[str]:
    """Stress patterns of the line's readings up to `longest` syllables (at most
    `MAX_READINGS` of them)."""
    found = {""}
    for word in prosody.words(line):
        found = {r + w for r in found for w in word_stresses(word) if len(r) + len(w) <= longest}
        if not found:
            return found
        if len(found) > MAX_READINGS:
            found = set(sorted(found)[:MAX_READINGS])
    return found


def patterns(metre: str, feet: int) -> list[list[str]]:
    """The line patterns of `feet` feet of `metre`, each as its list of feet, with the
    shortened first (anapestic) or last (dactylic) foot the module's rule allows."""
    foot = FEET[metre]
    whole = [foot] * feet
    if metre == "anapestic":
        return [whole, [foot[1:]] + whole[1:]]
    if metre == "dactylic":
        return [whole, whole[:-1] + [foot[:-1]], whole[:-1] + [foot[:1]]]
    return [whole]


def lengths(metre: str, feet: int) -> set[int]:
    """The syllables a line of `feet` feet of `metre` may have (shortened feet included)."""
    return {sum(map(len, p)) for p in patterns(metre, feet)}


def _fits(stress: str, foot: str) -> bool:
    return len(stress) == len(foot) and all(s in (ANY, f) for s, f in zip(stress, foot))


def matches(reading: str, feet: list[str]) -> bool:
    """Whether a reading fits the feet with at most one foot inverted."""
    if len(reading) != sum(map(len, feet)):
        return False
    inverted, at = 0, 0
    for foot in feet:
        part = reading[at : at + len(foot)]
        at += len(foot)
        if _fits(part, foot):
            continue
        if inverted or not _fits(part, foot[::-1]):
            return False
        inverted = 1
    return True


def scans(line: str, metre: str | None, feet: int | None) -> bool:
    """Whether the line scans as `feet` feet of `metre` by the module's rule; any line scans
    when there is no metre."""
    if not metre or metre == "none" or not feet:
        return True
    options = patterns(metre, feet)
    return any(matches(r, p) for r in readings(line, max(lengths(metre, feet))) for p in options)


def syllables(metre: str, feet: int) -> int:
    """The syllables of a whole line of `feet` feet of `metre`."""
    return len(FEET[metre]) * feet
