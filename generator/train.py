"""Training: corpus files -> token store -> ids -> a fitted model in a checkpoint folder."""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path

from generator import budget, checkpoint, data, distribute, keys, resume_file, runs, tokenmaps
from generator.atomic import remove_leftovers
from generator.checkpointer import RunState
from generator.config import RESUME_OVERRIDES, TrainConfig
from generator.errors import GenError
from generator.model import ModelConfig
from generator.progress import Reporter
from generator.splits import open_corpus, saved_split, split
from generator.stats import note_limit
from generator.vocab import Vocab

MAX_UNKNOWN_SHARE = 0.01  # --init-from: most tokens a new corpus may have outside the vocabulary
SHAPE_OPTIONS = ("layers", "units", "embed_dim", "dropout")  # what --init-from takes from its run
DEFAULT_CORPUS = "midi"  # the plugin when none is named (and no token store says)


def flags(names) -> str:
    """Setting names as the options a user types: "embed_dim" -> "--embed-dim"."""
    return ", ".join(f"--{name.replace('_', '-')}" for name in names)


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
    ignored: tuple = ()  # ids never scored: control tokens (keys), which sampling gives

    @property
    def unit(self) -> str:
        return f"nats/{self.plugin.token_name}"


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


def _vocab_and_model(plugin, store, model: dict, start):
    """The vocabulary and model shape: the starting run's, or new ones for this corpus (a
    fixed vocabulary with the key tokens, for music)."""
    if start is not None:
        return start.vocab, start.model_config
    base = plugin.base_vocabulary()
    counts = store.counts()
    if base is None:
        vocab = Vocab.from_counts(counts, plugin.min_token_count)
    else:
        vocab = Vocab(base + (list(keys.TOKENS) if plugin.kind == "music" else []))
    return vocab, ModelConfig(vocab_size=len(vocab), **model)


def _shape_source(model: dict, start) -> str:
    """Where the model's shape came from, as `gen train` says it."""
    if start is not None:
        return f"the shape of {start.path}"
    if model:
        return "as given"
    return f"the default, for any corpus size; {flags(SHAPE_OPTIONS)} change it"


def _split(plugin, store, vocab, config: TrainConfig, val_path, log):
    """(training ids, validation ids, training files, validation files, the stores read)."""
    stores = checkpoint.DataSources(store=str(store.folder))  # where resume finds the tokens
    if val_path is None:
        return (*split(store, vocab, config.val_fraction, config.seed), stores)
    _, _, held_out = open_corpus(plugin.name, val_path, None, log)
    stores = replace(stores, val_store=str(held_out.folder))
    train_ids = store.stream(store.usable, vocab)
    val_ids = held_out.stream(held_out.usable, vocab)
    train_files = [store.paths[i] for i in store.usable]
    val_files = [held_out.paths[i] for i in held_out.usable]
    return train_ids, val_ids, train_files, val_files, stores


def _new_run_dir(root: Path, plugin, run: str | None, model_config, strategy: str) -> Path:
    """The run folder (a throw-away one for a worker other than the chief), with room for
    its checkpoints."""
    if distribute.writes(strategy):
        run_dir = runs.new_run_dir(root, plugin.name, run)
    else:  # another worker: the chief writes the run; this one's folder is thrown away
        run_dir = Path(tempfile.mkdtemp(prefix="gen-worker-"))
    try:
        runs.check_space(run_dir, model_config.num_params)
    except GenError:
        run_dir.rmdir()  # still empty: leave nothing behind
        raise
    return run_dir


def train(
    *,
    corpus: str | None,
    path: Path | None = None,
    root: Path = Path("checkpoints"),
    config: TrainConfig | None = None,
    model: dict | None = None,
    run: str | None = None,
    val_path: Path | None = None,
    init_from: Path | None = None,
    log: Reporter | None = None,
) -> Path:
    """Train a model on a corpus and return its checkpoint folder. `model`: the shape
    settings given (the rest are `ModelConfig`'s defaults). With `val_path`, those files are
    the validation set and all of the corpus is trained on. With `init_from`, the model
    (shape, vocabulary, weights) comes from that checkpoint. With `config.cache`, the corpus
    is that token store (`corpus` may be None)."""
    log, model, config = Reporter.of(log), model or {}, config or TrainConfig()
    _check_options(config, model, init_from, path)
    cache = Path(config.cache) if config.cache else None
    corpus = corpus or (None if cache else DEFAULT_CORPUS)
    plugin, source, store = open_corpus(corpus, path, cache, log)
    config = config.resolved()
    start = _init_from(init_from, plugin, store.counts(), log) if init_from else None
    vocab, model_config = _vocab_and_model(plugin, store, model, start)
    log(f"model: {model_config.describe()} ({_shape_source(model, start)})")
    train_ids, val_ids, train_files, val_files, stores = _split(
        plugin, store, vocab, config, val_path, log
    )
    config = _fitted(config, model_config, train_ids, log)
    aug_maps = tokenmaps.augmentation_maps(plugin, vocab) if config.augment else None
    run_dir = _new_run_dir(root, plugin, run, model_config, config.strategy)
    sources = replace(stores, corpus_path=source)
    if start is not None:
        sources = replace(sources, init_from=str(start.path.resolve()))
    key_counts = keys.piece_counts(train_ids, vocab, len(plugin.lead_in))
    limit = note_limit(plugin, _streams(plugin, vocab, train_ids))
    checkpoint.save_config(run_dir, plugin, model_config, config, sources, vocab, key_counts, limit)
    checkpoint.save_corpus(run_dir, source, train_files, val_files)
    checkpoint.save_grammar(run_dir, tokenmaps.kind_transitions(plugin, vocab, train_ids))
    chief = distribute.writes(config.strategy)
    where = f"checkpoints in {run_dir}" if chief else "the chief writes the checkpoints"
    log(
        f"training on {len(train_ids):,} tokens in windows of {config.seq_len}, validating on "
        f"{len(val_ids):,} in windows of {config.val_len}; {where}"
    )
    state = RunState(metrics=_first_metrics(plugin, store, train_ids, val_ids))
    plan = Plan(plugin, model_config, config, train_ids, aug_maps, val_ids, run_dir, state)
    plan.ignored = tuple(keys.control_ids(vocab))
    _run_new(plan, log, start.weights_path("best") if start is not None else None)
    return run_dir


def _fitted(config: TrainConfig, model_config, train_ids, log) -> TrainConfig:
    """The settings fitted to the training split: a batch no larger than its windows, and
    epochs for its size; refused if training cannot fit in memory."""
    config = budget.fit_batch(config, len(train_ids), log)
    budget.check_training(model_config, config, log)
    batches = data.WindowBatches(  # also refuses a split shorter than one window
        train_ids, config.seq_len, config.batch_size, epoch_steps=config.epoch_steps
    )
    return budget.fit_epochs(config, batches.steps_per_epoch, len(train_ids), log)


def _streams(plugin, vocab, stream, most: int = 1_000_000) -> list[list[str]]:
    """The pieces in the first `most` ids of a music split's stream, as tokens without key
    tokens (none for verse)."""
    if plugin.kind != "music":
        return []
    return data.written_pieces(stream.slice(0, min(len(stream), most)), vocab, len(plugin.lead_in))


def _first_metrics(plugin, store, train_ids, val_ids) -> dict:
    """A new run's metrics before its first epoch: what it reads."""
    pieces_read, pieces_lost = store.pieces()
    return {
        "history": [],
        "loss_unit": f"nats/{plugin.token_name}",
        "files_used": len(store.usable),
        "files_skipped": len(store.skipped),
        "pieces_used": pieces_read,
        "pieces_skipped": pieces_lost,
        "train_tokens": len(train_ids),
        "val_tokens": len(val_ids),
    }


def _check_options(config: TrainConfig, model: dict, init_from, path) -> None:
    """What can be refused before the corpus is read."""
    config.check_tools()
    if init_from is not None and model:
        raise GenError(f"--init-from takes the model's shape from its run; drop {flags(model)}")
    ModelConfig(vocab_size=1, **model)  # a bad shape is refused now
    distribute.check(config.strategy)
    if config.cache and path is not None:
        raise GenError("give --path (files) or --cache (a token store), not both")


def _run_new(plan: Plan, log, init_weights: Path | None) -> None:
    """Fit a new run; a run that stopped before its first checkpoint leaves no folder."""
    chief, run_dir = distribute.writes(plan.config.strategy), plan.run_dir
    try:
        _run(plan, log, init_weights)
    except BaseException:
        if chief and not (run_dir / resume_file.RESUME).exists():  # nothing saved: no run
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    finally:
        if not chief:
            shutil.rmtree(run_dir, ignore_errors=True)


def resume(run_dir: Path, log: Reporter | None = None, overrides: dict | None = None) -> Path:
    """Continue an interrupted run from its resume.h5 with its own settings and data.
    `overrides` may change only the settings in `config.RESUME_OVERRIDES`, which do not
    change the result (a strategy with another number of replicas is refused when training
    starts)."""
    log, overrides, run_dir = Reporter.of(log), overrides or {}, Path(run_dir)
    extra = [name for name in overrides if name not in RESUME_OVERRIDES]
    if extra:
        raise GenError(
            f"--resume continues a run with its own settings; {flags(extra)} cannot be given "
            "with it (use --init-from to start a new run from its weights)"
        )
    ckpt = checkpoint.load_checkpoint(run_dir)
    plugin = checkpoint.plugin_of(ckpt)
    checkpoint.check_corpus(ckpt, plugin)
    config = replace(ckpt.train, **overrides)
    config.check_tools()
    state = RunState.from_json(resume_file.resume_state(run_dir))
    if state.metrics.get("early_stop"):
        raise GenError(
            f"'{run_dir}' stopped early ({state.metrics['early_stop']}); nothing to resume. "
            f"Train further from its weights with --init-from {run_dir}"
        )
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
    aug_maps = tokenmaps.augmentation_maps(plugin, ckpt.vocab) if config.augment else None
    plan = Plan(plugin, ckpt.model_config, config, train_ids, aug_maps, val_ids, run_dir, state)
    plan.ignored = tuple(keys.control_ids(ckpt.vocab))
    log(f"resuming {run_dir} at epoch {state.epoch + 1} of {config.epochs}, step {state.step}")
    _run(plan, log, resume=True)
    return run_dir


def _out_of_memory(plan: Plan) -> str:
    """What to say when training runs out of memory: where, what to lower, what is kept."""
    config, state = plan.config, plan.state
    kept = resume_file.RESUME if (plan.run_dir / resume_file.RESUME).exists() else None
    return (
        f"out of memory at epoch {state.epoch + 1}, step {state.step}: a batch of "
        f"{config.batch_size:,} windows of {config.seq_len} tokens does not fit; lower "
        "--batch-size (or --seq-len, --units)"
        + (f"; the checkpoint in '{plan.run_dir}' is as it was" if kept else "")
    )


def _run(plan: Plan, log, init_weights: Path | None = None, resume: bool = False) -> None:
    """Fit while holding the run folder (the chief of several workers), then report the best
    epoch."""
    from generator.fitting import fit

    chief = distribute.writes(plan.config.strategy)
    with resume_file.locked(plan.run_dir) if chief else nullcontext():
        if resume and chief:
            for path in remove_leftovers(plan.run_dir):
                log(f"removed {path.name}, a write the stopped run left unfinished")
        with budget.out_of_memory_is_one_line(lambda: _out_of_memory(plan)):
            fit(plan, log, resume, init_weights)
    m = plan.state.metrics
    if m["history"] and chief:
        log(
            f"best validation loss {m['best_val_loss']:.4f} {plan.unit} at epoch "
            f"{m['best_epoch']}; saved in {plan.run_dir}"
        )
