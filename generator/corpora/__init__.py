"""Corpus plugin registry: built-ins listed in code, third-party plugins by entry point.

A third-party package registers a `Corpus` subclass under the entry-point group `gen.corpora`:

    [project.entry-points."gen.corpora"]
    mycorpus = "my_package.module:MyCorpus"

A plugin that fails to load, reuses a built-in name or was written for another contract version
is reported by `gen corpora` and skipped; the others keep working.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from importlib.metadata import entry_points

from generator.corpora.base import CONTRACT_VERSION, Corpus, MusicCorpus, VerseCorpus
from generator.errors import GenError

ENTRY_POINT_GROUP = "gen.corpora"

# name -> "module:Class"; imported only when used so `gen --help` stays fast.
BUILTINS = {
    "midi": "generator.corpora.midi:MidiCorpus",
    "remi": "generator.corpora.metrical:RemiCorpus",
    "tsd": "generator.corpora.metrical:TsdCorpus",
    "frames": "generator.corpora.frames:FramesCorpus",
    "score": "generator.corpora.score:ScoreCorpus",
    "text": "generator.corpora.text:TextCorpus",
}


@dataclass
class PluginInfo:
    """One registered plugin, or the reason it cannot be used."""

    name: str
    source: str  # "built-in" or the distribution that provides it
    cls: type[Corpus] | None = None
    error: str | None = None

    @property
    def description(self) -> str:
        return self.cls.description if self.cls else ""


def _load(target: str) -> type[Corpus]:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def _contract(cls) -> int:
    """The contract a plugin class was written for: what it says, unless it still has contract
    1's methods (a plugin that copied `contract = CONTRACT_VERSION` says the current one)."""
    old = ("token_units", "token_rules")
    if any(hasattr(cls, name) for name in old) or _takes(cls.augmentations, 1):
        return 1
    return cls.contract


def _takes(method, count: int) -> bool:
    """Whether `method` takes `count` arguments besides self."""
    try:
        return len(inspect.signature(method).parameters) - 1 == count
    except (TypeError, ValueError):
        return False


def _check(cls, name: str) -> str | None:
    """Why `cls`, registered as `name`, cannot be used as a plugin, or None if it can."""
    if not (isinstance(cls, type) and issubclass(cls, Corpus)):
        return "does not subclass generator.corpora.base.Corpus"
    if cls.name != name:
        return f"is registered as '{name}' but calls itself '{cls.name}'"
    if _contract(cls) != CONTRACT_VERSION:
        return (
            f"written for plugin contract {_contract(cls)}, this gen speaks contract "
            f"{CONTRACT_VERSION}; upgrade the plugin (docs/plugins.md)"
        )
    promised = {"music": MusicCorpus, "verse": VerseCorpus, "": Corpus}.get(cls.kind)
    if promised is None:
        return f"declares kind '{cls.kind}'; a plugin's kind is 'music', 'verse' or ''"
    if not issubclass(cls, promised):
        return f"declares kind '{cls.kind}' but does not subclass {promised.__name__}"
    return None


def discover() -> dict[str, PluginInfo]:
    """All plugins by name: built-ins first, then entry points (clashes are reported)."""
    found: dict[str, PluginInfo] = {}
    for name, target in BUILTINS.items():
        found[name] = PluginInfo(name, "built-in", _load(target))
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        source = ep.dist.name if ep.dist else ep.value
        if ep.name in BUILTINS:
            found[f"{ep.name} ({source})"] = PluginInfo(
                ep.name, source, error=f"name clashes with the built-in '{ep.name}'; skipped"
            )
            continue
        try:
            cls = ep.load()
        except Exception as exc:  # any import failure of foreign code is reported, not raised
            found[ep.name] = PluginInfo(ep.name, source, error=f"failed to load: {exc!r}")
            continue
        found[ep.name] = PluginInfo(ep.name, source, cls, _check(cls, ep.name))
    return found


def get_corpus(name: str) -> Corpus:
    """An instance of the plugin called `name`."""
    plugins = discover()
    info = plugins.get(name)
    if info is None or info.name != name:
        usable = ", ".join(sorted(n for n, p in plugins.items() if p.cls and not p.error))
        raise GenError(f"unknown corpus '{name}'; available: {usable}")
    if info.error:
        raise GenError(f"corpus plugin '{name}' ({info.source}) {info.error}")
    return info.cls()
