"""Build the English verse corpus that ships inside `gen` (`gen train --corpus text`).

    python tools/build_verse_corpus.py [../shared/data [OUT.zip]]

Reads `english-verse/` (Shakespeare's sonnets, Hopkins, early Yeats, Milton's Paradise Lost)
and `sonnets/` (3,355 Project Gutenberg sonnets, lower-cased and word-tokenised) and writes
`generator/corpora/data/english-verse.zip`: poems as plain text, a blank line between poems,
in files of about `CHUNK` characters, so that a run holds out whole files of poems for
validation. The Gutenberg sonnets get their spacing back (`death ,` -> `death,`, `don 's` ->
`don's`, `belov è d` -> `belovèd`) and capitals at the start of each line, of each sentence,
and for "I" and "O". All sources keep their spelling; curly quotes become straight ones.
"""

from __future__ import annotations

import re
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "generator" / "corpora" / "data" / "english-verse.zip"
CHUNK = 20_000  # characters per file, about 30 sonnets
# glued to the word before: punctuation that closes, and the tails of contractions
CLOSING = set(',.;:!?)]}"') | {"...", "'s", "'d", "'ll", "'ve", "'re", "'m", "'t", "n't"}
APOSTROPHE_TAILS = {"d", "s", "st", "er", "ll", "t", "re", "ve", "m", "n", "en", "dst"}
QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})


def _sticks(tok: str, prev: str, nxt: str, quote_open: bool) -> tuple[bool, bool]:
    """Whether `tok` is printed without a space before it, and without one after it."""
    if len(tok) == 1 and tok.isalpha() and not tok.isascii():  # an accent split from its word
        return True, True
    if tok == '"':  # straight double quotes alternate: the first opens, the next closes
        return quote_open, not quote_open
    if tok == "'":  # o'er, honour'd; nations' hearts; 'tis
        if nxt in APOSTROPHE_TAILS:
            return prev[-1:].isalpha(), True
        return (True, False) if prev.endswith("s") else (False, True)
    dash = "\u2014"
    before = tok in CLOSING or tok[0] in ",.;:!?)]" or tok.startswith(dash)
    return before, tok in "([{" or tok.endswith(dash)


def glue(tokens: list[str]) -> str:
    """Word tokens joined as a printed line: no space before closing punctuation and
    contraction tails, none after opening brackets and quotes, none around a dash or an
    accented letter split out of its word."""
    out, attach, quote_open = "", True, False
    for i, tok in enumerate(tokens):
        prev = tokens[i - 1] if i else ""
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        before, after = _sticks(tok, prev, nxt, quote_open)
        quote_open ^= tok == '"'
        out += tok if (attach or before) else " " + tok
        attach = after
    return out


def capitalised(line: str) -> str:
    """`line` with capitals where print has them: its first letter, the first letter after a
    sentence ends, and "I" and "O" standing alone (also as I'm, I'll, I'd, I've)."""
    line = re.sub(r"\bi\b(?=$|[^'\w-]|'(?:m|ll|d|ve)\b)", "I", line)
    line = re.sub(r"\bo\b(?![\w'-])", "O", line)  # o'er stays
    line = re.sub(r"([.!?]\s+[\"'(]?)([a-z])", lambda m: m.group(1) + m.group(2).upper(), line)
    return re.sub(r"^([^a-zA-Z]*)([a-z])", lambda m: m.group(1) + m.group(2).upper(), line)


def gutenberg_sonnets(folder: Path) -> list[str]:
    """The word-tokenised sonnets as printed verse, one string a sonnet."""
    poems = []
    for name in ("train.txt", "valid.txt", "test.txt"):
        for row in (folder / name).read_text(encoding="utf-8").splitlines():
            lines = [v.translate(QUOTES).split() for v in row.split("<eos>")]
            lines = [capitalised(glue(v)) for v in lines if v]
            if lines:
                poems.append("\n".join(lines))
    return poems


def _small_caps(line: str) -> str:
    """A line's opening word in small capitals (`FROM fairest`, `I BEAR a`) as a word."""
    if not re.search(r"[a-z]", line):
        return line
    lone = re.match(r"(I|O|A) (?=[A-Z]{2,}\b)", line)  # I BEAR: the word after a lone I
    if lone:
        return lone[0] + re.sub(r"^[A-Z]+", lambda m: m[0].lower(), line[lone.end() :])
    return re.sub(r"^([A-Z])([A-Z]+)\b", lambda m: m[1] + m[2].lower(), line)


def tidy(poem: str) -> str:
    """A poem from the prosodic corpus with straight quotes, W for VV, lines unindented,
    single spaces, no headings (lines without a lower-case letter), and opening words in
    small capitals written as words."""
    poem = re.sub(r"VV", "W", poem.translate(QUOTES))  # the 1674 print's W
    lines = [re.sub(r" {2,}", " ", v.strip()) for v in poem.splitlines()]
    lines = [_small_caps(v) for v in lines if not v or re.search(r"[a-z]", v)]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def blocks(text: str) -> list[str]:
    return [b for b in re.split(r"\n\s*\n", text) if b.strip()]


def prosodic_poems(folder: Path) -> dict[str, list[str]]:
    """The poems of each `english-verse/` file: blank-line blocks; Hopkins's poems between
    `#` lines and Milton's books between their end lines, stanzas and paragraphs kept."""
    read = {p.stem: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.txt"))}
    poems = {}
    for stem, text in read.items():
        if stem == "hopkins":
            parts = re.split(r"^#\s*$", text, flags=re.M)
        elif stem.startswith("milton"):
            text = re.sub(r"^PARADISE LOST\s*$", "", text, flags=re.M)
            parts = re.split(r"^THE END OF THE \w+ BOOK\.\s*$", text, flags=re.M)
        else:
            parts = blocks(text)
        poems[stem] = [tidy(p) for p in parts if p.strip()]
    return poems


def chunks(poems: list[str]) -> list[str]:
    """Poems grouped into texts of about `CHUNK` characters, a blank line between poems."""
    out, current = [], []
    for poem in poems:
        current.append(poem)
        if sum(len(p) for p in current) >= CHUNK:
            out.append("\n\n".join(current) + "\n")
            current = []
    if current:
        out.append("\n\n".join(current) + "\n")
    return out


def build(data: Path, target: Path) -> None:
    """Write the archive at `target` from the sources in `data` (the same bytes every time)."""
    sources = prosodic_poems(data / "english-verse")
    sources["gutenberg-sonnets"] = gutenberg_sonnets(data / "sonnets")
    target.parent.mkdir(parents=True, exist_ok=True)
    total = 0
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for stem, poems in sources.items():
            for k, text in enumerate(chunks(poems), 1):
                info = zipfile.ZipInfo(f"{stem}-{k:03d}.txt", date_time=(2026, 1, 1, 0, 0, 0))
                archive.writestr(info, text, zipfile.ZIP_DEFLATED, 9)  # fixed dates: reproducible
                total += len(text)
            print(f"{stem}: {len(poems)} poems")
    print(f"wrote {target} ({target.stat().st_size:,} bytes; {total:,} characters)")


def main() -> None:
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data"
    build(data, Path(sys.argv[2]) if len(sys.argv) > 2 else TARGET)


if __name__ == "__main__":
    main()
