"""Which files, which tokens: a corpus's files -> the token store -> training and validation
streams, split by file.

`open_corpus` finds the files (a path, `corpora/<name>/`, or the plugin's default corpus) and
opens their token store (built where needed); `split` makes the training and validation
streams of a new run; `saved_split` rebuilds those of an existing run from its corpus.json.
`load_corpus` reads the token streams into memory instead, for evaluation and statistics.
"""

from __future__ import annotations

from pathlib import Path

from generator import checkpoint, data
from generator.cache import EncodedCorpus, cache_dir, encode_corpus
from generator.corpora import get_corpus
from generator.errors import GenError
from generator.tokenstore import TokenStore, build, plugin_record, store_for


def find_corpus(corpus_name: str, path: Path | None, user_folder=True):
    """The plugin, where the corpus comes from (an absolute path, or None for the plugin's
    default corpus) and its files. Without `path`, the files in `corpora/<name>/` are used if
    `user_folder` allows and there are any."""
    plugin = get_corpus(corpus_name)
    folder = Path("corpora") / corpus_name
    if path is not None:
        files = plugin.find_files(Path(path))
        # a path that does not exist named a collection the plugin knows (music21:bach)
        source = str(Path(path).resolve()) if Path(path).exists() else str(path)
    elif (
        user_folder
        and folder.is_dir()
        and any(p.suffix.lower() in plugin.input_suffixes for p in folder.rglob("*"))
    ):
        files, source = plugin.find_files(folder), str(folder.resolve())
    else:
        files, source = plugin.default_files(cache_dir()), None
    return plugin, source, files


def _report(plugin, source: str | None, used: int, skipped, tokens: int, cached: int, log):
    for file, reason in skipped:
        log(f"skipped {file}: {reason}")
    where = source or f"default ({plugin.description})"
    log(
        f"corpus {where}: {used} files used, {len(skipped)} skipped, {tokens:,} tokens "
        f"({cached} files from cache)"
    )
    if not used:
        raise GenError(f"no usable {plugin.name} files in {source or 'the default corpus'}")


def load_corpus(corpus_name: str, path: Path | None, log=print, user_folder=True):
    """The plugin, the corpus's source and its token streams, read into memory."""
    plugin, source, files = find_corpus(corpus_name, path, user_folder)
    encoded: EncodedCorpus = encode_corpus(plugin, files)
    used = len(encoded.files)
    _report(plugin, source, used, encoded.skipped, encoded.num_tokens, encoded.cached, log)
    return plugin, source, encoded


def open_corpus(corpus_name: str | None, path: Path | None, cache: Path | None, log=print):
    """The plugin, the corpus's source and its opened token store: `cache` (made by
    `gen encode`) if given, else the store of the corpus's files, built now where needed."""
    if cache is not None:
        store = TokenStore(cache)
        name = store.plugin["name"]
        if corpus_name is not None and corpus_name != name:
            raise GenError(f"token store '{cache}' holds corpus '{name}', not '{corpus_name}'")
        plugin, source, fresh = get_corpus(name), str(Path(cache).resolve()), 0
        if store.plugin != plugin_record(plugin):
            store_for(plugin, None, cache)  # raises, naming the difference
    else:
        plugin, source, files = find_corpus(corpus_name, path)
        folder, fresh = build(plugin, files, log=log)
        store = TokenStore(folder)
    counts = store.counts()
    used = len(store.usable)
    _report(plugin, source, used, store.skipped, sum(counts.values()), used - fresh, log)
    return plugin, source, store


def split(store: TokenStore, vocab, val_fraction: float, seed: int):
    """(train stream, validation stream, train files, validation files) of a new run: files
    held out by a seeded shuffle; with one file, the end of it."""
    usable = store.usable
    train_idx, val_idx = data.split_files(len(usable), val_fraction, seed)
    train_idx, val_idx = [usable[i] for i in train_idx], [usable[i] for i in val_idx]
    train = store.stream(train_idx, vocab)
    val = store.stream(val_idx, vocab) if val_idx else None
    if val is None:
        train, val = _cut(train, val_fraction)
    names = [store.paths[i] for i in train_idx], [store.paths[i] for i in val_idx]
    return train, val, *names


def _cut(stream: data.SegmentedStream, val_fraction: float):
    """One-file corpus: the last `val_fraction` of the stream is held out (`split_stream`)."""
    cut = len(stream) - int(len(stream) * val_fraction)
    return stream.sub(0, cut), stream.sub(cut, len(stream))


def saved_split(ckpt, plugin, log=print):
    """A run's training and validation streams, rebuilt from its corpus.json exactly as
    `split` first made them: from the token store it was trained from if that is still
    there, else from a store of its files (encoded again only where not in the cache)."""
    files = checkpoint.load_corpus_files(ckpt)
    train_files, val_files = files["train_files"], files["validation_files"]
    cache = ckpt.config["train"].get("cache")
    if cache and Path(cache).is_dir():
        store = store_for(plugin, None, Path(cache))
    else:
        gone = [f for f in train_files + val_files if not Path(f).exists()]
        if gone:
            raise GenError(f"{len(gone)} of the run's corpus files are gone (first: {gone[0]})")
        store = store_for(plugin, [Path(f) for f in train_files + val_files], log=log)
    index = {p: i for i, p in enumerate(store.paths)}
    missing = [f for f in train_files + val_files if f not in index]
    if missing:
        raise GenError(f"token store '{store.folder}' lacks the run's file {missing[0]}")
    reasons = dict(store.skipped)
    unreadable = [f for f in train_files + val_files if f in reasons]
    if unreadable:
        raise GenError(
            f"the run's file {unreadable[0]} can no longer be read ({reasons[unreadable[0]]})"
        )
    train = store.stream([index[f] for f in train_files], ckpt.vocab)
    if val_files:
        return train, store.stream([index[f] for f in val_files], ckpt.vocab)
    return _cut(train, ckpt.config["train"]["val_fraction"])
