"""An example third-party corpus plugin for gen: text as words instead of characters.

Install it beside gen (`pip install -e examples/gen-words`) and it appears in `gen corpora`;
`gen train --corpus words --path poems.txt` then trains on words, and `gen sample --out
poem.txt` writes them back. The whole contract is in `generator.corpora.base.Corpus`.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from generator.corpora.base import CONTRACT_VERSION, Corpus
from generator.errors import GenError

# a word, a run of spaces, a line end, or one other character (punctuation)
TOKEN = re.compile(r"\w+|[^\S\n]+|\n|[^\w\s]")


class WordCorpus(Corpus):
    """Text files (.txt) as words, spaces and punctuation."""

    name = "words"  # what `--corpus` picks; must match the entry point's name
    description = "Text files (.txt) as words (example third-party plugin)"
    contract = CONTRACT_VERSION  # the contract this plugin was written for
    version = "1"  # bump when the tokens change: old cache entries are then ignored
    suffix = ".txt"  # default output suffix
    input_suffixes = (".txt",)  # files picked up from a folder
    output_suffixes = (".txt",)
    binary_output = False  # several outputs may share standard output
    token_name = "word"
    min_token_count = 2  # words seen once become <unk>, which is never sampled
    copy_ngram = 8  # eight tokens reused from the corpus count as copying
    lead_in = ("\n",)  # every file starts as if after a line break

    def encode_file(self, path: Path) -> list[str]:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise GenError(f"invalid UTF-8 at byte offset {exc.start}") from None
        tokens = TOKEN.findall(text.replace("\r\n", "\n"))
        if not tokens:
            raise GenError("empty file")  # the file is skipped with this reason
        return tokens

    def encode_primer(self, primer: str) -> list[str]:
        return TOKEN.findall(primer.replace("\\n", "\n"))  # the primer is the text itself

    def write(self, tokens: list[str], path: Path) -> None:
        Path(path).write_text("".join(tokens), encoding="utf-8")

    def token_units(self, tokens: list[str], unit: str) -> np.ndarray:
        if unit == "lines":  # lets `gen sample --lines N` stop after N lines
            return np.array([t == "\n" for t in tokens], dtype=np.float32)
        return super().token_units(tokens, unit)
