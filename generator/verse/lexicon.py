"""Known words, and the trie that keeps verse to them (`gen sample --words real`).

A word is known if the training corpus has it or the CMU pronouncing dictionary does (both
read with `prosody.WORD`, lower-cased). The trie runs over a vocabulary's character tokens:
`child[node, column]` is the node after a character, -1 where no known word goes on that way.
Letters (and the apostrophe inside words) have a column each, upper and lower case alike;
every other character is a separator in the last column, allowed only between words (at the
root) or where a known word ends. A word-final apostrophe (`nations'`, `man's`) may follow any
known word; an apostrophe between words is a quotation mark. Characters fed from outside the
trie (an unknown word in a primer) lead to a free node that allows anything until the word
ends, so a primer of any words keeps working. Words outside a `preferred` set (the dictionary's
surnames and rare spellings, where the training corpus has words of its own) may still be
written, but cost `RARE_COST` nats, taken once: at the letter that leaves every preferred word
(`enter[node]` is the cost of standing at a node; a step costs what it adds), or at the end of
a rare word that a preferred one goes on from (`end[node]`, on a separator or a possessive
apostrophe). Taken early, the cost steers the sampler away before it is committed. A possessive
of a preferred word is preferred, and an apostrophe itself never costs (it may close a quote).
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

from generator.verse import prosody
from generator.vocab import SPECIALS, UNK

ROOT = 0
APOSTROPHE = "'"
RARE_COST = 3.0  # nats taken from writing a word outside the preferred words


@lru_cache(maxsize=1)
def dictionary_words() -> frozenset[str]:
    """The words of the CMU pronouncing dictionary, as `prosody.WORD` reads them."""
    import pronouncing

    pronouncing.init_cmu()
    return frozenset(w for entry in pronouncing.lookup for w in prosody.WORD.findall(entry))


def text_words(text: str) -> set[str]:
    """The words of a text, lower-cased (`prosody.words`)."""
    return set(prosody.words(text))


def is_known(word: str, known) -> bool:
    """Whether `word` is in `known`, or is the possessive of a word in it (`man's`)."""
    return word in known or word.removesuffix("'s") in known


def vocabulary_text(tokens: list[str], ids) -> str:
    """The text of character ids: a space for each piece's start, and without the words
    that hold a character outside the vocabulary (`<unk>`: the "i" of "sign" where only the
    held-out text has one), for neither such a word nor its pieces ("s", "gn") is one the
    vocabulary can spell."""
    marks = ["\0" if t == UNK else " " if t in SPECIALS else t for t in tokens]
    chars = np.array(marks, object)  # a "U" array would drop the NUL
    return re.sub(r"\S*\0\S*", " ", "".join(chars[ids]))


def spells(tokens: list[str]) -> bool:
    """Whether a vocabulary writes words letter by letter (a word-level one needs no trie)."""
    return any(is_letter(t) for t in tokens)


def is_letter(token: str) -> bool:
    return len(token) == 1 and (token.isalpha() or token == APOSTROPHE)


def trie_tables(tokens: list[str], words, preferred=None) -> dict[str, np.ndarray]:
    """The trie of `words` over the character `tokens` of a vocabulary: `child` (nodes,
    columns) int32, `column` (vocab,) int32 (each token's column; separators the last),
    `free` (the node for characters of an unknown word), `enter` and `end` (nodes,) float32
    (the costs of the module docstring; zeros without `preferred`) and `possessive` (the node
    an apostrophe after a whole word leads to)."""
    letters = sorted({t.lower() for t in tokens if is_letter(t)})
    index = {c: i for i, c in enumerate(letters)}
    separator = len(letters)
    column = np.array([index.get(t.lower(), separator) for t in tokens], np.int32)
    children: list[dict[int, int]] = [{}]
    ends = [True]  # the root: between words
    rare: list[int] = []  # nodes where a word outside `preferred` ends
    reached = {ROOT}  # nodes on the way to a preferred word
    for word in words:
        if not all(c in index for c in word):
            continue  # a letter the vocabulary cannot write
        node, path = ROOT, []
        for c in word:
            nxt = children[node].get(index[c])
            if nxt is None:
                nxt = len(children)
                children[node][index[c]] = nxt
                children.append({})
                ends.append(False)
            node = nxt
            path.append(node)
        ends[node] = True
        if preferred is None or is_known(word.removesuffix(APOSTROPHE), preferred):
            reached.update(path)
        else:
            rare.append(node)
    tables = _table(children, ends, index, separator)
    enter, end = (np.zeros(len(tables["child"]), np.float32) for _ in range(2))
    if preferred is not None:
        apostrophe = index.get(APOSTROPHE)  # the cost waits for the letter after it
        reached |= {children[n][apostrophe] for n in reached if apostrophe in children[n]}
        enter[: len(children)] = RARE_COST
        enter[list(reached)] = 0.0
        end[[n for n in rare if n in reached]] = RARE_COST
    return tables | {"column": column, "enter": enter, "end": end}


def _table(children, ends, index, separator) -> dict[str, np.ndarray]:
    """The dense `child` table of a trie, with the possessive and free nodes added."""
    possessive, possessive_s, free = len(children), len(children) + 1, len(children) + 2
    child = np.full((free + 1, separator + 1), -1, np.int32)
    for node, kids in enumerate(children):
        for col, nxt in kids.items():
            child[node, col] = nxt
    ending = np.flatnonzero(np.array(ends + [True, True, True]))
    child[ending, separator] = ROOT
    child[free, :separator] = free
    apostrophe = index.get(APOSTROPHE)
    if apostrophe is not None:
        child[ROOT, apostrophe] = ROOT  # a quotation mark between words
        word_ends = ending[(ending != ROOT) & (ending < possessive)]
        after = child[word_ends, apostrophe]
        child[word_ends[after < 0], apostrophe] = possessive
        went_on = after[after >= 0]  # i'm, th'end: the apostrophe may also end the word
        child[went_on, separator] = ROOT
        if "s" in index:
            ess = index["s"]
            child[possessive, ess] = possessive_s
            child[went_on[child[went_on, ess] < 0], ess] = possessive_s
    return {"child": child, "free": np.int32(free), "possessive": np.int32(possessive)}
