"""Which files, which tokens: a corpus's files -> the token store -> training and validation
streams, split by file.

`open_corpus` finds the files (a path, `corpora/<name>/`, or the plugin's default corpus) and
opens their token store (built where needed); `split` makes the training and validation
streams of a new run; `saved_split` rebuilds those of an existing run from its corpus.json.
Training, evaluation, statistics and the copy report all read their ids this way.
"""

from __future__ import annotations

from pathlib import Path

from generator import data
from generator.cache import cache_dir
from generator.corpora import get_corpus
from generator.errors import GenError
from generator.progress import Reporter
from generator.records import pieces_read
from generator.tokenstore import TokenStore, build, check_plugin, store_for


def find_corpus(corpus_name: str, path: Path | None, log: Reporter, user_folder=True):
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
        files, source = plugin.default_files(cache_dir(), log), None
    return plugin, source, files


def skip_lines(store) -> list[str]:
    """What a store could not read: each skipped file, and each file that lost some of its
    pieces (a book that kept most of its tunes), with the first reason."""
    lines = [f"skipped {file}: {reason}" for file, reason in store.skipped]
    for file, reasons in store.skipped_pieces:
        lines.append(f"{Path(file).name}: skipped {len(reasons)} pieces ({reasons[0]})")
    return lines


def pieces_text(store, used: int) -> str:
    """ "1,177 pieces read, 3 skipped, " where files hold several pieces or lost some."""
    text = pieces_read(used, *store.pieces())
    return f"{text}, " if text else ""


def _report(plugin, *, source: str | None, used: int, store, tokens: int, cached: int, log):
    for line in skip_lines(store):
        log(line)
    where = source or f"default ({plugin.description})"
    log(
        f"corpus {where}: {used} files used, {len(store.skipped)} skipped, "
        f"{pieces_text(store, used)}{tokens:,} tokens ({cached} files from cache)"
    )
    if not used:
        raise GenError(f"no usable {plugin.name} files in {source or 'the default corpus'}")


def open_corpus(
    corpus_name: str | None, path: Path | None, cache: Path | None, log=None, user_folder=True
):
    """The plugin, the corpus's source and its opened token store: `cache` (made by
    `gen encode`) if given, else the store of the corpus's files, built now where needed."""
    log = Reporter.of(log)
    if cache is not None:
        store = TokenStore(cache)
        name = store.plugin["name"]
        if corpus_name is not None and corpus_name != name:
            raise GenError(f"token store '{cache}' holds corpus '{name}', not '{corpus_name}'")
        plugin, source, fresh = get_corpus(name), str(Path(cache).resolve()), 0
        check_plugin(store, plugin)
    else:
        plugin, source, files = find_corpus(corpus_name, path, log, user_folder)
        folder, fresh = build(plugin, files, log=log)
        store = TokenStore(folder)
    counts = store.counts()
    used = len(store.usable)
    cached = len(store.paths) - fresh  # read from the per-file cache, not encoded now
    tokens = sum(counts.values())
    _report(plugin, source=source, used=used, store=store, tokens=tokens, cached=cached, log=log)
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
        train, val = data.split_stream(train, val_fraction)
    names = [store.paths[i] for i in train_idx], [store.paths[i] for i in val_idx]
    return train, val, *names


def saved_split(ckpt, plugin, log=None):
    """A run's training and validation streams, rebuilt from its corpus.json exactly as
    `split` first made them: from the token stores it was trained from (recorded in its
    config) where they are still there, else from a store of its files (encoded again only
    where they are not in the per-file cache)."""
    files = ckpt.corpus_files()
    train_files, val_files = files.train_files, files.validation_files
    wanted = train_files + val_files
    where: dict[str, tuple[TokenStore, int]] = {}  # file -> (store, index in it)
    for folder in (ckpt.train.cache, ckpt.sources.store, ckpt.sources.val_store):
        if folder and Path(folder, "index.json").exists():
            store = store_for(plugin, None, Path(folder))
            for i, path in enumerate(store.paths):
                where.setdefault(path, (store, i))
    missing = [f for f in wanted if f not in where]
    if missing:  # stores gone (a cleared cache): encode those files again
        gone = [f for f in missing if not Path(f).exists()]
        if gone:
            raise GenError(f"{len(gone)} of the run's corpus files are gone (first: {gone[0]})")
        store = store_for(plugin, [Path(f) for f in missing], log=log)
        where.update({path: (store, i) for i, path in enumerate(store.paths)})
    reasons = {f: r for store, _ in set(where.values()) for f, r in store.skipped}
    unreadable = [f for f in wanted if f in reasons]
    if unreadable:
        f = unreadable[0]
        raise GenError(f"the run's file {f} can no longer be read ({reasons[f]})")
    train = _concat([where[f] for f in train_files], ckpt.vocab)
    if val_files:
        return train, _concat([where[f] for f in val_files], ckpt.vocab)
    return data.split_stream(train, ckpt.train.val_fraction)


def _concat(located: list[tuple[TokenStore, int]], vocab) -> data.SegmentedStream:
    """One stream of files that may lie in several stores, in the order given."""
    parts, run = [], []  # run: consecutive files of one store
    for store, i in [*located, (None, 0)]:
        if run and store is not run[0][0]:
            parts += run[0][0].stream([j for _, j in run], vocab).parts
            run = []
        run.append((store, i))
    return data.SegmentedStream(parts)
