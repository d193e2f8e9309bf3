"""The sonnet benchmark's corpus conversion, on a known line and on the real corpus."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("sonnets", ROOT / "benchmarks" / "sonnets.py")
sonnets = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sonnets)


def test_to_verse_detokenises_and_breaks_lines():
    line = "o night and death , to whom we grudged him then <eos> when in man 's sight <eos> "
    assert (
        sonnets.to_verse(line) == "o night and death, to whom we grudged him then\n"
        "when in man's sight\n"
    )
    assert sonnets.to_verse("do n't ( go ) ! <eos>") == "don't (go)!\n"


def test_real_sonnets_become_fourteen_lines():
    path = sonnets.DATA / "test.txt"
    if not path.exists():
        pytest.skip(f"the shared sonnet corpus is not at {sonnets.DATA}")
    first = path.read_text(encoding="utf-8").splitlines()[0]
    verse = sonnets.to_verse(first)
    assert len(verse.splitlines()) == 14 and " ," not in verse and "<eos>" not in verse
