"""The checkpoint folder format, in one place: the only module that reads or writes a run's
files (resume.h5 has its own module, `resume_file`).

    checkpoints/<run>/
        config.json        format, corpus plugin + its settings, model and training settings
        vocab.json         the vocabulary ("gen-vocab/1")
        best.weights.h5    weights with the lowest validation loss so far
        last.weights.h5    the latest weights (after an epoch, a timed save or a stop)
        metrics.json       loss per epoch, best validation loss, files used and skipped, time
        corpus.json        the training and validation files (absolute paths)
        grammar.json       which kind of token followed which in training (plugins that name
                           kinds: see `Corpus.token_kind`)
        resume.h5          where training stands (see `resume_file`)

Everything but the weights is JSON; weights are plain HDF5 arrays, so loading a checkpoint never
runs code from it. Every file is written to a temporary name in the same folder and renamed, so
a crash at any moment leaves the previous version readable. Readers get typed settings
(`Checkpoint.train`, `.sources`, `.metrics()`), never the raw JSON.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from generator.atomic import atomic_path
from generator.config import TrainConfig
from generator.corpora.base import recorded_identity
from generator.errors import GenError
from generator.model import ModelConfig
from generator.records import CorpusFiles, DataSources, RunMetrics
from generator.vocab import Vocab

FORMAT = "gen-checkpoint/1"
CONFIG, VOCAB, METRICS, CORPUS = "config.json", "vocab.json", "metrics.json", "corpus.json"
CORPUS_FORMAT = "gen-corpus/1"
GRAMMAR, GRAMMAR_FORMAT = "grammar.json", "gen-grammar/1"
WEIGHTS = {"best": "best.weights.h5", "last": "last.weights.h5"}


@contextmanager
def writing(path: Path) -> Iterator[Path]:
    """An atomic write whose failure (a full disk, a folder made read-only) is one clear
    `GenError`; the previous version of the file is left as it was."""
    try:
        with atomic_path(path) as tmp:
            yield tmp
    except OSError as exc:
        raise GenError(
            f"cannot write '{path}': {exc.strerror or exc}; the previous checkpoint files in "
            f"'{path.parent}' are intact"
        ) from None


def write_json(path: Path, data) -> None:
    """Write JSON atomically (temporary file in the same folder, then rename)."""
    with writing(Path(path)) as tmp:
        tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")


def save_weights(model, run_dir: Path, which: str) -> None:
    """Save `model`'s weights as `which` ("best" or "last") atomically."""
    with writing(Path(run_dir) / WEIGHTS[which]) as tmp:  # keeps Keras' .weights.h5
        model.save_weights(tmp)


def created_time(run_dir: Path) -> float:
    """When a run was created: config.json's "created", else (a run whose config cannot
    tell) the folder's modification time."""
    try:
        return float(json.loads((Path(run_dir) / CONFIG).read_text())["created"])
    except (OSError, ValueError, TypeError, KeyError):
        return Path(run_dir).stat().st_mtime


@dataclass
class Checkpoint:
    """A checkpoint folder's contents, validated, without the weights loaded."""

    path: Path
    created: float | None
    corpus: dict  # the plugin's identity: name, version, settings
    model_config: ModelConfig
    train: TrainConfig
    sources: DataSources
    vocab: Vocab
    key_counts: dict[str, int]  # music: pieces per key in the corpus; {} without keys
    note_seconds: float | None = None  # music: the corpus's note limit (`stats.note_limit`)

    @property
    def corpus_name(self) -> str:
        return self.corpus["name"]

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
            raise GenError(
                f"weights in '{self.path}' do not fit its config: {_gist(str(exc))}"
            ) from None
        return model

    def metrics(self) -> RunMetrics:
        """metrics.json; empty for a run that has not finished its first epoch."""
        path = self.path / METRICS
        if not path.exists():
            return RunMetrics()
        data = _read_object(path, self.path)
        try:
            return RunMetrics.from_dict(data)
        except (TypeError, ValueError) as exc:
            raise GenError(f"checkpoint '{self.path}' has a corrupt {METRICS}: {exc}") from None

    def learned_grammar(self) -> dict[str, list[str]] | None:
        """grammar.json's successions of kinds ({kind: [kinds that may follow]}), or None."""
        path = self.path / GRAMMAR
        if not path.exists():
            return None
        data = _read_object(path, self.path)
        follows = data.get("follows")
        valid = isinstance(follows, dict) and all(
            isinstance(k, str) and isinstance(v, list) and all(isinstance(x, str) for x in v)
            for k, v in follows.items()
        )
        if data.get("format") != GRAMMAR_FORMAT or not valid:
            raise GenError(f"checkpoint '{self.path}': {GRAMMAR} is not of format {GRAMMAR_FORMAT}")
        return follows

    def corpus_files(self) -> CorpusFiles:
        """corpus.json; a `GenError` if it is missing or foreign."""
        data = _read_object(self.path / CORPUS, self.path)
        if data.get("format") != CORPUS_FORMAT:
            raise GenError(f"checkpoint '{self.path}': {CORPUS} is not of format {CORPUS_FORMAT}")
        return CorpusFiles(data.get("source"), data["train_files"], data["validation_files"])


def _read_object(path: Path, run_dir: Path) -> dict:
    """A JSON object from a run's file; a `GenError` naming the file if it is not one."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise GenError(f"checkpoint '{run_dir}' has no readable {path.name}: {exc}") from None
    if not isinstance(data, dict):
        raise GenError(f"checkpoint '{run_dir}' has a corrupt {path.name}: not an object")
    return data


def _gist(message: str) -> str:
    """One line of a long Keras loading error: the line that names shapes or counts."""
    lines = [line.strip() for line in message.splitlines() if line.strip()] or ["unreadable"]
    for line in lines:
        if "shape" in line or "expected" in line or "signature" in line:
            line = re.sub(r"Target variable: .*", "", line)
            return line[:200].strip()
    return lines[0][:200]


def check_weights_file(path: Path) -> None:
    """A `GenError` unless `path` is a readable HDF5 file (what Keras writes weights as)."""
    import h5py

    try:
        with h5py.File(path, "r"):
            pass
    except OSError as exc:
        raise GenError(f"cannot read the weights '{path}': {exc}") from None


def save_config(
    run_dir: Path,
    plugin,
    model_config: ModelConfig,
    train: TrainConfig,
    sources: DataSources,
    vocab,
    key_counts: dict[str, int] | None = None,
    note_seconds: float | None = None,
) -> None:
    """Write config.json and vocab.json for a new run; `key_counts`: how many pieces of the
    corpus are in each key, and `note_seconds`: its note limit (music)."""
    vocab.save(Path(run_dir) / VOCAB)
    config = {
        "format": FORMAT,
        "created": time.time(),
        "corpus": plugin.identity(),
        "model": model_config.to_dict(),
        "train": train.to_dict() | asdict(sources),
    }
    config |= {"keys": key_counts} if key_counts else {}
    config |= {"note_seconds": note_seconds} if note_seconds else {}
    write_json(Path(run_dir) / CONFIG, config)


def save_corpus(run_dir: Path, source: str | None, train: list[str], val: list[str]) -> None:
    """Write corpus.json: which files were trained and validated on (absolute paths)."""
    write_json(
        Path(run_dir) / CORPUS,
        {"format": CORPUS_FORMAT, "source": source, "train_files": train, "validation_files": val},
    )


def save_grammar(run_dir: Path, follows: dict[str, list[str]] | None) -> None:
    """Write grammar.json (nothing for a plugin that names no kinds)."""
    if follows is not None:
        write_json(Path(run_dir) / GRAMMAR, {"format": GRAMMAR_FORMAT, "follows": follows})


def write_metrics(run_dir: Path, metrics: dict) -> None:
    """Write metrics.json (what `RunMetrics` reads) atomically."""
    write_json(Path(run_dir) / METRICS, metrics)


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
        train = TrainConfig.from_dict(config["train"])
    except (GenError, TypeError, ValueError) as exc:
        raise GenError(f"checkpoint '{path}' has unusable settings: {exc}") from None
    if model_config.vocab_size != len(vocab):
        raise GenError(f"checkpoint '{path}': vocab.json does not match the model's vocab size")
    created = config.get("created")
    key_counts = config.get("keys") or {}
    if not isinstance(key_counts, dict) or not all(isinstance(n, int) for n in key_counts.values()):
        raise GenError(f"checkpoint '{path}' has a corrupt {CONFIG}: 'keys' is not key counts")
    limit = config.get("note_seconds")  # runs stored before it have none
    if limit is not None and not (isinstance(limit, (int, float)) and limit > 0):
        raise GenError(f"checkpoint '{path}' has a corrupt {CONFIG}: 'note_seconds' is {limit!r}")
    return Checkpoint(
        path,
        float(created) if isinstance(created, (int, float)) else None,
        config["corpus"],
        model_config,
        train,
        DataSources.from_dict(config["train"]),
        vocab,
        key_counts,
        float(limit) if limit else None,
    )


def plugin_of(ckpt: Checkpoint):
    """The corpus plugin that wrote the checkpoint; a `GenError` naming it if it is gone."""
    from generator.corpora import get_corpus

    try:
        plugin = get_corpus(ckpt.corpus_name)
    except GenError as exc:
        raise GenError(
            f"checkpoint '{ckpt.path}' was written by corpus plugin '{ckpt.corpus_name}', "
            f"which this gen cannot load ({exc})"
        ) from None
    if ckpt.note_seconds and plugin.kind == "music":
        plugin.note_seconds = ckpt.note_seconds  # its samples' notes end as the corpus's do
    return plugin


def check_corpus(ckpt: Checkpoint, plugin) -> None:
    """Refuse a checkpoint whose tokens were made by another version of the corpus plugin."""
    if ckpt.corpus != recorded_identity(plugin) and not plugin.reads(ckpt.corpus):
        raise GenError(
            f"checkpoint '{ckpt.path}' was written by corpus '{plugin.name}' version "
            f"{ckpt.corpus.get('version')} with other settings; this gen has version "
            f"{plugin.version}"
        )
