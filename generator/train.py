"""Training: corpus files -> token cache -> ids -> a fitted model in a checkpoint folder."""

from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from generator import checkpoint, data
from generator.cache import EncodedCorpus, cache_dir, encode_corpus
from generator.corpora import get_corpus
from generator.errors import GenError
from generator.model import ModelConfig, build_model
from generator.vocab import Vocab


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

    def __post_init__(self):
        for name in ("seq_len", "batch_size", "epochs", "epoch_steps"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise GenError(f"{name.replace('_', '-')} must be at least 1")
        if self.learning_rate <= 0:
            raise GenError("learning-rate must be positive")
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


class _EpochEnd:
    """Keras callback body: save last/best weights and metrics after each epoch."""

    def __init__(self, run_dir: Path, metrics: dict, config: TrainConfig, log, token_name: str):
        self.run_dir, self.metrics, self.config, self.log = run_dir, metrics, config, log
        self.unit = f"nats/{token_name}"
        self.start = time.time()

    def __call__(self, model, epoch: int, logs: dict) -> bool:
        """Returns False when training must stop."""
        loss, val = logs.get("loss"), logs.get("val_loss", logs.get("loss"))
        if loss is None or not math.isfinite(loss) or not math.isfinite(val):
            self.log(f"epoch {epoch + 1}: loss is {loss}; stopped, last good checkpoint kept")
            self.metrics["stopped"] = "non-finite loss"
            return False
        seconds = time.time() - self.start
        self.metrics["history"].append(
            {"epoch": epoch + 1, "loss": loss, "val_loss": val, "seconds": round(seconds, 1)}
        )
        checkpoint.save_weights(model, self.run_dir, "last")
        best = self.metrics.get("best_val_loss")
        if best is None or val < best:
            checkpoint.save_weights(model, self.run_dir, "best")
            self.metrics.update(best_val_loss=val, best_epoch=epoch + 1)
        self.metrics.update(epochs=epoch + 1, train_seconds=round(seconds, 1))
        checkpoint.write_json(self.run_dir / checkpoint.METRICS, self.metrics)
        self.log(
            f"epoch {epoch + 1}: train {loss:.4f}, validation {val:.4f} {self.unit} "
            f"({val / math.log(2):.3f} bits), {seconds:.0f} s"
        )
        budget = self.config.max_minutes
        return budget is None or seconds < budget * 60


def train(
    corpus_name: str,
    path: Path | None,
    root: Path,
    model_options: dict,
    config: TrainConfig,
    run: str | None = None,
    log=print,
    val_path: Path | None = None,
) -> Path:
    """Train a model on a corpus and return its checkpoint folder. With `val_path`, those
    files are the validation set and all of the corpus is trained on."""
    plugin, source, encoded = load_corpus(corpus_name, path, log)
    vocab = Vocab.build(
        encoded.streams, base=plugin.base_vocabulary(), min_count=plugin.min_token_count
    )
    if val_path is None:
        train_ids, val_ids, train_files, val_files = _split(vocab, encoded, config, plugin.lead_in)
    else:
        _, _, held_out = load_corpus(corpus_name, val_path, log)
        train_ids = data.join_streams(vocab, encoded.streams, plugin.lead_in)
        val_ids = data.join_streams(vocab, held_out.streams, plugin.lead_in)
        train_files = [str(Path(f).resolve()) for f in encoded.files]
        val_files = [str(Path(f).resolve()) for f in held_out.files]
    batches = data.WindowBatches(
        train_ids,
        config.seq_len,
        config.batch_size,
        plugin.augmentations(vocab.tokens) if config.augment else None,
        config.seed,
        config.epoch_steps,
    )
    val_windows = data.validation_windows(val_ids, config.seq_len)
    model_config = ModelConfig(vocab_size=len(vocab), **model_options)
    run_dir = checkpoint.new_run_dir(root, plugin.name, run)
    train_settings = asdict(config) | {"corpus_path": source}
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
    _fit(
        model_config,
        config,
        batches,
        val_windows,
        _EpochEnd(run_dir, metrics, config, log, plugin.token_name),
    )
    if metrics["history"]:
        log(
            f"best validation loss {metrics['best_val_loss']:.4f} nats/{plugin.token_name} "
            f"at epoch {metrics['best_epoch']}; saved in {run_dir}"
        )
    return run_dir


def compile_model(model, config: TrainConfig, total_steps: int) -> None:
    """Adam with a linear warm-up (100 steps, or a tenth of a short run) to the peak learning
    rate, cosine decay to 5 % of it by `total_steps`, and global gradient-norm clipping."""
    import keras

    warmup = min(100, total_steps // 10)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0,
        max(1, total_steps - warmup),
        alpha=0.05,
        warmup_target=config.learning_rate,
        warmup_steps=warmup,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(schedule, global_clipnorm=config.clip_norm),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )


def _fit(model_config, config: TrainConfig, batches, val_windows, on_epoch_end) -> None:
    """Compile and fit the model; Ctrl-C saves the latest weights before leaving."""
    from generator.tf_setup import import_tensorflow

    tf = import_tensorflow()
    import keras

    keras.utils.set_random_seed(config.seed)
    model = build_model(model_config)
    compile_model(model, config, config.epochs * batches.steps_per_epoch)
    spec = tf.TensorSpec((None, None), tf.int32)
    dataset = tf.data.Dataset.from_generator(lambda: iter(batches), output_signature=(spec, spec))

    class Callback(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if not on_epoch_end(self.model, epoch, logs or {}):
                self.model.stop_training = True

    try:
        model.fit(
            dataset.prefetch(2),
            epochs=config.epochs,
            steps_per_epoch=batches.steps_per_epoch,
            validation_data=val_windows,
            validation_batch_size=config.batch_size,
            callbacks=[Callback()],
            shuffle=False,  # WindowBatches already shuffles
            verbose=1 if sys.stdout.isatty() else 0,
        )
    except KeyboardInterrupt:
        on_epoch_end.log("interrupted: the checkpoints of the finished epochs are kept")
        raise
