"""The checkpoint folder format, in one place.

    checkpoints/<run>/
        config.json        format, corpus plugin + its settings, model and training settings
        vocab.json         the vocabulary ("gen-vocab/1")
        best.weights.h5    weights with the lowest validation loss so far
        last.weights.h5    the latest weights (after an epoch, a timed save or a stop)
        metrics.json       loss per epoch, best validation loss, files used and skipped, time
        corpus.json        the training and validation files (absolute paths)
        resume.h5          where training stands: the latest weights, the optimiser's state and
                           the step, epoch and metrics as JSON, in one file (see `save_resume`)

Everything but the weights is JSON; weights are plain HDF5 arrays, so loading a checkpoint never
runs code from it. Every file is written to a temporary name in the same folder and renamed, so
a crash at any moment leaves the previous version readable.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from generator.atomic import atomic_path
from generator.errors import GenError
from generator.model import ModelConfig
from generator.vocab import Vocab

FORMAT = "gen-checkpoint/1"
CONFIG, VOCAB, METRICS, CORPUS = "config.json", "vocab.json", "metrics.json", "corpus.json"
CORPUS_FORMAT = "gen-corpus/1"
WEIGHTS = {"best": "best.weights.h5", "last": "last.weights.h5"}
RESUME, RESUME_FORMAT = "resume.h5", "gen-resume/1"
LOCK = ".lock"  # held by the process training the run
# A run folder holds best + last weights and resume.h5 (weights + Adam's two moments): five
# copies of the parameters, and a sixth while one file is rewritten. Ask for twice that free.
SPACE_COPIES = 12


@contextmanager
def _writing(path: Path) -> Iterator[Path]:
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
    with _writing(Path(path)) as tmp:
        tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")


def save_weights(model, run_dir: Path, which: str) -> None:
    """Save `model`'s weights as `which` ("best" or "last") atomically."""
    with _writing(Path(run_dir) / WEIGHTS[which]) as tmp:  # keeps Keras' .weights.h5
        model.save_weights(tmp)


def check_space(run_dir: Path, num_params: int) -> None:
    """Refuse to start training where the checkpoints would not fit on the disk."""
    need = num_params * 4 * SPACE_COPIES + 2**20
    free = shutil.disk_usage(run_dir).free
    if free < need:
        raise GenError(
            f"only {free / 2**20:.1f} MB free for checkpoints in '{run_dir}'; a model of "
            f"{num_params:,} parameters needs about {need / 2**20:.1f} MB there"
        )


@contextmanager
def locked(run_dir: Path) -> Iterator[None]:
    """Hold the run folder for this process: a second `gen train --resume` of the same run
    (or one started while the first still saves) is refused instead of writing over it."""
    import fcntl

    path = Path(run_dir) / LOCK
    with open(path, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            raise GenError(
                f"run folder '{run_dir}' is in use by another gen process "
                f"(pid {lock.read().strip() or '?'})"
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        try:
            yield
        finally:
            path.unlink(missing_ok=True)


def save_resume(model, run_dir: Path, state: dict) -> None:
    """Write resume.h5 atomically: every model variable (weights, and the dropout layers'
    random-generator state), every optimiser variable (step count, Adam's moments) and
    `state` (JSON: step, epoch, metrics) in one file, so they can never disagree."""
    import h5py

    with _writing(Path(run_dir) / RESUME) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["format"] = RESUME_FORMAT
        f.attrs["state"] = json.dumps(state)
        for group, variables in (
            ("model", model.variables),
            ("optimizer", model.optimizer.variables),
        ):
            g = f.create_group(group)
            for i, variable in enumerate(variables):
                # a checksum per array: a damaged file fails to load instead of training on
                data = np.asarray(variable)
                stored = g.create_dataset(f"{i:04d}", data=data, fletcher32=data.ndim > 0)
                stored.attrs["path"] = variable.path


def _open_resume(run_dir: Path):
    """resume.h5 opened for reading, its format checked."""
    import h5py

    path = Path(run_dir) / RESUME
    if not path.exists():
        has_weights = any((Path(run_dir) / w).exists() for w in WEIGHTS.values())
        raise GenError(
            f"'{run_dir}' has no {RESUME}: "
            + (
                "it was written before gen could resume; start a new run from its weights "
                "with --init-from"
                if has_weights
                else "it stopped before its first checkpoint; start it again"
            )
        )
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise GenError(f"'{path}' is not readable: {exc}") from None
    if f.attrs.get("format") != RESUME_FORMAT:
        f.close()
        raise GenError(f"'{path}' is not of format {RESUME_FORMAT}")
    return f


def _layer_path(path: str) -> str:
    """A variable's path without the process-wide counter Keras puts in the names of random
    generators and optimisers ("seed_generator_3/seed_generator_state", "adam_1/iteration")."""
    return re.sub(r"^(seed_generator|adam)_\d+/", r"\1/", path)


@contextmanager
def _reading_resume(run_dir: Path):
    """resume.h5 open for reading; any damage found on the way is one `GenError`."""
    with _open_resume(run_dir) as f:
        try:
            yield f
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise GenError(
                f"'{Path(run_dir) / RESUME}' is damaged ({exc}); start a new run from the "
                f"run's weights with --init-from {run_dir}"
            ) from None


def resume_state(run_dir: Path) -> dict:
    """The JSON state stored in a run's resume.h5 (step, epoch, metrics), without weights."""
    with _reading_resume(run_dir) as f:
        return json.loads(f.attrs["state"])


def load_resume(model, run_dir: Path) -> dict:
    """Restore the model's and its (built) optimiser's variables from resume.h5; its state."""
    with _reading_resume(run_dir) as f:
        for group, variables in (
            ("model", model.variables),
            ("optimizer", model.optimizer.variables),
        ):
            stored = f[group]
            if len(stored) != len(variables):
                raise GenError(f"{RESUME} in '{run_dir}' does not fit the run's model")
            for i, variable in enumerate(variables):
                data = stored[f"{i:04d}"]
                name, shape = _layer_path(data.attrs["path"]), data.shape
                if name != _layer_path(variable.path) or shape != tuple(variable.shape):
                    raise GenError(
                        f"{RESUME} in '{run_dir}' does not fit the run's model "
                        f"({name} {shape} for {variable.path})"
                    )
                variable.assign(data[()])
        return json.loads(f.attrs["state"])


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
            raise GenError(
                f"weights in '{self.path}' do not fit its config: {_gist(str(exc))}"
            ) from None
        return model


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
    except (GenError, TypeError, ValueError) as exc:
        raise GenError(f"checkpoint '{path}' has an unusable model config: {exc}") from None
    if model_config.vocab_size != len(vocab):
        raise GenError(f"checkpoint '{path}': vocab.json does not match the model's vocab size")
    return Checkpoint(path, config, vocab, model_config)


def plugin_of(ckpt: Checkpoint):
    """The corpus plugin that wrote the checkpoint; a `GenError` naming it if it is gone."""
    from generator.corpora import get_corpus

    try:
        return get_corpus(ckpt.corpus_name)
    except GenError as exc:
        raise GenError(
            f"checkpoint '{ckpt.path}' was written by corpus plugin '{ckpt.corpus_name}', "
            f"which this gen cannot load ({exc})"
        ) from None


def check_corpus(ckpt: Checkpoint, corpus) -> None:
    """Refuse a checkpoint whose tokens were made by another version of the corpus plugin."""
    saved = ckpt.config["corpus"]
    if saved.get("version") != corpus.version or saved.get("settings") != corpus.settings():
        raise GenError(
            f"checkpoint '{ckpt.path}' was written by corpus '{corpus.name}' version "
            f"{saved.get('version')} with other settings; this gen has version {corpus.version}"
        )
