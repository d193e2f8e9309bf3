"""Syllables and rhyme for English verse: the CMU pronouncing dictionary, with rules as fallback.

The dictionary ships inside the `pronouncing` package (no download). A word can have several
pronunciations, so a word has a set of possible syllable counts and a line has the set of their
sums: "flower" may be one syllable or two, as poets use it.
"""

from __future__ import annotations

import re
from functools import lru_cache

WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")  # letters of any script, inner apostrophes
VOWEL_GROUP = re.compile(r"[aeiouy]+")


def words(line: str) -> list[str]:
    """The words of a line, lower-cased, punctuation dropped."""
    return [w.lower() for w in WORD.findall(line)]


@lru_cache(maxsize=65536)
def pronunciations(word: str) -> tuple[str, ...]:
    """CMU dictionary pronunciations of `word` (empty if it is not in the dictionary)."""
    import pronouncing

    return tuple(pronouncing.phones_for_word(word.lower()))


def rule_syllables(word: str) -> int:
    """Syllables by spelling: vowel groups, less a silent final -e, at least one."""
    w = word.lower().replace("'", "")
    count = len(VOWEL_GROUP.findall(w))
    if w.endswith("e") and not w.endswith(("le", "ee", "ye")) and count > 1:
        count -= 1
    return max(1, count)


@lru_cache(maxsize=65536)
def syllable_options(word: str) -> frozenset[int]:
    """Possible syllable counts of a word."""
    import pronouncing

    found = {pronouncing.syllable_count(p) for p in pronunciations(word)}
    return frozenset(found or {rule_syllables(word)})


def line_syllables(line: str) -> frozenset[int]:
    """Possible syllable counts of a line (every combination of its words' readings)."""
    totals = {0}
    for word in words(line):
        totals = {t + n for t in totals for n in syllable_options(word)}
    return frozenset(totals)


def last_word(line: str) -> str | None:
    """The line's last word, lower-cased, or None for a line without words."""
    found = words(line)
    return found[-1] if found else None


def _rule_rhyme(word: str) -> str:
    """Spelling fallback for a rhyme: from the last vowel group to the end."""
    w = word.lower().replace("'", "")
    groups = list(VOWEL_GROUP.finditer(w.rstrip("e") or w))
    return w[groups[-1].start() :] if groups else w


@lru_cache(maxsize=65536)
def rhyme_parts(word: str) -> frozenset[str]:
    """The rhyming parts (last stressed vowel onwards) of a word's pronunciations."""
    import pronouncing

    return frozenset(pronouncing.rhyming_part(p) for p in pronunciations(word))


@lru_cache(maxsize=1)
def _rhyme_part_counts() -> dict[str, int]:
    """How many dictionary words share each rhyming part."""
    import pronouncing

    pronouncing.init_cmu()
    counts: dict[str, int] = {}
    for _, phones in pronouncing.pronunciations:
        part = pronouncing.rhyming_part(phones)
        counts[part] = counts.get(part, 0) + 1
    return counts


def rhyme_richness(word: str | None) -> int:
    """How many dictionary words rhyme with `word` (its richest pronunciation); 0 if unknown.
    A first line ending in a rich word leaves its partner lines many ways to rhyme."""
    if not word:
        return 0
    counts = _rhyme_part_counts()
    return max((counts.get(p, 1) - 1 for p in rhyme_parts(word)), default=0)


@lru_cache(maxsize=4096)
def rhyme_words(word: str) -> tuple[str, ...]:
    """Plain dictionary words (letters only) that rhyme with `word`, most common first as far
    as the dictionary's order allows; the word itself excluded."""
    import pronouncing

    found = dict.fromkeys(
        w for w in pronouncing.rhymes(word) if w.isalpha() and w != word and len(w) <= 12
    )
    return tuple(found)


def rhymes(a: str | None, b: str | None) -> bool:
    """Whether two line-end words rhyme: by the dictionary when both are in it, else by
    spelling. A word does not rhyme with itself."""
    if not a or not b or a == b:
        return False
    pa, pb = rhyme_parts(a), rhyme_parts(b)
    if pa and pb:
        return bool(pa & pb)
    return _rule_rhyme(a) == _rule_rhyme(b)


def dictionary_rhymes(a: str | None, b: str | None) -> bool:
    """Whether the dictionary itself confirms the rhyme (both words known, parts shared)."""
    return bool(a and b and a != b and rhyme_parts(a) & rhyme_parts(b))
