"""The corpus cache: encoded token streams keyed by file contents and encoder settings.

Each input file's tokens (or the reason it could not be read) are stored once under
`<cache dir>/tokens/<plugin>/<key>.json`, where the key hashes the file's bytes, the plugin's
name, version and settings. A second run on the same corpus reads JSON instead of re-encoding,
and a changed or added file is the only one encoded again.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from generator.atomic import write_text
from generator.corpora.base import Corpus
from generator.errors import GenError
from generator.progress import map_with_progress


def cache_dir() -> Path:
    """Where caches live: $GEN_CACHE_DIR, else $XDG_CACHE_HOME/gen, else ~/.cache/gen."""
    if os.environ.get("GEN_CACHE_DIR"):
        return Path(os.environ["GEN_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "gen"


def writable_folder(folder: Path) -> Path:
    """Create a cache folder if needed; a `GenError` if it cannot be written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GenError(
            f"cannot create the cache folder '{folder}': {exc.strerror}; "
            "set GEN_CACHE_DIR to a writable folder"
        ) from None
    if not os.access(folder, os.W_OK):
        raise GenError(
            f"the cache folder '{folder}' is not writable; set GEN_CACHE_DIR to a writable folder"
        )
    return folder


@dataclass
class EncodedCorpus:
    """The token streams of a corpus, one per file that could be read, and the skipped files."""

    files: list[Path] = field(default_factory=list)
    streams: list[list[str]] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # (file, reason)
    cached: int = 0  # how many files came from the cache

    @property
    def num_tokens(self) -> int:
        return sum(len(s) for s in self.streams)


def _key(plugin: Corpus, data: bytes) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([plugin.name, plugin.version, plugin.settings()], sort_keys=True).encode())
    h.update(data)
    return h.hexdigest()


def _encode_job(job: tuple[Corpus, str, str]) -> tuple[list[str] | None, str | None]:
    """Encode one file and store the result in the cache. Runs in a worker process."""
    plugin, source, target = job
    try:
        tokens, error = plugin.encode_file(Path(source)), None
    except GenError as exc:
        tokens, error = None, str(exc)
    # atomic: a crash never leaves a half-written entry
    write_text(target, json.dumps({"tokens": tokens, "error": error}))
    return tokens, error


def encode_corpus(plugin: Corpus, files: list[Path], root: Path | None = None) -> EncodedCorpus:
    """Token streams of `files`, from the cache where present, encoding the rest in parallel."""
    folder = (root or cache_dir()) / "tokens" / plugin.name
    writable_folder(folder)
    result = EncodedCorpus()
    entries, todo = [], []
    for path in files:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            result.skipped.append((path, f"cannot read: {exc.strerror or exc}"))
            continue
        target = folder / f"{_key(plugin, data)}.json"
        entries.append((path, target))
        if not target.exists():
            todo.append((plugin, str(path), str(target)))
    if todo:
        map_with_progress(_encode_job, todo, f"Encoding {len(todo)} {plugin.name} files")
    result.cached = len(entries) - len(todo)
    for path, target in entries:
        entry = json.loads(target.read_text())
        if entry["error"]:
            result.skipped.append((path, entry["error"]))
        else:
            result.files.append(path)
            result.streams.append(entry["tokens"])
    return result
