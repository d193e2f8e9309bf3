"""The token store: an encoded corpus as sharded, memory-mapped id files with an index.

    STORE/
        index.json           "gen-tokens/1": the plugin, the files in order, files per shard
        shard-00000.json     one shard's token table (its local code -> token), token counts,
                             and each file's [start, end) in the shard, or why it was skipped
        shard-00000.ids      the shard's codes (uint16, or int32 for tables over 65,536 tokens)

Each piece is stored as `<start>`, the plugin's lead-in, then its tokens, with control tokens
among them (music: its key, see `keys.py`): the stream that
training, evaluation and the copy report read (`data.pieces` splits it back into pieces).
Shards are built independently (in parallel processes, or by separate jobs on several machines
through `gen encode --part I/N`), and a shard whose JSON exists is complete (it is written last,
atomically), so building is resumable. Training reads windows straight from the memory-mapped
files: memory does not grow with the corpus.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from generator import data, keys
from generator.atomic import atomic_path, write_text
from generator.cache import (
    ENTRY_FORMAT,
    cache_dir,
    cached_entry,
    encode_missing,
    tokens_folder,
    writable_folder,
)
from generator.config import check_range
from generator.corpora.base import recorded_identity
from generator.errors import GenError
from generator.progress import Reporter
from generator.vocab import START

FORMAT = "gen-tokens/3"
INDEX = "index.json"
SHARD_FILES = 256  # files per shard: a few MB of ids each for typical MIDI files


MAX_PARTS = 100_000  # jobs sharing one store
MAX_PROCESSES = 1024


def parse_part(text: str) -> tuple[int, int]:
    """`gen encode --part I/N` (1-based) as (i, n) with i counted from 0."""
    try:
        index, count = (int(x) for x in text.split("/"))
    except ValueError:
        raise GenError(f"--part must look like 2/8, got '{text}'") from None
    check_range("part's N", count, 1, MAX_PARTS)
    if not 1 <= index <= count:
        raise GenError(f"--part {text}: I must be in [1, N]")
    return index - 1, count


def check_options(shard_files: int, processes: int | None) -> None:
    """Refuse a shard size or process count out of range, before any file is read."""
    check_range("shard-files", shard_files, 1, 1_000_000)
    if processes is not None:
        check_range("processes", processes, 1, MAX_PROCESSES)


def shard_name(k: int) -> str:
    """The file name (without suffix) of shard `k`."""
    return f"shard-{k:05d}"


def default_folder(plugin, files: list[Path], shard_files: int) -> Path:
    """The store for these files under the cache folder: keyed by the store's and cache entries'
    formats, the plugin, the ordered file paths with sizes and times, and the shard size."""
    fields = [FORMAT, ENTRY_FORMAT, plugin.identity(), shard_files]
    h = hashlib.sha256(json.dumps(fields).encode())
    for path in files:
        stat = Path(path).stat()
        h.update(f"{Path(path).resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    return cache_dir() / "stores" / plugin.name / h.hexdigest()[:32]


def _build_shard(job: tuple) -> None:
    """Write one shard's ids and JSON from its files' entries in the per-file token cache
    (encoding any that are missing). Runs in a worker process."""
    plugin, folder, k, paths = job
    table: dict[str, int] = {START: 0}
    counts: Counter = Counter()
    head = [START, *plugin.lead_in]
    codes, entries, length = [], [], 0
    for path in paths:
        entry, _ = cached_entry(plugin, Path(path), tokens_folder(plugin))
        pieces, error = entry["pieces"], entry["error"]
        if error is not None:
            entries.append({"error": error})
            continue
        start = length
        for piece in pieces:
            piece = keys.interleaved(keys.controls(plugin, piece), piece)  # music: its key
            counts.update(piece)
            stream = head + piece
            codes.append(np.fromiter((table.setdefault(t, len(table)) for t in stream), np.int64))
            length += len(stream)
        entries.append({"start": start, "end": length, "pieces": len(pieces)})
        if entry["skipped"]:  # the pieces of it that could not be read, and why
            entries[-1]["skipped"] = entry["skipped"]
    dtype = np.uint16 if len(table) <= 2**16 else np.int32
    ids = np.concatenate(codes).astype(dtype) if codes else np.zeros(0, dtype)
    with atomic_path(folder / f"{shard_name(k)}.ids") as tmp:
        ids.tofile(tmp)
    tokens = list(table)
    write_text(  # last: its presence marks the shard complete
        folder / f"{shard_name(k)}.json",
        json.dumps(
            {
                "format": FORMAT,
                "dtype": np.dtype(dtype).name,
                "length": int(length),
                "tokens": tokens,
                # in the order the pieces first use them (not the table's, which starts with
                # <start> and the lead-in): a vocabulary built from them ties as Vocab.build's
                "counts": list(counts.items()),
                "files": entries,
            }
        ),
    )


def build(
    plugin,
    files: list[Path],
    folder: Path | None = None,
    *,
    shard_files: int = SHARD_FILES,
    part: tuple[int, int] = (0, 1),
    log: Reporter | None = None,
    processes: int | None = None,
) -> tuple[Path, int]:
    """Build (or finish building) the store of `files` in `folder` (default: under the cache
    folder); the folder, and how many files had to be encoded. `part` (i, n): build only the
    shards whose number is i modulo n, for one of n jobs sharing the work. `processes`:
    worker processes (default: one per core)."""
    log = Reporter.of(log)
    check_options(shard_files, processes)
    files = [Path(f).resolve() for f in files]
    folder = Path(folder) if folder is not None else default_folder(plugin, files, shard_files)
    writable_folder(folder)
    index = {
        "format": FORMAT,
        "plugin": plugin.identity(),
        "shard_files": shard_files,
        "files": [str(f) for f in files],
        "stamps": [[f.stat().st_size, f.stat().st_mtime_ns] for f in files],  # size, mtime
    }
    if (folder / INDEX).exists():
        _same_store(folder, _read_json(folder / INDEX), index)
    else:  # several `--part` jobs may write it at once: the same bytes, atomically
        write_text(folder / INDEX, json.dumps(index))
    shards = -(-len(files) // shard_files)
    i, n = part
    todo = [
        (plugin, folder, k, [str(f) for f in files[k * shard_files : (k + 1) * shard_files]])
        for k in range(i, shards, n)
        if not (folder / f"{shard_name(k)}.json").exists()
    ]
    # first every file not in the per-file cache, in parallel file by file; then the shards,
    # which only read the cache, in parallel shard by shard
    _, _, fresh = encode_missing(plugin, [Path(f) for job in todo for f in job[3]], log, processes)
    if todo:
        label = f"Writing {len(todo)} token shards"
        log.map(_build_shard, todo, label, workers=processes, min_items=2)
    return folder, fresh


def _same_store(folder: Path, found: dict, index: dict) -> None:
    """Refuse to finish a store that was begun for something else, saying what differs."""
    if found.get("format") != FORMAT or found.get("plugin") != index["plugin"]:
        raise GenError(
            f"'{folder}' holds tokens of another plugin or gen version; choose another --out"
        )
    if found["shard_files"] != index["shard_files"]:
        raise GenError(
            f"'{folder}' was begun with --shard-files {found['shard_files']}; give that again"
        )
    if found["files"] != index["files"]:
        raise GenError(
            f"'{folder}' holds another corpus ({len(found['files'])} files, this one "
            f"{len(index['files'])}); choose another --out"
        )
    changed = [
        f
        for f, a, b in zip(index["files"], found["stamps"], index["stamps"], strict=True)
        if a != b
    ]
    if changed:
        raise GenError(
            f"{changed[0]} changed since '{folder}' was begun ({len(changed)} files in all); "
            "encode into a new --out"
        )


def _read_json(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise GenError(f"cannot read '{path}': {exc}") from None


@dataclass
class Shard:
    """One shard: its memory-mapped codes and JSON."""

    ids: np.ndarray  # (length,) codes, memory-mapped
    tokens: list[str]  # code -> token
    counts: list[list]  # [token, count] in first-use order
    files: list[dict]  # per file: {"start", "end", "pieces"} or {"error"}


class TokenStore:
    """A built store, opened for reading; shards are mapped, never read whole."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        index = _read_json(self.folder / INDEX)
        if not isinstance(index, dict) or index.get("format") != FORMAT:
            raise GenError(f"'{folder}' is not a gen token store ({FORMAT})")
        self.plugin = index["plugin"]
        self.paths = index["files"]
        self.shard_files = index["shard_files"]
        count = -(-len(self.paths) // self.shard_files)
        missing = [k for k in range(count) if not (self.folder / f"{shard_name(k)}.json").exists()]
        if missing:
            raise GenError(
                f"token store '{folder}' lacks {len(missing)} of its {count} shards (first: "
                f"{shard_name(missing[0])}); finish it with `gen encode --out {folder}` and "
                f"the --corpus and --path it was begun with, and --shard-files {self.shard_files}"
            )
        self.shards = [self._open(k) for k in range(count)]

    def _open(self, k: int) -> Shard:
        meta = _read_json(self.folder / f"{shard_name(k)}.json")
        path = self.folder / f"{shard_name(k)}.ids"
        if meta["length"]:
            ids = np.memmap(path, dtype=meta["dtype"], mode="r", shape=(meta["length"],))
        else:
            ids = np.zeros(0, meta["dtype"])
        return Shard(ids, meta["tokens"], meta["counts"], meta["files"])

    def _entry(self, i: int) -> tuple[Shard, dict]:
        shard = self.shards[i // self.shard_files]
        return shard, shard.files[i % self.shard_files]

    @property
    def usable(self) -> list[int]:
        """Indices of the files that were encoded (in order)."""
        return [i for i in range(len(self.paths)) if "error" not in self._entry(i)[1]]

    @property
    def skipped(self) -> list[tuple[str, str]]:
        """(file, reason) of every file that could not be read."""
        return [
            (p, e["error"]) for i, p in enumerate(self.paths) if "error" in (e := self._entry(i)[1])
        ]

    @property
    def skipped_pieces(self) -> list[tuple[str, list[str]]]:
        """(file, the reason for each piece that could not be read) of the usable files that
        lost some of their pieces (a book of tunes)."""
        entries = ((p, self._entry(i)[1]) for i, p in enumerate(self.paths))
        return [(p, e["skipped"]) for p, e in entries if e.get("skipped")]

    def pieces(self) -> tuple[int, int]:
        """(pieces read, pieces that could not be read) of the usable files."""
        lost = sum(len(reasons) for _, reasons in self.skipped_pieces)
        return sum(self._entry(i)[1]["pieces"] for i in self.usable), lost

    def counts(self) -> Counter:
        """Token counts over the whole store, in order of first appearance."""
        total: Counter = Counter()
        for shard in self.shards:
            total.update(dict(shard.counts))
        return total

    def stream(self, indices: list[int], vocab) -> data.SegmentedStream:
        """The ids of the files at `indices`, in that order, as one virtual stream."""
        parts: list[tuple[int, int, int]] = []  # (shard, start, end), adjacent ones merged
        for i in indices:
            k = i // self.shard_files
            entry = self._entry(i)[1]
            if parts and parts[-1][0] == k and parts[-1][2] == entry["start"]:
                parts[-1] = (k, parts[-1][1], entry["end"])
            else:
                parts.append((k, entry["start"], entry["end"]))
        luts = {k: vocab.encode(self.shards[k].tokens) for k in {p[0] for p in parts}}
        return data.SegmentedStream(
            [(self.shards[k].ids[a:b], luts[k]) for k, a, b in parts if b > a]
        )


def store_for(plugin, files: list[Path] | None, cache: Path | None = None, log=None):
    """The opened store of `files`: `cache` if given (built by `gen encode`), else the one
    under the cache folder, built now where needed."""
    store = TokenStore(cache if cache is not None else build(plugin, files, log=log)[0])
    check_plugin(store, plugin)
    return store


def check_plugin(store: TokenStore, plugin) -> None:
    """Refuse a store whose tokens another plugin, version or setting made."""
    if store.plugin != recorded_identity(plugin):
        raise GenError(
            f"token store '{store.folder}' was made by corpus plugin {store.plugin['name']} "
            f"version {store.plugin['version']} with other settings, not by this "
            f"{plugin.name} (version {plugin.version})"
        )
