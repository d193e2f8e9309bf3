"""The corpus plugin registry: built-ins, entry points, and the plugins it must refuse."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest
from conftest import run

import generator.corpora as registry
from generator.corpora.base import Corpus
from generator.errors import GenError


class ReversedCorpus(Corpus):
    """A throwaway third-party plugin: text files as characters."""

    name = "reversed"
    description = "Text read backwards (test plugin)"
    suffix = ".txt"
    input_suffixes = (".txt",)

    def encode_file(self, path):
        return list(path.read_text()[::-1])

    def write(self, tokens, path):
        path.write_text("".join(tokens)[::-1])


class OldCorpus(ReversedCorpus):
    name = "old"
    contract = 0


class ContractOneCorpus(ReversedCorpus):
    """A contract-1 plugin that copied `contract = CONTRACT_VERSION`: it says 2 today."""

    name = "one"

    def token_units(self, tokens, unit):  # contract 1's table of lengths
        return [t == "\n" for t in tokens]

    def augmentations(self, tokens):  # contract 1's table of id maps
        return [list(range(len(tokens)))]


def fake_entry_points(monkeypatch, *specs):
    """Make `entry_points(group=...)` return entry points for `(name, "module:attr")` specs."""
    eps = [EntryPoint(name, value, registry.ENTRY_POINT_GROUP) for name, value in specs]
    monkeypatch.setattr(registry, "entry_points", lambda group: eps)


def test_builtin_midi_is_found_without_entry_points(monkeypatch):
    fake_entry_points(monkeypatch)
    assert registry.get_corpus("midi").suffix == ".mid"


def test_entry_point_plugin_is_usable(monkeypatch):
    fake_entry_points(monkeypatch, ("reversed", f"{__name__}:ReversedCorpus"))
    plugin = registry.get_corpus("reversed")
    assert isinstance(plugin, ReversedCorpus)


def test_broken_clashing_and_old_plugins_are_reported_and_skipped(monkeypatch):
    fake_entry_points(
        monkeypatch,
        ("broken", "no_such_module_for_gen_tests:Thing"),
        ("midi", f"{__name__}:ReversedCorpus"),
        ("old", f"{__name__}:OldCorpus"),
        ("one", f"{__name__}:ContractOneCorpus"),
        ("reversed", f"{__name__}:ReversedCorpus"),
        ("alias", f"{__name__}:ReversedCorpus"),
        ("notaplugin", "pathlib:Path"),
    )
    found = registry.discover()
    assert found["alias"].error == "is registered as 'alias' but calls itself 'reversed'"
    assert "does not subclass" in found["notaplugin"].error
    assert "failed to load" in found["broken"].error
    assert found["midi"].cls.__name__ == "MidiCorpus"  # the built-in wins
    assert any("clashes with the built-in" in (p.error or "") for p in found.values())
    assert "contract 0" in found["old"].error
    assert found["one"].error.startswith(
        "written for plugin contract 1, this gen speaks contract 2"
    )
    with pytest.raises(GenError, match="contract 0"):
        registry.get_corpus("old")
    assert isinstance(registry.get_corpus("reversed"), ReversedCorpus)  # others keep working

    out = run("corpora").output
    assert "reversed   Text read backwards (test plugin)" in out
    assert "broken" in out and "unusable" in out


def test_unknown_corpus_names_the_alternatives(monkeypatch):
    fake_entry_points(monkeypatch)
    with pytest.raises(GenError, match="unknown corpus 'nope'; available: frames, midi, remi"):
        registry.get_corpus("nope")
