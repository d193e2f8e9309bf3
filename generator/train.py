"""Training: corpus files -> token cache -> ids -> a fitted model in a checkpoint folder."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from generator import checkpoint, data
from generator.atomic import remove_leftovers
from generator.cache import EncodedCorpus, cache_dir, encode_corpus
from generator.corpora import get_corpus
from generator.errors import GenError
from generator.fitting import RunState
from generator.model import ModelConfig
from generator.vocab import Vocab

MAX_UNKNOWN_SHARE = 0.01  # --init-from: most tokens a new corpus may have outside the vocabulary


@dataclass(frozen=True)
class TrainConfig:
    """Training settings; stored in the checkpoint beside the model config."""

    seq_len: int = 128  # tokens per training window (truncated back-propagation length)
    batch_size: int = 32  # windows per step (on a CPU, more small steps beat fewer big ones)
    epochs: int = 36  # passes over the training split (default corpus: about 12 min on 2 cores)
    learning_rate: float = 1e-2  # peak Adam learning rate (after warm-up, then cosine decay)
    clip_norm: float = 1.0  # gradients are clipped to this global norm
    val_fraction: float = 0.1  # share of files held out for validation
    augment: bool = True  # use the plugin's augmentations (transposition for music)
    seed: int = 0  # seeds the split, window order, augmentation and initial weights
    max_minutes: float | None = None  # stop after the epoch that passes this budget
    epoch_steps: int | None = None  # steps per epoch; None: one pass over the training split
    save_minutes: float | None = 10.0  # also write resume.h5 this often during an epoch

    def __post_init__(self):
        for name in ("seq_len", "batch_size", "epochs", "epoch_steps"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise GenError(f"{name.replace('_', '-')} must be at least 1")
        if self.learning_rate <= 0:
            raise GenError("learning-rate must be positive")
        if self.save_minutes is not None and self.save_minutes < 0:
            raise GenError("save-minutes must be 0 (after every step) or more")
        if not 0.0 <= self.val_fraction < 1.0:
            raise GenError(f"val-fraction must be in [0, 1), got {self.val_fraction}")


def load_corpus(corpus_name: str, path: Path | None, log=print, user_folder=True):
    """The plugin, where the corpus came from (an absolute path, or None for the plugin's
    default corpus) and its encoded token streams. Without `path`, the files in
    `corpora/<name>/` are used if `user_folder` allows and there are any."""
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
    encoded = encode_corpus(plugin, files)
    for file, reason in encoded.skipped:
        log(f"skipped {file}: {reason}")
    log(
        f"corpus {source or 'default (' + plugin.description + ')'}: "
        f"{len(encoded.files)} files used, {len(encoded.skipped)} skipped, "
        f"{encoded.num_tokens:,} tokens ({encoded.cached} files from cache)"
    )
    if not encoded.files:
        raise GenError(f"no usable {plugin.name} files in {source or 'the default corpus'}")
    return plugin, source, encoded


def _split(vocab: Vocab, encoded: EncodedCorpus, config: TrainConfig, lead_in=()):
    """Training and validation id streams, split by file."""
    train_idx, val_idx = data.split_files(len(encoded.files), config.val_fraction, config.seed)
    train = data.join_streams(vocab, encoded.streams_of(train_idx), lead_in)
    if val_idx:
        val = data.join_streams(vocab, encoded.streams_of(val_idx), lead_in)
    else:  # one file: hold out the end of it
        train, val = data.split_stream(train, config.val_fraction)
    names = [str(Path(f).resolve()) for f in encoded.files]
    return train, val, [names[i] for i in train_idx], [names[i] for i in val_idx]


def saved_split(ckpt, plugin) -> tuple[np.ndarray, np.ndarray]:
    """A run's training and validation id streams, rebuilt from the files in its corpus.json
    (from the token cache) exactly as `train` first built them."""
    files = checkpoint.load_corpus_files(ckpt)
    lead_in = plugin.lead_in
    train_ids = data.join_streams(ckpt.vocab, checkpoint.corpus_streams(ckpt, plugin), lead_in)
    if files["validation_files"]:
        streams = checkpoint.corpus_streams(ckpt, plugin, "validation_files")
        return train_ids, data.join_streams(ckpt.vocab, streams, lead_in)
    return data.split_stream(train_ids, ckpt.config["train"]["val_fraction"])


def _init_from(path: Path, plugin, encoded: EncodedCorpus, log):
    """The checkpoint to start from, checked against the new corpus: its vocabulary must
    hold all but a sliver of the tokens the new corpus uses."""
    ckpt = checkpoint.load_checkpoint(path)
    tokens = [t for stream in encoded.streams for t in stream]
    unknown = ckpt.vocab.unknown(tokens)
    share = sum(t not in ckpt.vocab.index for t in tokens) / max(1, len(tokens))
    if share > MAX_UNKNOWN_SHARE:
        shown = ", ".join(repr(t) for t in unknown[:5])
        raise GenError(
            f"the vocabulary of '{path}' ({ckpt.corpus_name}, {len(ckpt.vocab)} tokens) lacks "
            f"{len(unknown)} tokens that make up {share:.1%} of this corpus ({shown}); "
            "it cannot be fine-tuned on it"
        )
    if unknown:
        log(f"{len(unknown)} rare tokens of this corpus ({share:.2%} of it) become <unk>")
    if ckpt.corpus_name != plugin.name:
        log(f"note: '{path}' was trained on corpus '{ckpt.corpus_name}', this is '{plugin.name}'")
    log(f"starting from the weights of {ckpt.path} ({ckpt.weights_path('best').name})")
    return ckpt


def train(
    corpus_name: str,
    path: Path | None,
    root: Path,
    model_options: dict,
    config: TrainConfig,
    run: str | None = None,
    log=print,
    val_path: Path | None = None,
    init_from: Path | None = None,
) -> Path:
    """Train a model on a corpus and return its checkpoint folder. With `val_path`, those
    files are the validation set and all of the corpus is trained on. With `init_from`, the
    model (shape, vocabulary, weights) comes from that checkpoint and `model_options` are
    not used."""
    plugin, source, encoded = load_corpus(corpus_name, path, log)
    start = _init_from(init_from, plugin, encoded, log) if init_from else None
    if start is not None:
        vocab, model_config = start.vocab, start.model_config
    else:
        vocab = Vocab.build(
            encoded.streams, base=plugin.base_vocabulary(), min_count=plugin.min_token_count
        )
        model_config = ModelConfig(vocab_size=len(vocab), **model_options)
    if val_path is None:
        train_ids, val_ids, train_files, val_files = _split(vocab, encoded, config, plugin.lead_in)
    else:
        _, _, held_out = load_corpus(corpus_name, val_path, log)
        train_ids = data.join_streams(vocab, encoded.streams, plugin.lead_in)
        val_ids = data.join_streams(vocab, held_out.streams, plugin.lead_in)
        train_files = [str(Path(f).resolve()) for f in encoded.files]
        val_files = [str(Path(f).resolve()) for f in held_out.files]
    batches = _batches(plugin, vocab, train_ids, config)  # checks the split is long enough
    run_dir = checkpoint.new_run_dir(root, plugin.name, run)
    try:
        checkpoint.check_space(run_dir, model_config.num_params)
    except GenError:
        run_dir.rmdir()  # still empty: leave nothing behind
        raise
    train_settings = asdict(config) | {"corpus_path": source}
    if start is not None:
        train_settings["init_from"] = str(start.path.resolve())
    checkpoint.save_config(run_dir, plugin, model_config, train_settings, vocab)
    checkpoint.save_corpus(run_dir, source, train_files, val_files)
    metrics = {
        "history": [],
        "loss_unit": f"nats/{plugin.token_name}",
        "files_used": len(encoded.files),
        "files_skipped": len(encoded.skipped),
        "train_tokens": int(len(train_ids)),
        "val_tokens": int(len(val_ids)),
    }
    log(
        f"training on {len(train_ids):,} tokens, validating on {len(val_ids):,}; "
        f"checkpoints in {run_dir}"
    )
    init_weights = start.weights_path("best") if start is not None else None
    state = RunState(metrics=metrics)
    _run(plugin, model_config, config, batches, val_ids, run_dir, state, log, init_weights)
    return run_dir


def resume(run_dir: Path, log=print, **overrides) -> Path:
    """Continue an interrupted run from its resume.h5 with its own settings; `overrides`
    may change only `max_minutes` and `save_minutes`, which do not change the result."""
    ckpt = checkpoint.load_checkpoint(run_dir)
    plugin = checkpoint.plugin_of(ckpt)
    checkpoint.check_corpus(ckpt, plugin)
    saved = ckpt.config["train"]
    config = TrainConfig(**{k: saved[k] for k in TrainConfig.__dataclass_fields__ if k in saved})
    config = replace(config, **overrides)
    state = RunState.from_json(checkpoint.resume_state(run_dir))
    if state.epoch >= config.epochs:
        raise GenError(
            f"'{run_dir}' finished all {config.epochs} epochs; nothing to resume. Train "
            f"further from its weights with --init-from {run_dir}"
        )
    train_ids, val_ids = saved_split(ckpt, plugin)
    batches = _batches(plugin, ckpt.vocab, train_ids, config)
    for path in remove_leftovers(run_dir):
        log(f"removed {path.name}, a write the stopped run left unfinished")
    log(
        f"resuming {run_dir} at epoch {state.epoch + 1} of {config.epochs}, step "
        f"{state.step} of {config.epochs * batches.steps_per_epoch}"
    )
    _run(
        plugin, ckpt.model_config, config, batches, val_ids, Path(run_dir), state, log, resume=True
    )
    return Path(run_dir)


def _batches(plugin, vocab: Vocab, train_ids, config: TrainConfig) -> data.WindowBatches:
    return data.WindowBatches(
        train_ids,
        config.seq_len,
        config.batch_size,
        plugin.augmentations(vocab.tokens) if config.augment else None,
        config.seed,
        config.epoch_steps,
    )


def _run(
    plugin,
    model_config,
    config,
    batches,
    val_ids,
    run_dir,
    state,
    log,
    init_weights=None,
    resume=False,
):
    """Fit, then report the best epoch."""
    from generator.fitting import fit

    val_windows = data.validation_windows(val_ids, config.seq_len)
    unit = f"nats/{plugin.token_name}"
    fit(model_config, config, batches, val_windows, run_dir, state, log, unit, resume, init_weights)
    m = state.metrics
    if m["history"]:
        log(
            f"best validation loss {m['best_val_loss']:.4f} {unit} at epoch "
            f"{m['best_epoch']}; saved in {run_dir}"
        )
