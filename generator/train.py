"""Training: corpus files -> token store -> ids -> a fitted model in a checkpoint folder."""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from contextlib import nullcontext
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from generator import checkpoint, data, distribute
from generator.atomic import remove_leftovers
from generator.errors import GenError
from generator.fitting import RunState
from generator.model import ModelConfig
from generator.splits import open_corpus, saved_split, split
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
    strategy: str = "auto"  # tf.distribute strategy (see generator/distribute.py)
    precision: str = "float32"  # or "mixed": float16 compute on a GPU
    cache: str | None = None  # a token store made by `gen encode` to train from
    tensorboard: bool = False  # also write TensorBoard logs into the run folder

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
        if self.strategy not in distribute.STRATEGIES:
            raise GenError(f"strategy must be one of {', '.join(distribute.STRATEGIES)}")
        if self.precision not in distribute.PRECISIONS:
            raise GenError(f"precision must be one of {', '.join(distribute.PRECISIONS)}")


def _init_from(path: Path, plugin, counts: Counter, log):
    """The checkpoint to start from, checked against the new corpus: its vocabulary must
    hold all but a sliver of the tokens the new corpus uses."""
    ckpt = checkpoint.load_checkpoint(path)
    unknown = [t for t in counts if t not in ckpt.vocab.index]
    share = sum(counts[t] for t in unknown) / max(1, sum(counts.values()))
    if share > MAX_UNKNOWN_SHARE:
        shown = ", ".join(repr(t) for t in unknown[:5])
        raise GenError(
            f"the vocabulary of '{path}' ({ckpt.corpus_name}, {len(ckpt.vocab)} tokens) lacks "
            f"{len(unknown)} tokens that make up {share:.1%} of this corpus ({shown}); "
            "it cannot be fine-tuned on it"
        )
    if unknown:
        log(f"{len(unknown)} rare tokens of this corpus ({share:.2%} of it) become <unk>")
    if ckpt.corpus_name == plugin.name:
        checkpoint.check_corpus(ckpt, plugin)  # same plugin: its tokens must mean the same
    else:
        log(f"note: '{path}' was trained on corpus '{ckpt.corpus_name}', this is '{plugin.name}'")
    checkpoint.check_weights_file(ckpt.weights_path("best"))  # before any run folder exists
    log(f"starting from the weights of {ckpt.path} ({ckpt.weights_path('best').name})")
    return ckpt


def train(
    corpus_name: str | None,
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
    not used. With `config.cache`, the corpus is that token store (`corpus_name` may be None)."""
    cache = Path(config.cache) if config.cache else None
    plugin, source, store = open_corpus(corpus_name, path, cache, log)
    counts = store.counts()
    start = _init_from(init_from, plugin, counts, log) if init_from else None
    if start is not None:
        vocab, model_config = start.vocab, start.model_config
    else:
        base = plugin.base_vocabulary()
        vocab = (
            Vocab(base) if base is not None else Vocab.from_counts(counts, plugin.min_token_count)
        )
        model_config = ModelConfig(vocab_size=len(vocab), **model_options)
    stores = {"store": str(store.folder)}  # where resume finds the tokens again
    if val_path is None:
        train_ids, val_ids, train_files, val_files = split(
            store, vocab, config.val_fraction, config.seed
        )
    else:
        _, _, held_out = open_corpus(plugin.name, val_path, None, log)
        stores["val_store"] = str(held_out.folder)
        train_ids, val_ids = (
            store.stream(store.usable, vocab),
            held_out.stream(held_out.usable, vocab),
        )
        train_files = [store.paths[i] for i in store.usable]
        val_files = [held_out.paths[i] for i in held_out.usable]
    aug_maps = plugin.augmentations(vocab.tokens) if config.augment else None
    data.WindowBatches(train_ids, config.seq_len, config.batch_size)  # long enough?
    distribute.check(config.strategy)
    chief = distribute.writes(config.strategy)
    if chief:
        run_dir = checkpoint.new_run_dir(root, plugin.name, run)
    else:  # another worker: the chief writes the run; this one's folder is thrown away
        run_dir = Path(tempfile.mkdtemp(prefix="gen-worker-"))
    try:
        checkpoint.check_space(run_dir, model_config.num_params)
    except GenError:
        run_dir.rmdir()  # still empty: leave nothing behind
        raise
    train_settings = asdict(config) | {"corpus_path": source} | stores
    if start is not None:
        train_settings["init_from"] = str(start.path.resolve())
    checkpoint.save_config(run_dir, plugin, model_config, train_settings, vocab)
    checkpoint.save_corpus(run_dir, source, train_files, val_files)
    metrics = {
        "history": [],
        "loss_unit": f"nats/{plugin.token_name}",
        "files_used": len(store.usable),
        "files_skipped": len(store.skipped),
        "train_tokens": len(train_ids),
        "val_tokens": len(val_ids),
    }
    where = f"checkpoints in {run_dir}" if chief else "the chief writes the checkpoints"
    log(f"training on {len(train_ids):,} tokens, validating on {len(val_ids):,}; {where}")
    init_weights = start.weights_path("best") if start is not None else None
    state = RunState(metrics=metrics)
    plan = Plan(plugin, model_config, config, train_ids, aug_maps, val_ids, run_dir, state)
    try:
        _run(plan, log, init_weights)
    except BaseException:
        if chief and not (run_dir / checkpoint.RESUME).exists():  # nothing saved: no run
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    finally:
        if not chief:
            shutil.rmtree(run_dir, ignore_errors=True)
    return run_dir


def resume(run_dir: Path, log=print, **overrides) -> Path:
    """Continue an interrupted run from its resume.h5 with its own settings and data.
    `overrides` may change only `max_minutes`, `save_minutes` and `strategy`, which do not
    change the result (a strategy with another number of replicas is refused when training
    starts)."""
    run_dir = Path(run_dir)
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
    train_ids, val_ids = saved_split(ckpt, plugin, log)
    then = (state.metrics.get("train_tokens"), state.metrics.get("val_tokens"))
    if then != (len(train_ids), len(val_ids)):
        raise GenError(
            f"the run's files have changed since it started ({len(train_ids):,} training and "
            f"{len(val_ids):,} validation tokens now, {then[0]:,} and {then[1]:,} then); an "
            f"exact resume needs the same data. Start a new run with --init-from {run_dir}"
        )
    aug_maps = plugin.augmentations(ckpt.vocab.tokens) if config.augment else None
    plan = Plan(plugin, ckpt.model_config, config, train_ids, aug_maps, val_ids, run_dir, state)
    log(f"resuming {run_dir} at epoch {state.epoch + 1} of {config.epochs}, step {state.step}")
    _run(plan, log, resume=True)
    return run_dir


@dataclass
class Plan:
    """Everything a training session needs: what to fit, on what, and where to save."""

    plugin: object  # the corpus plugin
    model_config: ModelConfig
    config: TrainConfig
    train_ids: data.SegmentedStream
    aug_maps: object  # (maps, vocab) int array of the plugin's augmentations, or None
    val_ids: data.SegmentedStream
    run_dir: Path
    state: RunState

    @property
    def unit(self) -> str:
        return f"nats/{self.plugin.token_name}"


def _run(plan: Plan, log, init_weights: Path | None = None, resume: bool = False) -> None:
    """Fit while holding the run folder (the chief of several workers), then report the best
    epoch."""
    from generator.fitting import fit

    chief = distribute.writes(plan.config.strategy)
    with checkpoint.locked(plan.run_dir) if chief else nullcontext():
        if resume and chief:
            for path in remove_leftovers(plan.run_dir):
                log(f"removed {path.name}, a write the stopped run left unfinished")
        fit(plan, log, resume, init_weights)
    m = plan.state.metrics
    if m["history"] and chief:
        log(
            f"best validation loss {m['best_val_loss']:.4f} {plan.unit} at epoch "
            f"{m['best_epoch']}; saved in {plan.run_dir}"
        )
