"""The example third-party plugin in examples/gen-words, found through a real entry point.

The test installs it the way pip lays out an installed package: a `.dist-info` folder holding
the entry points declared in the example's pyproject.toml, on the path of a fresh `gen`
process. Discovery then goes through `importlib.metadata`, as for any installed plugin.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from conftest import gen_process, install_metadata

tomllib = pytest.importorskip("tomllib")  # Python 3.11+
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "gen-words"

POEM = """The rain is on the roof and the wind is in the tree,
the night is long and dark and the sea is on the sea.
The rain is in the tree and the wind is on the roof,
the sea is long and dark and the night is on the sea.
"""


def install_example(site: Path) -> None:
    """The .dist-info of the example package, from its pyproject.toml."""
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
    install_metadata(site, project["name"], project["version"], project["entry-points"])


def gen(site: Path, *args) -> subprocess.CompletedProcess:
    return gen_process([site, EXAMPLE], *args)


@pytest.mark.slow
def test_example_plugin_trains_and_samples_through_its_entry_point(tmp_path):
    site = tmp_path / "site"
    install_example(site)
    listed = gen(site, "corpora")
    assert listed.returncode == 0, listed.stderr
    assert "words      Text files (.txt) as words (example third-party plugin)" in listed.stdout

    (tmp_path / "poems").mkdir()
    (tmp_path / "poems" / "rain.txt").write_text(POEM * 8)
    (tmp_path / "poems" / "empty.txt").write_text("")
    tiny = ["--layers", 1, "--units", 16, "--embed-dim", 8, "--seq-len", 16, "--epochs", 2]
    trained = gen(site, "train", "--corpus", "words", "--path", tmp_path / "poems", *tiny)
    assert trained.returncode == 0, trained.stderr
    assert "empty.txt: empty file" in trained.stdout
    assert "1 files used, 1 skipped" in trained.stdout
    assert "nats/word" in trained.stdout

    out = tmp_path / "poem.txt"
    sampled = gen(site, "sample", "--out", out, "--lines", 3, "--seed", 1)
    assert sampled.returncode == 0, sampled.stderr
    text = out.read_text()
    assert text.count("\n") == 3
    # written from the corpus's own words, spaces and punctuation only (no <unk>, no junk)
    tokens = sorted(set(re.findall(r"\w+|[^\S\n]+|\n|[^\w\s]", POEM)), key=len, reverse=True)
    assert re.fullmatch("(?:" + "|".join(map(re.escape, tokens)) + ")+", text)
    couplet = gen(site, "sample", "--out", "-", "--form", "couplet", "--seed", 1)
    assert couplet.returncode == 0, couplet.stderr  # a verse plugin of words gets the forms
    assert len(couplet.stdout.splitlines()) == 2
    assert "rhyme pairs confirmed by the CMU dictionary" in couplet.stderr


def test_without_the_entry_point_the_plugin_is_unknown(tmp_path):
    result = gen(tmp_path / "no-site", "train", "--corpus", "words")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("Error: unknown corpus 'words'")
