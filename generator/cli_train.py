"""`gen train` and `gen encode`: thin commands over generator.train and generator.tokenstore."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import click

from generator.cli import checkpoint_dir_option, cli, say, say_err
from generator.distribute import PRECISIONS, STRATEGIES
from generator.errors import GenError

corpus_option = click.option(
    "--corpus",
    "corpus_name",
    default="midi",
    show_default=True,
    help="Corpus plugin that reads the files (see `gen corpora`).",
)


@cli.command()
@corpus_option
@click.option(
    "--path",
    type=click.Path(path_type=Path),
    help="A file or folder (searched recursively) to train on. Default: the files in "
    "corpora/<corpus>/ if any, else the plugin's built-in corpus.",
)
@click.option(
    "--val-path",
    type=click.Path(path_type=Path),
    help="A file or folder to validate on (a fixed split); default: --val-fraction of the "
    "corpus files.",
)
@checkpoint_dir_option("Folder that holds one sub-folder per training run.")
@click.option("--run", help="Name of this run's folder (default: <corpus>-<date>-<time>).")
@click.option("--layers", default=2, show_default=True, help="Stacked LSTM layers.")
@click.option("--units", default=256, show_default=True, help="LSTM units per layer.")
@click.option("--embed-dim", default=64, show_default=True, help="Token embedding width.")
@click.option("--dropout", default=0.2, show_default=True, help="Dropout after each LSTM layer.")
@click.option(
    "--seq-len",
    default=128,
    show_default=True,
    help="Tokens per training window (how far back gradients flow).",
)
@click.option("--batch-size", default=32, show_default=True, help="Windows per training step.")
@click.option("--epochs", default=36, show_default=True, help="Passes over the training split.")
@click.option(
    "--learning-rate",
    default=1e-2,
    show_default=True,
    help="Peak learning rate (warm-up, then cosine decay).",
)
@click.option(
    "--val-fraction", default=0.1, show_default=True, help="Share of files held out for validation."
)
@click.option(
    "--max-minutes",
    type=float,
    help="Stop after the epoch that passes this many minutes of training (counted over the "
    "whole run, resumed sessions included).",
)
@click.option(
    "--epoch-steps",
    type=int,
    help="Training steps per epoch, i.e. between checkpoints (default: one pass over the "
    "training split); for corpora too large to wait a whole pass.",
)
@click.option(
    "--save-minutes",
    type=float,
    default=10.0,
    show_default=True,
    help="Also save a resumable checkpoint this often during an epoch (0: after every step).",
)
@click.option(
    "--resume",
    "resume_dir",
    type=click.Path(path_type=Path),
    help="Continue an interrupted run folder exactly where it stopped, with its own settings "
    "(only --max-minutes, --save-minutes, --strategy and --json may be given with it).",
)
@click.option(
    "--init-from",
    type=click.Path(path_type=Path),
    help="Start a new run from another run's best weights, shape and vocabulary (fine-tuning; "
    "the new corpus's tokens must be in its vocabulary).",
)
@click.option(
    "--strategy",
    type=click.Choice(STRATEGIES),
    default="auto",
    show_default=True,
    help="tf.distribute strategy: mirrored uses every local GPU, multi-worker the machines in "
    "$TF_CONFIG; auto picks multi-worker or mirrored when they apply. --batch-size is per "
    "replica; the learning rate grows with the square root of the replicas.",
)
@click.option(
    "--precision",
    type=click.Choice(PRECISIONS),
    default="float32",
    show_default=True,
    help="mixed: float16 arithmetic with float32 weights (GPUs only).",
)
@click.option(
    "--cache",
    type=click.Path(path_type=Path),
    help="Train from a token store made by `gen encode` (its corpus and files) instead of --path.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="At the end, print the run as `gen info --json` does (progress goes to standard error).",
)
@click.option(
    "--tensorboard",
    is_flag=True,
    help="Also write TensorBoard logs into the run folder (tensorboard --logdir RUN).",
)
@click.option(
    "--augment/--no-augment",
    default=True,
    show_default=True,
    help="Augment the training split (music: transposition by up to 3 semitones).",
)
@click.option(
    "--seed",
    default=0,
    show_default=True,
    help="Seed for the split, data order and initial weights.",
)
def train(
    corpus_name,
    path,
    val_path,
    checkpoint_dir,
    run,
    layers,
    units,
    embed_dim,
    dropout,
    seq_len,
    batch_size,
    epochs,
    learning_rate,
    val_fraction,
    max_minutes,
    epoch_steps,
    save_minutes,
    resume_dir,
    init_from,
    strategy,
    precision,
    cache,
    as_json,
    tensorboard,
    augment,
    seed,
):
    """Train a model on a corpus and save it under --checkpoint-dir.

    Checkpoints are written after every epoch and every --save-minutes; Ctrl-C or SIGTERM
    saves one and stops, and --resume continues the run exactly where it stood."""
    from generator.train import TrainConfig, resume
    from generator.train import train as run_training

    log = say_err if as_json else say
    ctx = click.get_current_context()
    given = [
        p.opts[0]
        for p in ctx.command.params
        if ctx.get_parameter_source(p.name) == click.core.ParameterSource.COMMANDLINE
    ]
    if resume_dir is not None:
        # what does not change the result: the time budget, how often to save, how the
        # run is spread (if its replicas stay the same), what is printed
        free = ("--resume", "--max-minutes", "--save-minutes", "--strategy", "--json")
        extra = [o for o in given if o not in free]
        if extra:
            raise GenError(
                f"--resume continues a run with its own settings; {', '.join(extra)} cannot "
                "be given with it (use --init-from to start a new run from its weights)"
            )
        # only what was given replaces the run's own settings
        chosen = {
            "--max-minutes": ("max_minutes", max_minutes),
            "--save-minutes": ("save_minutes", save_minutes),
            "--strategy": ("strategy", strategy),
        }
        overrides = dict(chosen[o] for o in given if o in chosen)
        run_dir = resume(resume_dir, log, **overrides)
        return _train_result(run_dir, as_json)
    if tensorboard and importlib.util.find_spec("tensorboard") is None:
        raise GenError("--tensorboard needs the tensorboard package: pip install tensorboard")
    shape = [o for o in given if o in ("--layers", "--units", "--embed-dim", "--dropout")]
    if init_from is not None and shape:
        raise GenError(f"--init-from takes the model's shape from its run; drop {', '.join(shape)}")
    config = TrainConfig(
        seq_len=seq_len,
        batch_size=batch_size,
        epochs=epochs,
        learning_rate=learning_rate,
        val_fraction=val_fraction,
        augment=augment,
        seed=seed,
        max_minutes=max_minutes,
        epoch_steps=epoch_steps,
        save_minutes=save_minutes,
        strategy=strategy,
        precision=precision,
        cache=str(Path(cache).resolve()) if cache else None,
        tensorboard=tensorboard,
    )
    if cache is not None and path is not None:
        raise GenError("give --path (files) or --cache (a token store), not both")
    if cache is not None and "--corpus" not in given:
        corpus_name = None  # the store says which plugin made it
    model_options = {"layers": layers, "units": units, "embed_dim": embed_dim, "dropout": dropout}
    run_dir = run_training(
        corpus_name,
        path,
        checkpoint_dir,
        model_options,
        config,
        run,
        log,
        val_path,
        init_from,
    )
    _train_result(run_dir, as_json)


def _train_result(run_dir: Path, as_json: bool) -> None:
    """How `gen train` ends: how to sample, or with --json the run as `gen info` gives it."""
    if not as_json:
        return _sample_hint(run_dir)
    import json

    from generator import info as run_info

    if Path(run_dir).exists():  # not for a worker other than the chief
        click.echo(json.dumps(run_info.describe(run_dir), indent=1))


def _sample_hint(run_dir: Path) -> None:
    """The last line of `gen train`: how to sample from the run."""
    from generator import info as run_info

    if not Path(run_dir).exists():  # a worker other than the chief, which wrote nothing
        return say("done: this worker's part of the run is over; the chief saved the run")
    say(f"done; write a sample with: {run_info.describe(run_dir)['sample_command']}")


@cli.command()
@corpus_option
@click.option(
    "--path",
    type=click.Path(path_type=Path),
    help="A file or folder to encode (default: the plugin's built-in corpus).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    help="Folder of the token store (created; an unfinished one is finished).",
)
@click.option(
    "--shard-files",
    default=256,
    show_default=True,
    help="Files per shard: the unit of work of one process or job.",
)
@click.option(
    "--part",
    default="1/1",
    show_default=True,
    help="I/N: build only shards I, I+N, I+2N... (1-based), so N jobs on a cluster can share "
    "the work; each runs the same command with its own I.",
)
@click.option(
    "--processes",
    type=int,
    help="Worker processes (default: one per core).",
)
def encode(corpus_name, path, out, shard_files, part, processes):
    """Encode a corpus into a token store for `gen train --cache`: sharded, memory-mapped
    token files, built in parallel and resumable (finished shards are kept)."""
    from generator.splits import find_corpus
    from generator.tokenstore import TokenStore, build

    try:
        index, count = (int(x) for x in part.split("/"))
    except ValueError:
        raise GenError(f"--part must look like 2/8, got '{part}'") from None
    if not 1 <= index <= count:
        raise GenError(f"--part {part}: I must be in [1, N]")
    if shard_files < 1:
        raise GenError(f"shard-files must be at least 1, got {shard_files}")
    plugin, _, files = find_corpus(corpus_name, path, user_folder=False)
    if processes is not None and processes < 1:
        raise GenError(f"processes must be at least 1, got {processes}")
    folder, fresh = build(plugin, files, out, shard_files, (index - 1, count), say, processes)
    try:
        store = TokenStore(folder)
    except GenError as exc:  # other parts still to come
        return say(f"part {part} done ({fresh} files encoded); {exc}")
    say(
        f"token store {folder}: {len(store.usable)} files, {len(store.skipped)} skipped, "
        f"{sum(store.counts().values()):,} tokens in {len(store.shards)} shards; train with: "
        f"gen train --cache {folder}"
    )
