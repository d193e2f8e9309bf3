"""`gen train` and `gen encode`: thin commands over generator.train and generator.tokenstore."""

from __future__ import annotations

from pathlib import Path

import click

from generator import budget
from generator.cli.common import checkpoint_dir_option, corpus_option, given_options, reporter
from generator.config import PRECISIONS, STRATEGIES, VAL_LEN, TrainConfig
from generator.errors import GenError


@click.command()
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
@click.option("--layers", default=2, show_default=True, help="Stacked LSTM layers, 1 to 64.")
@click.option("--units", default=256, show_default=True, help="LSTM units per layer.")
@click.option("--embed-dim", default=64, show_default=True, help="Token embedding width.")
@click.option(
    "--dropout", default=0.2, show_default=True, help="Dropout after each LSTM layer, in [0, 1)."
)
@click.option(
    "--seq-len",
    default=TrainConfig.seq_len,
    show_default=True,
    help="Tokens per training window (how far back gradients flow). The held-out loss is "
    f"scored in windows as long, and no shorter than {VAL_LEN}.",
)
@click.option(
    "--batch-size",
    default=TrainConfig.batch_size,
    show_default=True,
    help="Windows per training step (at most the training split's windows).",
)
@click.option(
    "--epochs",
    type=int,
    default=TrainConfig.epochs,
    help="Passes over the training split (the learning rate decays over them). Default: "
    f"{budget.MIN_EPOCHS}, or on a small corpus as many as reading {budget.MIN_TOKENS:,} "
    f"tokens takes (at most {budget.MAX_EPOCHS}).",
)
@click.option(
    "--learning-rate",
    default=TrainConfig.learning_rate,
    show_default=True,
    help="Peak learning rate (warm-up, then cosine decay).",
)
@click.option(
    "--lr-floor",
    default=TrainConfig.lr_floor,
    show_default=True,
    help="The learning rate at the last step, as a share of the peak.",
)
@click.option(
    "--warmup-steps",
    default=TrainConfig.warmup_steps,
    show_default=True,
    help="Steps over which the learning rate rises from 0 to its peak (at most a tenth of the "
    "run).",
)
@click.option(
    "--ema",
    default=TrainConfig.ema,
    show_default=True,
    help="Validate and save the weights' moving average with this momentum (over about "
    "1/(1-EMA) steps) instead of the last step's weights; 0: the last step's.",
)
@click.option(
    "--adam-beta2",
    default=TrainConfig.adam_beta2,
    show_default=True,
    help="How fast Adam forgets the gradients' size (its beta_2; Keras' default is 0.999).",
)
@click.option(
    "--weight-decay",
    default=TrainConfig.weight_decay,
    show_default=True,
    help="Shrink every weight by this share of the learning rate at each step (decoupled "
    "weight decay, as AdamW); 0: none.",
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
    "--patience",
    type=int,
    help="Stop when the validation loss has not improved for this many epochs (--epochs is "
    "then the most); the best epoch's weights are kept.",
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
def train(**options):
    """Train a model on a corpus and save it under --checkpoint-dir.

    Checkpoints are written after every epoch and every --save-minutes; Ctrl-C or SIGTERM
    saves one and stops, and --resume continues the run exactly where it stood."""
    from generator.train import SHAPE_OPTIONS, resume
    from generator.train import train as run_training

    as_json = options["as_json"]
    log = reporter(err=as_json)
    given = given_options(click.get_current_context())
    if options["resume"] is not None:
        overrides = {k: v for k, v in given.items() if k not in ("resume", "as_json")}
        return _train_result(resume(options["resume"], log, overrides), as_json, log)
    cache = options["cache"]
    fields = TrainConfig.__dataclass_fields__
    config = TrainConfig(
        **{k: v for k, v in options.items() if k in fields and k != "cache"},
        cache=str(Path(cache).resolve()) if cache else None,
    )
    run_dir = run_training(
        corpus=options["corpus"],
        path=options["path"],
        root=options["checkpoint_dir"],
        config=config,
        model={k: v for k, v in given.items() if k in SHAPE_OPTIONS},
        run=options["run"],
        val_path=options["val_path"],
        init_from=options["init_from"],
        log=log,
    )
    _train_result(run_dir, as_json, log)


def _train_result(run_dir: Path, as_json: bool, log) -> None:
    """How `gen train` ends: how to sample, or with --json the run as `gen info` gives it."""
    import json

    from generator import info as run_info

    if not Path(run_dir).exists():  # a worker other than the chief, which wrote nothing
        return log("done: this worker's part of the run is over; the chief saved the run")
    if as_json:
        click.echo(json.dumps(run_info.describe(run_dir), indent=1))
    else:
        log(f"done; write a sample with: {run_info.describe(run_dir)['sample_command']}")


@click.command()
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
def encode(corpus, path, out, shard_files, part, processes):
    """Encode a corpus into a token store for `gen train --cache`: sharded, memory-mapped
    token files, built in parallel and resumable (finished shards are kept)."""
    from generator.splits import find_corpus, pieces_text, skip_lines
    from generator.tokenstore import TokenStore, build, check_options, parse_part

    log = reporter()
    where = parse_part(part)
    check_options(shard_files, processes)
    plugin, _, files = find_corpus(corpus or "midi", path, log, user_folder=False)
    folder, fresh = build(
        plugin, files, out, shard_files=shard_files, part=where, log=log, processes=processes
    )
    try:
        store = TokenStore(folder)
    except GenError as exc:  # other parts still to come
        return log(f"part {part} done ({fresh} files encoded); {exc}")
    for line in skip_lines(store):
        log(line)
    log(
        f"token store {folder}: {len(store.usable)} files, {len(store.skipped)} skipped, "
        f"{pieces_text(store, len(store.usable))}"
        f"{sum(store.counts().values()):,} tokens in {len(store.shards)} shards; train with: "
        f"gen train --cache {folder}"
    )
