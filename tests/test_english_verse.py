"""The built-in English verse corpus: how it is built, what ships, and how `text` names it."""

from __future__ import annotations

import zipfile

import pytest
from conftest import SHARED_DATA, run, script

from generator.corpora import english
from generator.corpora.text import TextCorpus

build = script("tools/build_verse_corpus.py")


@pytest.mark.parametrize(
    "tokens, printed",
    [
        ("o night and death , to whom we", "O night and death, to whom we"),
        ("when in man 's sight he stood", "When in man's sight he stood"),
        ("by unexpress è d sweetness that i give", "By unexpressèd sweetness that I give"),
        ("and wash each honour ’ d wound", "And wash each honour'd wound"),
        ("the sun o ’ er the hills", "The sun o'er the hills"),
        ("in two great nations ’ hearts", "In two great nations' hearts"),
        ("she bade him “ sit into the fire , ” and", 'She bade him "sit into the fire," and'),
        ("‘ tis human to err . and divine", "'Tis human to err. And divine"),
        ("i 'm here — nor there ( quite ) i 'll go", "I'm here—nor there (quite) I'll go"),
        ("do n't weep ! o love", "Don't weep! O love"),
    ],
)  # fmt: skip
def test_tokenised_sonnet_lines_are_printed_as_verse(tokens, printed):
    assert build.capitalised(build.glue(tokens.translate(build.QUOTES).split())) == printed


def test_prosodic_poems_lose_headings_and_small_capitals():
    poem = "PART THE FIRST\n   I BEAR a basket lined with grass;\n  THE woods  of Arcady\nVVith"
    assert build.tidy(poem) == "I bear a basket lined with grass;\nThe woods of Arcady\nWith"


def test_shipped_archive_is_what_the_script_builds(tmp_path):
    if not (SHARED_DATA / "sonnets").is_dir():
        pytest.skip(f"{SHARED_DATA} is not here (../shared/data)")
    build.build(SHARED_DATA, tmp_path / "built.zip")

    def texts(path):  # file by file: the compressed bytes may differ with zlib's version
        with zipfile.ZipFile(path) as archive:
            return {name: archive.read(name) for name in archive.namelist()}

    assert texts(tmp_path / "built.zip") == texts(english.ARCHIVE)


def test_default_text_corpus_is_english_verse(tmp_path):
    files = TextCorpus().default_files(tmp_path, None)
    assert len(files) > 100 and english.ARCHIVE.stat().st_size < 3_000_000  # fits a wheel
    shakespeare = next(f for f in files if f.name.startswith("shakespeare-sonnets"))
    assert shakespeare.read_text().startswith("From fairest creatures we desire increase,\n")
    again = TextCorpus().default_files(tmp_path, None)  # extracted once, then found
    assert again == files


def test_unknown_builtin_text_corpus_names_the_known_ones(tmp_path):
    result = run("encode", "--corpus", "text", "--path", "builtin:nope", "--out", tmp_path / "s")
    assert result.exit_code == 1
    assert "no built-in text corpus 'nope'" in result.output
    assert "builtin:english" in result.output and "builtin:hymns" in result.output


@pytest.mark.slow
def test_builtin_hymns_are_the_chorales_german_texts(tmp_path, monkeypatch):
    pytest.importorskip("music21")
    monkeypatch.setenv("GEN_DEFAULT_CORPUS_LIMIT", "3")
    files = TextCorpus().find_files("builtin:hymns")
    text = files[0].read_text()
    assert len(text.splitlines()) >= 4  # one line per phrase
    assert any(word in text for word in ("und", "der", "die", "Gott", "ich"))
