"""The checkpoint folder format, in one place.

    checkpoints/<run>/
        config.json        format, corpus plugin + its settings, model and training settings
        vocab.json         the vocabulary ("gen-vocab/1")
        best.weights.h5    weights with the lowest validation loss so far
        last.weights.h5    weights after the latest epoch
        metrics.json       loss per epoch, best validation loss, files used and skipped, time

Everything but the weights is JSON; weights are plain HDF5 arrays, so loading a checkpoint never
runs code from it. Every file is written to a temporary name in the same folder and renamed, so
a crash at any moment leaves the previous version readable.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from generator.atomic import atomic_path, write_text
from generator.errors import GenError
from generator.model import ModelConfig
from generator.vocab import Vocab

FORMAT = "gen-checkpoint/1"
CONFIG, VOCAB, METRICS, CORPUS = "config.json", "vocab.json", "metrics.json", "corpus.json"
CORPUS_FORMAT = "gen-corpus/1"
WEIGHTS = {"best": "best.weights.h5", "last": "last.weights.h5"}


def write_json(path: Path, data) -> None:
    """Write JSON atomically (temporary file in the same folder, then rename)."""
    write_text(path, json.dumps(data, indent=2))


def save_weights(model, run_dir: Path, which: str) -> None:
    """Save `model`'s weights as `which` ("best" or "last") atomically."""
    with atomic_path(Path(run_dir) / WEIGHTS[which]) as tmp:  # keeps Keras' .weights.h5
        model.save_weights(tmp)


def new_run_dir(root: Path, corpus_name: str, run: str | None = None) -> Path:
    """A new, empty run folder under `root`: `run` if given, else `<corpus>-<date>-<time>`."""
    root = Path(root)
    name = run or f"{corpus_name}-{time.strftime('%Y%m%d-%H%M%S')}"
    path = root / name
    if path.exists() and not path.is_dir():
        raise GenError(f"'{path}' exists and is not a folder; choose another --run name")
    if path.exists() and any(path.iterdir()):
        if run:
            raise GenError(f"run folder '{path}' already exists; choose another --run name")
        path = root / f"{name}-{os.getpid()}"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GenError(f"cannot create checkpoint folder '{path}': {exc.strerror}") from None
    if not os.access(path, os.W_OK):
        raise GenError(f"checkpoint folder '{path}' is not writable")
    return path


def latest_run(root: Path) -> Path:
    """The most recently created run under `root` (by the time stored in its config)."""
    root = Path(root)
    runs = [p.parent for p in root.glob(f"*/{CONFIG}")] if root.is_dir() else []
    if not runs:
        raise GenError(f"no trained model in '{root}'; run `gen train` first or give --checkpoint")

    def created(run: Path) -> float:
        try:
            return float(json.loads((run / CONFIG).read_text()).get("created", 0))
        except (OSError, ValueError, AttributeError):
            return 0.0

    return max(runs, key=lambda r: (created(r), r.stat().st_mtime))


@dataclass
class Checkpoint:
    """A checkpoint folder's contents, validated, without the weights loaded."""

    path: Path
    config: dict
    vocab: Vocab
    model_config: ModelConfig

    @property
    def corpus_name(self) -> str:
        return self.config["corpus"]["name"]

    def weights_path(self, which: str = "best") -> Path:
        path = self.path / WEIGHTS[which]
        if not path.exists():
            other = "last" if which == "best" else "best"
            if (self.path / WEIGHTS[other]).exists():
                return self.path / WEIGHTS[other]
            raise GenError(f"checkpoint '{self.path}' has no weights ({WEIGHTS[which]})")
        return path

    def load_model(self, which: str = "best"):
        """The Keras model with the chosen weights loaded."""
        from generator.model import build_model

        model = build_model(self.model_config)
        try:
            model.load_weights(self.weights_path(which))
        except (OSError, ValueError, KeyError) as exc:
            raise GenError(f"weights in '{self.path}' do not fit its config: {exc}") from None
        return model


def save_config(run_dir: Path, corpus, model_config: ModelConfig, train: dict, vocab) -> None:
    """Write config.json and vocab.json for a new run."""
    vocab.save(Path(run_dir) / VOCAB)
    write_json(
        Path(run_dir) / CONFIG,
        {
            "format": FORMAT,
            "created": time.time(),
            "corpus": {
                "name": corpus.name,
                "version": corpus.version,
                "settings": corpus.settings(),
            },
            "model": model_config.to_dict(),
            "train": train,
        },
    )


def save_corpus(run_dir: Path, source: str | None, train: list[str], val: list[str]) -> None:
    """Write corpus.json: which files were trained and validated on (absolute paths)."""
    write_json(
        Path(run_dir) / CORPUS,
        {"format": CORPUS_FORMAT, "source": source, "train_files": train, "validation_files": val},
    )


def load_corpus_files(ckpt: Checkpoint) -> dict:
    """The checkpoint's corpus.json; a `GenError` if it is missing or foreign."""
    try:
        data = json.loads((ckpt.path / CORPUS).read_text())
    except (OSError, ValueError) as exc:
        raise GenError(f"checkpoint '{ckpt.path}' has no readable {CORPUS}: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != CORPUS_FORMAT:
        raise GenError(f"checkpoint '{ckpt.path}': {CORPUS} is not of format {CORPUS_FORMAT}")
    return data


def corpus_streams(ckpt: Checkpoint, plugin, which: str = "train_files") -> list[list[str]]:
    """Token streams of the run's training (or "validation_files") files, from the token
    cache; a `GenError` naming the first file that is gone."""
    from generator.cache import encode_corpus

    files = load_corpus_files(ckpt)[which]
    gone = [f for f in files if not Path(f).exists()]
    if gone:
        kind = "training" if which == "train_files" else "validation"
        raise GenError(f"{len(gone)} of the run's {kind} files are gone (first: {gone[0]})")
    return encode_corpus(plugin, [Path(f) for f in files]).streams


def load_checkpoint(path: Path) -> Checkpoint:
    """Read and check a checkpoint folder; one clear `GenError` for anything wrong."""
    path = Path(path)
    if not path.is_dir():
        raise GenError(f"checkpoint '{path}' is not a folder")
    for name in (CONFIG, VOCAB):
        if not (path / name).exists():
            raise GenError(f"checkpoint '{path}' is incomplete: {name} is missing")
    try:
        config = json.loads((path / CONFIG).read_text())
    except (OSError, ValueError) as exc:
        raise GenError(f"checkpoint '{path}' has a corrupt {CONFIG}: {exc}") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        found = config.get("format") if isinstance(config, dict) else None
        raise GenError(f"'{path}' is not a gen checkpoint of format {FORMAT} (found {found!r})")
    missing = [k for k in ("corpus", "model", "train") if not isinstance(config.get(k), dict)]
    if missing or "name" not in config["corpus"]:
        raise GenError(
            f"checkpoint '{path}' has an incomplete {CONFIG} (no {missing or 'corpus name'})"
        )
    vocab = Vocab.load(path / VOCAB)
    try:
        model_config = ModelConfig.from_dict(config["model"])
    except TypeError as exc:
        raise GenError(f"checkpoint '{path}' has an unusable model config: {exc}") from None
    if model_config.vocab_size != len(vocab):
        raise GenError(f"checkpoint '{path}': vocab.json does not match the model's vocab size")
    return Checkpoint(path, config, vocab, model_config)


def check_corpus(ckpt: Checkpoint, corpus) -> None:
    """Refuse a checkpoint whose tokens were made by another version of the corpus plugin."""
    saved = ckpt.config["corpus"]
    if saved.get("version") != corpus.version or saved.get("settings") != corpus.settings():
        raise GenError(
            f"checkpoint '{ckpt.path}' was written by corpus '{corpus.name}' version "
            f"{saved.get('version')} with other settings; this gen has version {corpus.version}"
        )
