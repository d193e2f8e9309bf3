"""What a plugin's kind gives it: a music plugin written here, installed through an entry
point and run in a fresh process, gets piano rolls and music statistics with no code in
`generator/` naming it; a plugin that breaks its kind's promise is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import gen_process, install_metadata, tiny

from generator.corpora.base import Corpus, MusicCorpus, Note

# A third-party music plugin: a tune is a text file of MIDI pitches, a note every half second.
BEEPS = """
from pathlib import Path

from generator.corpora.base import MusicCorpus, Note
from generator.errors import GenError

STEP = 0.5  # seconds per note


class BeepCorpus(MusicCorpus):
    name = "beeps"
    description = "Tunes as MIDI pitches, a note every half second (test plugin)"
    suffix = ".beeps"
    input_suffixes = (".beeps",)
    output_suffixes = (".beeps",)
    binary_output = False

    def encode_file(self, path):
        tokens = Path(path).read_text().split()
        if not tokens:
            raise GenError("empty tune")
        return tokens

    def write(self, tokens, path):
        Path(path).write_text(" ".join(tokens) + "\\n")

    def notes(self, tokens):
        pitches = [int(t) for t in tokens if t.isdigit()]
        return [Note(p, STEP * i, STEP * (i + 1), 80) for i, p in enumerate(pitches)]

    def token_length(self, token, unit):
        return STEP if token.isdigit() else 0.0
"""
C_MAJOR = [60, 62, 64, 65, 67, 69, 71, 72]


@pytest.fixture(scope="module")
def beeps(tmp_path_factory):
    """A site folder where the beeps plugin is installed, and a folder of tunes."""
    root = tmp_path_factory.mktemp("beeps")
    (root / "beeps.py").write_text(BEEPS)
    install_metadata(
        root / "site", "gen-beeps", "1.0", {"gen.corpora": {"beeps": "beeps:BeepCorpus"}}
    )
    tunes = root / "tunes"
    tunes.mkdir()
    for k in range(6):  # C major scales up and down: every note in the key
        scale = C_MAJOR[k % 3 :] + C_MAJOR[::-1]
        (tunes / f"tune{k}.beeps").write_text(" ".join(map(str, scale * 6)))
    return root


def gen(root: Path, *args):
    done = gen_process([root / "site", root], *args)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


@pytest.mark.slow
def test_a_third_party_music_plugin_gets_piano_rolls_and_statistics(beeps, tmp_path):
    assert "Tunes as MIDI pitches" in gen(beeps, "corpora").stdout
    gen(beeps, "train", "--corpus", "beeps", "--path", beeps / "tunes", *tiny(epochs=3))
    gen(beeps, "sample", "--out", tmp_path / "roll.png", "--seconds", 8, "--seed", 1)
    assert (tmp_path / "roll.png").read_bytes().startswith(b"\x89PNG")  # the roll alone
    samples = tmp_path / "samples"
    samples.mkdir()
    args = ("--out", samples / "tune.beeps", "-n", 3, "--seconds", 8, "--plot", "--json")
    written = json.loads(gen(beeps, "sample", *args, "--seed", 2).stdout)
    assert [w["seconds"] for w in written] == [8.0, 8.0, 8.0]  # 16 notes of half a second
    assert all(Path(w["piano_roll"]).read_bytes().startswith(b"\x89PNG") for w in written)
    result = json.loads(gen(beeps, "evaluate", "--samples", samples, "--json").stdout)
    assert result["samples"] == 3
    assert result["corpus"]["in_key_share"] == 1.0 and result["corpus"]["polyphony"] == 1.0
    assert result["corpus"]["notes_per_second"] == pytest.approx(2.0)
    assert result["sample"]["notes_per_second"] == pytest.approx(2.0)  # a note per half second
    assert 0 <= result["pitch_class_distance"] <= 1 and 0 <= result["copy_rate"] <= 1


def test_a_plugin_breaking_its_kinds_promise_is_refused(monkeypatch):
    from importlib.metadata import EntryPoint

    import generator.corpora as registry

    specs = [("fake", f"{__name__}:FakeMusic"), ("odd", f"{__name__}:OddKind")]
    eps = [EntryPoint(name, value, registry.ENTRY_POINT_GROUP) for name, value in specs]
    monkeypatch.setattr(registry, "entry_points", lambda group: eps)
    found = registry.discover()
    assert found["fake"].error == "declares kind 'music' but does not subclass MusicCorpus"
    assert found["odd"].error == "declares kind 'drums'; a plugin's kind is 'music', 'verse' or ''"


class FakeMusic(Corpus):
    name, kind = "fake", "music"  # says music, but cannot hand over notes


class OddKind(MusicCorpus):
    name, kind = "odd", "drums"


def test_music_plugins_default_bars_are_four_four_at_120_bpm():
    class Tune(MusicCorpus):
        def notes(self, tokens):
            return [Note(60, 0.0, 7.0)]

    assert Tune().bar_seconds([]) == [2.0, 4.0, 6.0]
