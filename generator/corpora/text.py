"""The `text` corpus plugin: plain-text verse as Unicode characters.

Without a path it trains on English public-domain verse shipped inside the package
(`english.py`); `--path builtin:hymns` names the German hymn texts of the Bach chorales.

Text is decoded as UTF-8 and NFC-normalised; line ends become "\\n" and every newline and blank
line (a stanza break) is kept. Characters seen fewer than `min_token_count` times in the corpus
map to `<unk>`, which the sampler never emits.
"""

from __future__ import annotations

import codecs
import unicodedata
from pathlib import Path

from generator.corpora import bach, english
from generator.corpora.base import VerseCorpus
from generator.errors import GenError

NEWLINE = "\n"
BUILTIN = "builtin:"  # --path builtin:NAME: a corpus that ships with gen
BUILTINS = {
    "english": "English public-domain verse: Shakespeare's sonnets, Hopkins, early Yeats, "
    "Paradise Lost, 3,355 Gutenberg sonnets (the default)",
    "hymns": "the German hymn texts of the Bach chorales in music21",
}


def normalise(text: str) -> str:
    """NFC form with Unix line ends."""
    text = text.replace("\r\n", NEWLINE).replace("\r", NEWLINE)
    return unicodedata.normalize("NFC", text)


def wide_text_reason(data: bytes) -> str | None:
    """Why `data` is UTF-16 or UTF-32 text rather than UTF-8 (what Windows editors and
    PowerShell often write), or None. Told apart by the byte-order mark, or without one by
    ASCII text with a NUL byte after (or before) every character."""
    for bom, name in (
        (codecs.BOM_UTF32_LE, "UTF-32"),  # before UTF-16: FF FE 00 00 starts with FF FE
        (codecs.BOM_UTF32_BE, "UTF-32"),
        (codecs.BOM_UTF16_LE, "UTF-16"),
        (codecs.BOM_UTF16_BE, "UTF-16"),
    ):
        if data.startswith(bom):
            return f"{name} text; save it as UTF-8"
    head = data[: min(len(data), 64) // 2 * 2]  # whole code units
    for chars, zeros in ((head[0::2], head[1::2]), (head[1::2], head[0::2])):  # LE, BE
        printable = all(32 <= b < 127 or b in b"\t\n\r" for b in chars)
        if len(head) >= 4 and printable and not zeros.strip(b"\x00"):
            return "UTF-16 text (no byte-order mark); save it as UTF-8"
    return None


class TextCorpus(VerseCorpus):
    """Text files (.txt) as characters; verse forms, rhyme and metre at sampling time."""

    name = "text"
    description = (
        "Text files (.txt) as characters; default: English verse; --path builtin:hymns for "
        "the chorales' German hymn texts"
    )
    input_suffixes = (".txt",)
    token_name = "character"
    # Every file is read as if a blank line came before it: poems in one file are separated
    # by blank lines, so the model learns one way to begin a poem, and sampling starts there.
    lead_in = (NEWLINE, NEWLINE)
    min_token_count = 3  # rarer characters become <unk>
    copy_ngram = 20  # characters
    version = "1"

    def settings(self) -> dict:
        return {"normalisation": "NFC", "line_ends": "LF"}

    def default_files(self, cache_dir: Path, log) -> list[Path]:
        return english.english_verse_files(cache_dir, bach.default_limit())

    def find_files(self, path: Path) -> list[Path]:
        name = str(path)
        if not name.startswith(BUILTIN):
            return super().find_files(path)
        from generator.cache import cache_dir
        from generator.progress import Reporter

        name = name[len(BUILTIN) :]
        if name == "english":
            return english.english_verse_files(cache_dir(), bach.default_limit())
        if name == "hymns":  # its first use parses every chorale: a progress bar on stderr
            return bach.chorale_text_files(cache_dir(), Reporter(err=True), bach.default_limit())
        known = "; ".join(f"{BUILTIN}{k}: {v}" for k, v in BUILTINS.items())
        raise GenError(f"no built-in text corpus '{name}'; there are {known}")

    def encode_file(self, path: Path) -> list[str]:
        data = Path(path).read_bytes()
        if not data.strip():
            raise GenError("empty file")
        wide = wide_text_reason(data)
        if wide:
            raise GenError(wide)
        nul = data.find(b"\x00")
        if nul >= 0:
            raise GenError(f"binary file (NUL byte at offset {nul})")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise GenError(f"invalid UTF-8 at byte offset {exc.start}") from None
        return self.encode_text(text)

    def encode_text(self, text: str) -> list[str]:
        return list(normalise(text))
