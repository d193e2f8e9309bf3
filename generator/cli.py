"""The `gen` command line: thin click commands over the library; no ML code here.

Library code raises `GenError` for problems a user can fix; `GenGroup` prints those as one
`Error: ...` line and exits 1. TensorFlow is imported only inside the commands that need it.
"""

from __future__ import annotations

from pathlib import Path

import click

from generator.errors import GenError

DEFAULT_CHECKPOINTS = Path("checkpoints")


def checkpoint_dir_option(help_text: str):
    """The --checkpoint-dir option that `train` and `sample` share, with their own help."""
    return click.option(
        "--checkpoint-dir",
        type=click.Path(path_type=Path),
        default=DEFAULT_CHECKPOINTS,
        show_default=True,
        help=help_text,
    )


def checkpoint_option(what: str):
    """The --checkpoint option of the commands that use a trained run."""
    return click.option(
        "--checkpoint",
        type=click.Path(path_type=Path),
        help=f"Run folder to {what} (default: the latest under --checkpoint-dir).",
    )


weights_option = click.option(
    "--weights",
    type=click.Choice(["best", "last"]),
    default="best",
    show_default=True,
    help="Best-validation or latest weights of the run.",
)


class GenGroup(click.Group):
    """A click group that shows a `GenError` as one `Error: ...` line with exit status 1."""

    def invoke(self, ctx):
        from generator.errors import Interrupted

        try:
            return super().invoke(ctx)
        except Interrupted as exc:  # saved and stopped on a signal: not an error
            click.echo(str(exc), err=True)
            ctx.exit(exc.exit_code)
        except GenError as exc:
            raise click.ClickException(str(exc)) from None
        except KeyboardInterrupt:  # a Ctrl-C outside training's own handling
            click.echo("interrupted", err=True)
            ctx.exit(130)


@click.group(cls=GenGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gen")
def cli():
    """gen: learn the style of MIDI files or poems and write new music or verse.

    \b
    Quick start:
      gen train --corpus midi          train on the Bach chorales bundled with music21
      gen sample --out song.mid        write a song from the latest trained model
      gen train --corpus text --path poems.txt
      gen sample --out - --form sonnet write a sonnet to the terminal
    """


@cli.command()
def corpora():
    """List the corpus plugins, with a one-line description each."""
    from generator.corpora import discover

    for name, info in sorted(discover().items()):
        if info.error:
            click.echo(f"{name:<10} [unusable, from {info.source}] {info.error}")
        else:
            origin = "" if info.source == "built-in" else f" [from {info.source}]"
            click.echo(f"{name:<10} {info.description}{origin}")


@cli.command()
@click.option(
    "--corpus",
    "corpus_name",
    default="midi",
    show_default=True,
    help="Corpus plugin that reads the files (see `gen corpora`).",
)
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
    "--max-minutes", type=float, help="Stop after the epoch that passes this many minutes."
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
    "(only --max-minutes and --save-minutes may be given with it).",
)
@click.option(
    "--init-from",
    type=click.Path(path_type=Path),
    help="Start a new run from another run's best weights, shape and vocabulary (fine-tuning; "
    "the new corpus's tokens must be in its vocabulary).",
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
    augment,
    seed,
):
    """Train a model on a corpus and save it under --checkpoint-dir.

    Checkpoints are written after every epoch and every --save-minutes; Ctrl-C or SIGTERM
    saves one and stops, and --resume continues the run exactly where it stood."""
    from generator.train import TrainConfig, resume
    from generator.train import train as run_training

    ctx = click.get_current_context()
    given = [
        p.opts[0]
        for p in ctx.command.params
        if ctx.get_parameter_source(p.name) == click.core.ParameterSource.COMMANDLINE
    ]
    if resume_dir is not None:
        extra = [o for o in given if o not in ("--resume", "--max-minutes", "--save-minutes")]
        if extra:
            raise GenError(
                f"--resume continues a run with its own settings; {', '.join(extra)} cannot "
                "be given with it (use --init-from to start a new run from its weights)"
            )
        run_dir = resume(resume_dir, click.echo, max_minutes=max_minutes, save_minutes=save_minutes)
        return _sample_hint(run_dir)
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
    )
    model_options = {"layers": layers, "units": units, "embed_dim": embed_dim, "dropout": dropout}
    run_dir = run_training(
        corpus_name,
        path,
        checkpoint_dir,
        model_options,
        config,
        run,
        click.echo,
        val_path,
        init_from,
    )
    _sample_hint(run_dir)


def _sample_hint(run_dir: Path) -> None:
    """The last line of `gen train`: how to sample from the run."""
    from generator import checkpoint as ckpt_io

    plugin = ckpt_io.plugin_of(ckpt_io.load_checkpoint(run_dir))
    out = "song.mid" if plugin.name == "midi" else f"sample{plugin.suffix}"
    click.echo(f"done; write a sample with: gen sample --checkpoint {run_dir} --out {out}")


@cli.command()
@click.option(
    "--out",
    "-o",
    required=True,
    help="Output file ('-' for standard output); with --num-outputs N, NAME-1.mid "
    "... NAME-N.mid. The checkpoint's corpus decides the format.",
)
@checkpoint_option("sample from")
@checkpoint_dir_option("Where to look for the latest run.")
@weights_option
@click.option(
    "--temperature",
    "-t",
    type=float,
    help="Sampling temperature, > 0: lower is safer, higher is wilder. Default: the corpus "
    "plugin's (music 0.8, verse 1.0).",
)
@click.option(
    "--top-k",
    default=0,
    show_default=True,
    help="Sample only from the k likeliest tokens (0: no limit).",
)
@click.option(
    "--top-p",
    default=1.0,
    show_default=True,
    help="Sample only from the likeliest tokens that hold this probability, in (0, 1].",
)
@click.option("--seed", type=int, help="Random seed; the same seed writes the same file.")
@click.option(
    "--length",
    default=2000,
    show_default=True,
    help="Tokens (events, characters) per output; with --seconds/--lines/--stanzas, "
    "an upper bound. With a verse form, each line is cut at 200 characters.",
)
@click.option("--seconds", type=float, help="Music: stop each output after this much music.")
@click.option("--lines", type=int, help="Verse: lines per output (per stanza with --form).")
@click.option("--stanzas", type=int, help="Verse: stanzas per output.")
@click.option(
    "--form",
    type=click.Choice(["couplet", "quatrain", "limerick", "sonnet", "free"]),
    help="Verse: a form whose rhyme and syllables are met by decoding.",
)
@click.option(
    "--rhyme",
    help="Verse: rhyme scheme such as ABAB or 'AABBA' ('-' unrhymed, "
    "space for a stanza break); overrides the form's.",
)
@click.option("--syllables", help="Verse: syllables per line, one number or a pattern 8,8,5,5,8.")
@click.option(
    "--num-outputs",
    "-n",
    default=1,
    show_default=True,
    help="How many outputs to write (drawn together as one batch).",
)
@click.option(
    "--primer",
    help="What the model continues: music, a MIDI file; verse, the text "
    "itself. Verse characters never seen in training are dropped with a warning.",
)
@click.option(
    "--primer-in-output/--no-primer-in-output",
    default=True,
    show_default=True,
    help="Start each output with the primer, or write only the continuation.",
)
@click.option("--force", is_flag=True, help="Overwrite existing output files.")
@click.option(
    "--report/--no-report",
    default=True,
    show_default=True,
    help="After sampling, measure how much of the output copies the training corpus.",
)
def sample(
    out,
    checkpoint,
    checkpoint_dir,
    weights,
    temperature,
    top_k,
    top_p,
    seed,
    length,
    seconds,
    lines,
    stanzas,
    form,
    rhyme,
    syllables,
    num_outputs,
    primer,
    primer_in_output,
    force,
    report,
):
    """Write new music or verse from a trained model."""
    import random

    from generator import checkpoint as ckpt_io
    from generator.outputs import VerseOptions, write_samples
    from generator.sample import SampleConfig

    for name, value in (("num-outputs", num_outputs), ("lines", lines), ("stanzas", stanzas)):
        if value is not None and value < 1:
            raise GenError(f"{name} must be at least 1, got {value}")
    if seconds is not None and seconds <= 0:
        raise GenError(f"seconds must be > 0, got {seconds}")
    if seed is not None and not 0 <= seed < 2**31:
        raise GenError(f"seed must be in [0, {2**31 - 1}], got {seed}")
    if not 1 <= length <= 10_000_000:
        raise GenError(f"length must be in [1, 10000000], got {length}")
    seed = random.randrange(2**31) if seed is None else seed
    config = SampleConfig(
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        max_tokens=length,
        seed=seed,
        unit="seconds" if seconds else None,
        unit_limit=seconds or 0.0,
    )
    verse = VerseOptions(form, rhyme, syllables, lines, stanzas)
    write_samples(
        checkpoint or ckpt_io.latest_run(checkpoint_dir),
        out,
        num_outputs,
        config,
        primer,
        primer_in_output,
        verse,
        force,
        weights,
        report,
        log=lambda line: click.echo(line, err=out == "-"),
    )


@cli.command()
@checkpoint_option("evaluate")
@checkpoint_dir_option("Where to look for the latest run.")
@click.option(
    "--path",
    type=click.Path(path_type=Path),
    help="Files to measure the loss on (default: the checkpoint's own validation split).",
)
@click.option(
    "--samples",
    type=click.Path(path_type=Path),
    help="Generated files (a file or folder) to compare with the training corpus, instead "
    "of measuring the loss.",
)
@weights_option
@click.option(
    "--ngram-order",
    default=6,
    show_default=True,
    help="Longest n-gram baseline (orders 1 to this are measured).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def evaluate(checkpoint, checkpoint_dir, path, samples, weights, ngram_order, as_json):
    """Measure a trained model: held-out loss next to n-gram baselines, or statistics of
    generated samples next to the training corpus."""
    import json

    from generator import checkpoint as ckpt_io
    from generator import evaluate as ev

    if path is not None and samples is not None:
        raise GenError("give --path (loss on files) or --samples (sample statistics), not both")
    if not 1 <= ngram_order <= 10:
        raise GenError(f"ngram-order must be in [1, 10], got {ngram_order}")
    ckpt = ckpt_io.load_checkpoint(checkpoint or ckpt_io.latest_run(checkpoint_dir))
    plugin = ckpt_io.plugin_of(ckpt)
    log = (lambda line: click.echo(line, err=True)) if as_json else click.echo
    if samples is not None:
        result = ev.sample_stats(ckpt, plugin.find_files(samples), log)
    else:
        result = ev.held_out(ckpt, path, weights, ngram_order, log)
    if as_json:
        click.echo(json.dumps(result, indent=1))
    else:
        for line in ev.report(result, plugin.token_name):
            click.echo(line)


def main():
    """Entry point of the `gen` script."""
    cli(prog_name="gen")
