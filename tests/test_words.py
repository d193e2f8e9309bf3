"""Known words for verse (`gen sample --words real`): the trie over a vocabulary's characters."""

from __future__ import annotations

import numpy as np
import pytest

from generator.verse import lexicon

CHARS = list("\n !\"'(),-.:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


@pytest.fixture(scope="module")
def trie():
    return lexicon.trie_tables(CHARS, lexicon.dictionary_words() | {"o'er", "th'end", "th"})


def walk(trie, text: str) -> str | None:
    """The first character of `text` the trie refuses, or None."""
    node = 0
    for char in text:
        node = trie["child"][node, trie["column"][CHARS.index(char)]]
        if node < 0:
            return char
    return None


@pytest.mark.parametrize(
    "text",
    ["The cat sat. ", "O'er the hills ", "nations' hearts ", "a man's word ", "'Tis so, ",
     "deep-sunken eyes ", "THE END\n", "Don't weep! ", "said I' ", "th' Almighty ",
     "heaven' ", "heaven's "],
)  # fmt: skip
def test_known_words_pass_as_readers_write_them(trie, text):
    assert walk(trie, text) is None


@pytest.mark.parametrize(
    "text, refused",
    [("her wrappens ", "n"), ("of pleused ", "s"), ("dont ", "t"), ("sing hte", "e")],
)
def test_invented_words_are_refused_where_they_leave_every_known_word(trie, text, refused):
    assert walk(trie, text) == refused


def test_a_word_off_the_trie_runs_free_until_it_ends(trie):
    free = int(trie["free"])
    assert (trie["child"][free, :-1] == free).all()  # any letter, then
    assert trie["child"][free, -1] == 0  # a space or a mark ends it: known words again


def test_every_character_is_a_letter_column_or_the_separator(trie):
    column = dict(zip(CHARS, trie["column"]))
    separator = trie["child"].shape[1] - 1
    assert column["a"] == column["A"] != separator and column["'"] != separator
    assert {column[c] for c in "\n !,-.?"} == {separator}
    assert np.all(trie["child"] >= -1)


def test_a_word_outside_the_preferred_ones_costs_nats_once_where_it_leaves_them():
    tables = lexicon.trie_tables(CHARS, {"cat", "catgut", "gloyd"}, preferred={"catgut"})
    rare = lexicon.RARE_COST
    enter = lambda text: tables["enter"][node_after(tables, text)]  # noqa: E731
    end = lambda text: tables["end"][node_after(tables, text)]  # noqa: E731
    assert enter("catg") == enter("catgut") == end("catgut") == 0  # preferred all the way
    assert enter("g") == enter("gloyd") == rare and end("gloyd") == 0  # paid at its g
    assert enter("cat") == 0 and end("cat") == rare  # a preferred word goes on: paid at its end
    plain = lexicon.trie_tables(CHARS, {"gloyd"})  # nothing preferred: nothing costs
    assert not plain["enter"].any() and not plain["end"].any()


@pytest.mark.parametrize(
    "text, cost",
    [("don't ", 0), ("don ", 1), ("cat's ", 0), ("dot's ", 0), ("nations' ", 0),
     ("they' ", 0), ("they'd ", 1), ("gloyd's ", 1)],
)  # fmt: skip
def test_apostrophes_cost_only_where_a_rare_word_is_written(text, cost):
    from generator.drawref import _next_nodes, _word_costs

    words = {"don", "don't", "cat", "cat's", "dot", "nations", "they", "they'd", "gloyd"}
    tables = lexicon.trie_tables(CHARS, words, preferred={"don't", "cat", "dot", "nations", "they"})
    node, total = np.zeros(1, np.int32), 0.0
    for char in text:  # what the sampler takes from each character, in the plain reference
        total -= _word_costs(tables, node)[0, CHARS.index(char)]
        node = _next_nodes(tables, node, [CHARS.index(char)])
    assert total == cost * lexicon.RARE_COST


def node_after(trie, text: str) -> int:
    node = 0
    for char in text:
        node = trie["child"][node, trie["column"][CHARS.index(char)]]
    return node


@pytest.mark.slow
def test_a_word_with_a_character_outside_the_vocabulary_is_no_corpus_word():
    tokens = ["<unk>", "<start>", " ", "\n", *"aegnrs"]
    text = "<start>a rare <unk> s<unk>gn\n<start>rags"  # "sign" without an "i" to spell it
    ids = [tokens.index(t) for t in _split(text)]
    assert lexicon.text_words(lexicon.vocabulary_text(tokens, ids)) == {"a", "rare", "rags"}


def _split(text: str) -> list[str]:
    """`text` as tokens: the special tokens whole, other characters one by one."""
    import re

    return [t for t in re.split(r"(<unk>|<start>)|", text) if t]


def test_a_run_whose_corpus_is_gone_keeps_to_the_dictionary(tmp_path):
    import shutil

    from conftest import run, tiny, trained_run

    from generator.checkpoint import load_checkpoint
    from generator.sample import Sampler

    poems = tmp_path / "poems" / "p.txt"
    poems.parent.mkdir()
    poems.write_text("the zorblat sat on the mat\nthe dog ran to the log\n\n" * 40)
    ckpt = trained_run(tmp_path, ["--corpus", "text", "--path", poems.parent], "v", *tiny())
    assert "zorblat" in Sampler(load_checkpoint(ckpt)).known_words("real")
    shutil.rmtree(poems.parent)
    shutil.rmtree(tmp_path / "cache", ignore_errors=True)  # the token stores too
    assert Sampler(load_checkpoint(ckpt)).known_words("real") == lexicon.dictionary_words()
    args = ("sample", "--checkpoint", ckpt, "--out", "-", "--lines", 2, "--no-report")
    refused = run(*args, "--words", "corpus")
    assert refused.exit_code == 1 and "--words corpus needs the run's corpus" in refused.output
    real = run(*args)
    assert real.exit_code == 0 and real.stdout.strip(), real.output
