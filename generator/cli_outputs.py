"""`gen sample`, `gen evaluate`, `gen plot` and `gen render`: thin commands over the library's
output, evaluation, piano-roll and audio modules."""

from __future__ import annotations

from pathlib import Path

import click

from generator.cli import (
    checkpoint_dir_option,
    checkpoint_option,
    cli,
    say,
    say_err,
    weights_option,
)
from generator.errors import GenError


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
