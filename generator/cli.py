"""The `gen` command line: thin click commands over the library; no ML code here.

Library code raises `GenError` for problems a user can fix; `GenGroup` prints those as one
`Error: ...` line and exits 1. TensorFlow is imported only inside the commands that need it.
"""

from __future__ import annotations

import importlib.util
import os
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


def say(line: str, err: bool = False) -> None:
    """The `log=` of library code: echo an informational line, unless `gen --quiet`, which
    keeps only warnings (on standard error, so that a script's standard output stays clean)."""
    from generator.progress import quiet

    if not quiet():
        click.echo(line, err=err)
    elif line.startswith("warning"):
        click.echo(line, err=True)


def say_err(line: str) -> None:
    """`say` on standard error, for commands whose standard output is their result."""
    say(line, err=True)


def _quiet_until_done(ctx: click.Context) -> None:
    """Set GEN_QUIET, which progress bars and `say` read, until this command ends; restored
    after it because tests (and other callers) invoke `gen` many times in one process."""
    from generator.progress import QUIET_ENV

    previous = os.environ.get(QUIET_ENV)
    os.environ[QUIET_ENV] = "1"

    def restore():
        if previous is None:
            os.environ.pop(QUIET_ENV, None)
        else:
            os.environ[QUIET_ENV] = previous

    ctx.call_on_close(restore)


@click.group(cls=GenGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gen")
@click.option(
    "--quiet",
    "-q",
    is_flag=True,
    envvar="GEN_QUIET",
    help="No progress bars or informational lines: only results, warnings and errors "
    "(also: GEN_QUIET=1).",
)
def cli(quiet):
    """gen: learn the style of MIDI files or poems and write new music or verse.

    \b
    Quick start:
      gen train --corpus midi          train on the Bach chorales bundled with music21
      gen sample --out song.mid        write a song from the latest trained model
      gen train --corpus text --path poems.txt
      gen sample --out - --form sonnet write a sonnet to the terminal
      gen info                         list the trained runs
    """
    if quiet:
        _quiet_until_done(click.get_current_context())


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the plugins as JSON.")
def corpora(as_json):
    """List the corpus plugins, with a one-line description each."""
    import json

    from generator.corpora import discover

    plugins = sorted(discover().items())
    if as_json:
        fields = ("version", "description", "suffix", "input_suffixes")  # None: unusable
        click.echo(
            json.dumps(
                [
                    {"name": p.name, "source": p.source, "usable": not p.error, "error": p.error}
                    | {f: getattr(p.cls, f, None) for f in fields}
                    for _, p in plugins
                ],
                indent=1,
            )
        )
        return
    for name, info in plugins:
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
    "(only --max-minutes and --save-minutes may be given with it).",
)
@click.option(
    "--init-from",
    type=click.Path(path_type=Path),
    help="Start a new run from another run's best weights, shape and vocabulary (fine-tuning; "
    "the new corpus's tokens must be in its vocabulary).",
)
@click.option(
    "--strategy",
    type=click.Choice(["auto", "one-device", "mirrored", "multi-worker"]),
    default="auto",
    show_default=True,
    help="tf.distribute strategy: mirrored uses every local GPU, multi-worker the machines in "
    "$TF_CONFIG; auto picks multi-worker or mirrored when they apply. --batch-size is per "
    "replica; the learning rate grows with the square root of the replicas.",
)
@click.option(
    "--precision",
    type=click.Choice(["float32", "mixed"]),
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
    from generator import checkpoint as ckpt_io

    if not Path(run_dir).exists():  # a worker other than the chief, which wrote nothing
        return say("done: this worker's part of the run is over; the chief saved the run")
    plugin = ckpt_io.plugin_of(ckpt_io.load_checkpoint(run_dir))
    out = "song.mid" if plugin.name == "midi" else f"sample{plugin.suffix}"
    say(f"done; write a sample with: gen sample --checkpoint {run_dir} --out {out}")


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


@cli.command()
@click.option(
    "--out",
    "-o",
    required=True,
    help="Output file ('-' for standard output); with --num-outputs N, NAME-1.mid "
    "... NAME-N.mid. The checkpoint's corpus decides the formats, the suffix picks one "
    "(music: .mid, .musicxml/.mxl or .pdf sheet music, .png piano roll).",
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
@click.option(
    "--plot",
    is_flag=True,
    help="Music: also draw each output as a piano roll, NAME.png beside it (primer in orange).",
)
@click.option("--force", is_flag=True, help="Overwrite existing output files.")
@click.option(
    "--report/--no-report",
    default=True,
    show_default=True,
    help="After sampling, measure how much of the output copies the training corpus.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the written files as JSON (path, seed, tokens, seconds or lines, copy rate); "
    "other lines go to standard error.",
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
    plot,
    force,
    report,
    as_json,
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
    if as_json and out == "-":
        raise GenError("--json prints to standard output; give --out a file name")
    written = write_samples(
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
        log=say_err if out == "-" or as_json else say,
        plot=plot,
    )
    if as_json:
        import json

        click.echo(json.dumps(written, indent=1))


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
    log = say_err if as_json else say
    if samples is not None:
        result = ev.sample_stats(ckpt, plugin.find_files(samples), log)
    else:
        result = ev.held_out(ckpt, path, weights, ngram_order, log)
    if as_json:
        click.echo(json.dumps(result, indent=1))
    else:
        for line in ev.report(result, plugin.token_name):
            click.echo(line)


@cli.command()
@click.argument("run_dir", metavar="[CHECKPOINT]", required=False, type=click.Path(path_type=Path))
@checkpoint_dir_option("Folder whose runs are listed when no CHECKPOINT is given.")
@click.option("--json", "as_json", is_flag=True, help="Print the same as JSON.")
def info(run_dir, checkpoint_dir, as_json):
    """Describe a run folder: corpus, data, model, epochs, best loss, time, whether it can be
    resumed and how to sample from it. Without CHECKPOINT, list every run under
    --checkpoint-dir, oldest first. Reads only JSON, so it answers at once."""
    import json

    from generator import info as run_info

    result = run_info.describe(run_dir) if run_dir else run_info.list_runs(checkpoint_dir)
    if as_json:
        click.echo(json.dumps(result, indent=1))
        return
    lines = run_info.report(result) if run_dir else run_info.listing(result)
    for line in lines:
        click.echo(line)


@cli.command()
@click.argument("midi_file", metavar="FILE.mid", type=click.Path(path_type=Path))
@click.option(
    "--out", "-o", type=click.Path(path_type=Path), help="PNG to write (default: FILE.png)."
)
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
def plot(midi_file, out, force):
    """Draw a MIDI file as a piano roll (PNG): time in seconds, pitch, velocity as shade, bar
    lines from its tempo and time signature."""
    from generator import pianoroll
    from generator.atomic import check_target

    out = Path(out) if out is not None else Path(midi_file).with_suffix(".png")
    if out.suffix.lower() != ".png":
        raise GenError(f"--out '{out}': gen plot writes .png files, not '{out.suffix}'")
    check_target(out, force)
    notes = pianoroll.plot_file(midi_file, out)
    say(f"wrote {out} ({notes} notes)")


@cli.command()
@click.argument("midi_file", metavar="FILE.mid", type=click.Path(path_type=Path))
@click.option(
    "--out", "-o", type=click.Path(path_type=Path), help="WAV file to write (default: FILE.wav)."
)
@click.option(
    "--soundfont",
    type=click.Path(path_type=Path),
    help="General MIDI SoundFont (.sf2) to play with (default: $GEN_SOUNDFONT, else the "
    "first in /usr/share/sounds/sf2/ or /usr/share/soundfonts/).",
)
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
def render(midi_file, out, soundfont, force):
    """Play a MIDI file into a WAV file with FluidSynth (apt install fluidsynth
    fluid-soundfont-gm)."""
    from generator import audio

    written = audio.render(midi_file, out, soundfont, force)
    say(f"wrote {written}")


def main():
    """Entry point of the `gen` script."""
    cli(prog_name="gen")
