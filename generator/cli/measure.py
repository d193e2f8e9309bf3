"""`gen evaluate`, `gen plot` and `gen render`: thin commands over the library's evaluation,
piano-roll and audio modules."""

from __future__ import annotations

from pathlib import Path

import click

from generator.cli.common import (
    checkpoint_dir_option,
    checkpoint_option,
    reporter,
    run_folder,
    weights_option,
)
from generator.config import MAX_NGRAM_ORDER, check_range
from generator.errors import GenError


@click.command()
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
@click.option(
    "--context",
    is_flag=True,
    help="Instead: the held-out loss by how much history the model has (state carried through "
    "whole pieces against training's windows), and with the distant history scrambled.",
)
@click.option(
    "--plot",
    "plot_file",
    type=click.Path(path_type=Path),
    help="With --context: also draw the curve as this PNG.",
)
@click.option("--force", is_flag=True, help="With --plot: overwrite an existing PNG.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def evaluate(
    checkpoint,
    checkpoint_dir,
    path,
    samples,
    weights,
    ngram_order,
    context,
    plot_file,
    force,
    as_json,
):
    """Measure a trained model: held-out loss next to n-gram baselines, statistics of
    generated samples next to the training corpus, or (--context) how far back it listens."""
    import json

    from generator import checkpoint as ckpt_io
    from generator import evaluate as ev

    if path is not None and samples is not None:
        raise GenError("give --path (loss on files) or --samples (sample statistics), not both")
    if context and samples is not None:
        raise GenError("--context measures held-out files, not --samples")
    if plot_file is not None:
        from generator.atomic import check_target

        if not context or plot_file.suffix.lower() != ".png":
            raise GenError("--plot draws the --context curve: give --context and a .png file")
        check_target(plot_file, force)
    check_range("ngram-order", ngram_order, 1, MAX_NGRAM_ORDER)  # before any run is read
    ckpt = ckpt_io.load_checkpoint(run_folder(checkpoint, checkpoint_dir))
    plugin = ckpt_io.plugin_of(ckpt)
    log = reporter(err=as_json)
    if context:
        return _context(ckpt, plugin, path, weights, plot_file, as_json, log)
    if samples is not None:
        result = ev.sample_stats(ckpt, samples, log)
    else:
        result = ev.held_out(ckpt, path, which=weights, max_order=ngram_order, log=log)
    if as_json:
        click.echo(json.dumps(result, indent=1))
    else:
        for line in ev.report(result, plugin.token_name):
            click.echo(line)


def _context(ckpt, plugin, path, weights, plot_file, as_json, log) -> None:
    """`gen evaluate --context`: the context curve and the scrambled history."""
    import json

    from generator import context
    from generator import evaluate as ev

    _, held, where = ev.split_ids(ckpt, plugin, path, log)
    log(f"scoring {where}")
    result = context.measure(ckpt, held, which=weights)
    unit = f"nats/{plugin.token_name}"
    if plot_file is not None:
        context.plot(result, plot_file, unit)
        log(f"wrote {plot_file}")
    if as_json:
        click.echo(json.dumps(result, indent=1))
    else:
        for line in context.report(result, unit):
            click.echo(line)


@click.command()
@checkpoint_option("inspect")
@checkpoint_dir_option("Where to look for the latest run.")
@weights_option
@click.option(
    "--path",
    type=click.Path(path_type=Path),
    help="A file to run the model over (default: a piece the model draws).",
)
@click.option("--length", default=600, show_default=True, help="Tokens to draw.")
@click.option("--seed", default=0, show_default=True, help="Seed of the drawn piece.")
@click.option(
    "--out",
    "-o",
    type=click.Path(path_type=Path),
    help="NAME.png: the stream and the best cells' states; for verse also NAME.html, the text "
    "coloured by each cell.",
)
@click.option("--force", is_flag=True, help="Overwrite existing output files.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def inspect(checkpoint, checkpoint_dir, weights, path, length, seed, out, force, as_json):
    """Show what the LSTM's cells track: for each layer, the cell that best follows each
    feature of the stream (verse: place in the line, syllables, quotes; music: place in the
    bar, time since a note, notes sounding, distance from the tonic) and its forget gate."""
    import json

    from generator import cells, cellviews
    from generator import checkpoint as ckpt_io
    from generator.config import SEED_MAX

    check_range("length", length, 1, 100_000)
    check_range("seed", seed, 0, SEED_MAX)
    ckpt = ckpt_io.load_checkpoint(run_folder(checkpoint, checkpoint_dir))
    plugin = ckpt_io.plugin_of(ckpt)
    targets = _inspect_targets(out, force, plugin.kind == "verse")
    ids, tokens, head = cells.stream_of(ckpt, path, length, seed, weights)
    layers = cells.activity(ckpt.load_model(weights), ids)
    rows = cells.tracking(layers, cells.features(plugin, tokens), skip=head)
    held, chosen = cells.holding(layers), cells.chosen(rows)
    log = reporter(err=as_json)
    if targets:
        cellviews.plot(targets[0], plugin, tokens, layers, chosen)
        if len(targets) > 1:
            cellviews.page(targets[1], plugin, tokens, layers, chosen[: cellviews.MAX_TRACES])
        log(f"wrote {', '.join(str(t) for t in targets)}")
    if as_json:
        click.echo(json.dumps({"steps": len(ids), "tracking": rows, "layers": held}, indent=1))
    else:
        for line in cells.report(rows, held, len(ids), plugin.token_name):
            click.echo(line)


def _inspect_targets(out: Path | None, force: bool, verse: bool) -> list[Path]:
    """The PNG (and for verse the HTML beside it) `gen inspect --out` writes, checked before
    any work."""
    from generator.atomic import check_target

    if out is None:
        return []
    if out.suffix.lower() != ".png":
        raise GenError(f"--out '{out}': gen inspect writes NAME.png (and NAME.html for verse)")
    return [check_target(p, force) for p in (out, out.with_suffix(".html"))[: 1 + verse]]


@click.command()
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
    reporter()(f"wrote {out} ({notes} notes)")


@click.command()
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
    reporter()(f"wrote {written}")
