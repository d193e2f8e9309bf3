"""The typed records of a run folder's JSON files, as `checkpoint.py` reads and writes them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields


def pieces_read(files: int, pieces: int | None, skipped: int | None) -> str:
    """ "8,514 pieces read, 0 skipped" where the files held several pieces each or lost some
    (books of tunes); "" where each file was one piece, or the counts were not kept."""
    if pieces is None or (pieces == files and not skipped):
        return ""
    return f"{pieces:,} pieces read, {skipped or 0:,} skipped"


@dataclass(frozen=True)
class DataSources:
    """Where a run's tokens came from (stored in config.json beside the training settings)."""

    corpus_path: str | None = None  # the corpus's files; None: the plugin's default corpus
    store: str | None = None  # the token store training read
    val_store: str | None = None  # the token store of --val-path, if one was given
    init_from: str | None = None  # the run whose weights this one started from

    @classmethod
    def from_dict(cls, data: dict) -> DataSources:
        return cls(**{f.name: data.get(f.name) for f in fields(cls)})


@dataclass(frozen=True)
class RunMetrics:
    """metrics.json: how training went (empty for a run that has not finished an epoch)."""

    history: list = field(default_factory=list)  # {"epoch", "loss", "val_loss", "seconds"}
    epochs: int = 0
    best_val_loss: float | None = None
    best_epoch: int | None = None
    loss_unit: str | None = None
    train_seconds: float | None = None
    stopped: str | None = None  # a signal or a non-finite value, if that ended the run
    early_stop: str | None = None  # why --patience ended the run, if it did
    files_used: int | None = None
    files_skipped: int | None = None
    pieces_used: int | None = None  # pieces read from the files used (tunes of a book)
    pieces_skipped: int | None = None  # pieces of the files used that could not be read
    train_tokens: int | None = None
    val_tokens: int | None = None

    @classmethod
    def from_dict(cls, data: dict) -> RunMetrics:
        known = {f.name for f in fields(cls)}
        metrics = cls(**{k: v for k, v in data.items() if k in known})
        if not metrics.epochs and metrics.history:  # written before "epochs" was kept
            metrics = RunMetrics(**(asdict(metrics) | {"epochs": len(metrics.history)}))
        return metrics


@dataclass(frozen=True)
class CorpusFiles:
    """corpus.json: which files were trained and validated on (absolute paths)."""

    source: str | None
    train_files: list[str]
    validation_files: list[str]
