"""The corpus cache: encoded token streams keyed by file contents and encoder settings.

Each input file's tokens (or the reason it could not be read) are stored once under
`<cache dir>/tokens/<plugin>/<key>.json`, where the key hashes the file's bytes, the plugin's
name, version and settings, and the entry format. A second run on the same corpus reads JSON
instead of re-encoding, and a changed or added file is the only one encoded again.
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
from generator.progress import Reporter

# cache entries hold {"pieces": [[token, ...], ...], "error": reason or null, "skipped":
# [reason of each piece that could not be read, ...]}
ENTRY_FORMAT = 3


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
    """The token streams of a corpus: the pieces of each file that could be read (a file holds
    one piece, or several such as the tunes of an ABC book), and the skipped files."""

    files: list[Path] = field(default_factory=list)
    pieces: list[list[list[str]]] = field(default_factory=list)  # per file, its token streams
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # (file, reason)
    # (file, the reason for each of its pieces that could not be read), files that lost some
    skipped_pieces: list[tuple[Path, list[str]]] = field(default_factory=list)
    cached: int = 0  # how many files came from the cache

    def streams_of(self, indices) -> list[list[str]]:
        """The token streams of the files at `indices`, one per piece."""
        return [piece for i in indices for piece in self.pieces[i]]

    @property
    def streams(self) -> list[list[str]]:
        """Every piece's token stream, file by file."""
        return self.streams_of(range(len(self.files)))

    @property
    def num_tokens(self) -> int:
        return sum(len(s) for s in self.streams)


def _key(plugin: Corpus, data: bytes) -> str:
    """The entry's name: a hash of the entry format, the plugin's identity and the file."""
    ident = plugin.identity()
    fields = [ENTRY_FORMAT, ident["name"], ident["version"], ident["settings"]]
    h = hashlib.sha256(json.dumps(fields, sort_keys=True).encode())
    h.update(data)
    return h.hexdigest()


def tokens_folder(plugin: Corpus) -> Path:
    """The per-file token cache of a plugin."""
    return cache_dir() / "tokens" / plugin.name


def _failed(reason: str) -> dict:
    """The entry of a file that cannot be read."""
    return {"pieces": None, "error": reason, "skipped": []}


def _encode_entry(plugin: Corpus, source: Path, target: Path) -> dict:
    """Encode one file and store the result in the cache; the entry."""
    try:
        pieces, skipped = plugin.read_pieces(Path(source))
        entry = {"pieces": pieces, "error": None, "skipped": skipped}
    except GenError as exc:
        entry = _failed(str(exc) or "unreadable")
    # atomic: a crash never leaves a half-written entry
    write_text(target, json.dumps(entry))
    return entry


def _encode_job(job: tuple[Corpus, str, str]) -> None:
    """Encode one file into the cache. Runs in a worker process."""
    plugin, source, target = job
    _encode_entry(plugin, Path(source), Path(target))


def cached_entry(plugin: Corpus, path: Path, folder: Path) -> tuple[dict, bool]:
    """The cache entry of one file (see `ENTRY_FORMAT`) and whether it was cached: from the
    cache in `folder` where present, else encoded now and cached."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return _failed(f"cannot read: {exc.strerror or exc}"), False
    target = folder / f"{_key(plugin, data)}.json"
    cached = target.exists()
    entry = json.loads(target.read_text()) if cached else _encode_entry(plugin, path, target)
    return entry, cached


def encode_missing(plugin: Corpus, files: list[Path], log: Reporter, processes: int | None = None):
    """Encode, in parallel, the files not yet in the cache. Returns ([(file, its cache entry
    path)], [(file, reason)] for files that cannot be read, how many were encoded now)."""
    folder = writable_folder(tokens_folder(plugin))
    entries, unreadable, todo = [], [], []
    for path in files:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            unreadable.append((path, f"cannot read: {exc.strerror or exc}"))
            continue
        target = folder / f"{_key(plugin, data)}.json"
        entries.append((path, target))
        if not target.exists():
            todo.append((plugin, str(path), str(target)))
    if todo:
        log.map(
            _encode_job,
            todo,
            f"Encoding {len(todo)} {plugin.name} files",
            workers=processes,
            min_items=plugin.parallel_min_files,
        )
    return entries, unreadable, len(todo)


def encode_corpus(plugin: Corpus, files: list[Path], log: Reporter | None = None) -> EncodedCorpus:
    """Token streams of `files` in memory, from the cache where present, encoding the rest in
    parallel: the plain reference that tests hold the token store to (`data.join_streams`
    of these streams is the store's id stream)."""
    entries, unreadable, fresh = encode_missing(plugin, files, Reporter.of(log))
    result = EncodedCorpus(skipped=unreadable, cached=len(entries) - fresh)
    for path, target in entries:
        entry = json.loads(target.read_text())
        if entry["error"] is not None:
            result.skipped.append((path, entry["error"]))
        else:
            result.files.append(path)
            result.pieces.append(entry["pieces"])
            if entry["skipped"]:
                result.skipped_pieces.append((path, entry["skipped"]))
    return result
