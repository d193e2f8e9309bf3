"""What the page lists: the runs (as `gen info` describes them, with the kind of their
corpus and their loss per epoch) and the corpus plugins to train with."""

from __future__ import annotations

from pathlib import Path

from generator import info
from generator.checkpoint import load_checkpoint


def runs(root: Path) -> list[dict]:
    """Every run, newest first, with the kind of its corpus."""
    if not root.is_dir():
        return []
    from generator.corpora import discover

    found, plugins = info.list_runs(root)[::-1], discover()
    for entry in found:
        entry["name"] = Path(entry["run"]).name
        if "error" not in entry:
            entry["kind"] = kind(entry["corpus"]["name"], plugins)
    return found


def more(folder: Path, about: dict) -> dict:
    """What the page adds to `gen info`: name, kind, the loss per epoch, key choices, and
    the temperature a sample gets when none is asked (the plugin's)."""
    ckpt = load_checkpoint(folder)
    keys = sorted(ckpt.key_counts) if ckpt.key_counts else []
    corpus = about["corpus"]["name"]
    return {"name": folder.name, "kind": kind(corpus), "keys": keys,
            "temperature": declared(corpus, "default_temperature"),
            "history": ckpt.metrics().history}  # fmt: skip


def kind(corpus: str, plugins: dict | None = None) -> str:
    """The kind an installed plugin declares ("music", "verse"); "" if none or not installed.
    `plugins`: what `discover` found, where the caller has it already."""
    return declared(corpus, "kind", plugins) or ""


def declared(corpus: str, name: str, plugins: dict | None = None):
    """What the installed plugin `corpus` declares as `name`; None if none or not installed."""
    from generator.corpora import discover

    found = (plugins if plugins is not None else discover()).get(corpus)
    return getattr(found.cls, name, None) if found and found.cls else None


def corpora() -> list[dict]:
    """The corpus plugins that can be trained with: name, kind, description."""
    from generator.corpora import discover

    return [{"name": name, "kind": getattr(p.cls, "kind", ""), "about": p.description}
            for name, p in sorted(discover().items()) if p.cls and not p.error]  # fmt: skip
