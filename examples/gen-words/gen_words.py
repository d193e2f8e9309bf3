"""An example third-party corpus plugin for gen: text as words instead of characters.

Install it beside gen (`pip install -e examples/gen-words`) and it appears in `gen corpora`;
`gen train --corpus words --path poems.txt` then trains on words, and `gen sample --out
poem.txt` writes them back. As a `VerseCorpus` it also gets verse forms (`--form sonnet`),
`--lines` and the verse statistics of `gen evaluate --samples`. The whole contract is in
`generator.corpora.base`.
"""

from __future__ import annotations

import re
from pathlib import Path

from generator.corpora.base import VerseCorpus
from generator.errors import GenError

# a word, a run of spaces, a line end, or one other character (punctuation)
TOKEN = re.compile(r"\w+|[^\S\n]+|\n|[^\w\s]")


class WordCorpus(VerseCorpus):
    """Text files (.txt) as words, spaces and punctuation."""

    name = "words"  # what `--corpus` picks; must match the entry point's name
    description = "Text files (.txt) as words (example third-party plugin)"
    contract = 2  # the contract this plugin was written for (a number: not gen's constant)
    version = "1"  # bump when the tokens change: old cache entries are then ignored
    input_suffixes = (".txt",)  # files picked up from a folder
    output_suffixes = (".txt",)
    token_name = "word"
    min_token_count = 2  # words seen once become <unk>, which is never sampled
    copy_ngram = 8  # eight tokens reused from the corpus count as copying
    lead_in = ("\n",)  # every file starts as if after a line break

    def encode_file(self, path: Path) -> list[str]:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise GenError(f"invalid UTF-8 at byte offset {exc.start}") from None
        tokens = self.encode_text(text)
        if not tokens:
            raise GenError("empty file")  # the file is skipped with this reason
        return tokens

    def encode_text(self, text: str) -> list[str]:
        return TOKEN.findall(text.replace("\r\n", "\n"))
