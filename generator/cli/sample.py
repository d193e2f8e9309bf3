"""`gen sample`: a thin command over generator.outputs."""

from __future__ import annotations

import click

from generator.cli.common import (
    checkpoint_dir_option,
    checkpoint_option,
    reporter,
    run_folder,
    weights_option,
)
from generator.config import KEY_BIAS, WORDS
from generator.errors import GenError
from generator.verse.forms import FORMS, POEM_SECONDS
from generator.verse.metre import METRES


@click.command()
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
    "plugin's (midi 0.7, other music 0.8, verse 1.0).",
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
@click.option(
    "--seconds",
    type=float,
    help="Music: stop each output after this much music, counted at 120 bpm (two beats a "
    "second): a piece at a slower tempo plays longer.",
)
@click.option("--lines", type=int, help="Verse: lines per output (per stanza with --form).")
@click.option("--stanzas", type=int, help="Verse: stanzas per output.")
@click.option(
    "--key",
    help='Music: the key to write in, such as "D minor", Dm, F# or "Bb major" (default: drawn '
    "as often as the training corpus has each key).",
)
@click.option(
    "--key-bias",
    default=KEY_BIAS,
    show_default=True,
    help="Music, runs trained with keys: nats by which notes outside each output's key are "
    "held back (0: as the model writes them).",
)
@click.option(
    "--programs",
    help="Music (remi, tsd): the only instruments to play, as General MIDI programs 0-127, "
    "drums, families (piano, bass, strings...) or General MIDI names (violin, banjo...): "
    "0,33,drums or piano,bass,drums or violin,cello.",
)
@click.option(
    "--words",
    type=click.Choice(WORDS),
    default="real",
    show_default=True,
    help="Verse: real: every word is one the training corpus or the pronouncing dictionary "
    "knows; corpus: one the training corpus has; any: as the model writes them.",
)
@click.option(
    "--form",
    type=click.Choice(list(FORMS)),
    help="Verse: a form whose rhyme, syllables and metre are met by decoding (sonnet: iambic "
    "pentameter ABAB CDCD EFEF GG; ballad: common metre ABCB; villanelle: two refrains; "
    "haiku: 5-7-5).",
)
@click.option(
    "--rhyme",
    help="Verse: rhyme scheme such as ABAB or 'AABBA' ('-' unrhymed, space for a stanza "
    "break, a number after a letter for a refrain: A1BA2); overrides the form's.",
)
@click.option("--syllables", help="Verse: syllables per line, one number or a pattern 8,8,5,5,8.")
@click.option(
    "--metre",
    type=click.Choice(METRES),
    help="Verse: the metre lines must scan in, by the CMU dictionary's stresses (one-syllable "
    "words either way, one foot may be inverted); none drops the form's.",
)
@click.option("--feet", help="Verse: feet per line, one number or a pattern such as 4,3,4,3.")
@click.option(
    "--time-limit",
    type=float,
    default=POEM_SECONDS,
    show_default=True,
    help="Verse forms: seconds per poem; after it, each remaining line is drawn once and the "
    "report names what it misses.",
)
@click.option(
    "--num-outputs",
    "-n",
    default=1,
    show_default=True,
    help="How many outputs to write (drawn in batches of up to 64, each written as it is drawn).",
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
@click.option(
    "--title",
    help="Sheet music: the title printed above it (default: the output's name; numbered with -n).",
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
def sample(**options):
    """Write new music or verse from a trained model."""
    import random

    from generator.config import SampleConfig, parse_programs
    from generator.outputs import OutputRequest, write_samples
    from generator.verse.forms import VerseOptions

    out, as_json = options["out"], options["as_json"]
    if as_json and out == "-":
        raise GenError("--json prints to standard output; give --out a file name")
    seed = options["seed"]
    seed = random.randrange(2**31) if seed is None else seed
    seconds = options["seconds"]
    config = SampleConfig(
        temperature=options["temperature"],
        top_k=options["top_k"],
        top_p=options["top_p"],
        max_tokens=options["length"],
        seed=seed,
        unit="seconds" if seconds is not None else None,
        unit_limit=seconds or 0.0,
        programs=parse_programs(options["programs"]),
        key=options["key"],
        key_bias=options["key_bias"],
        words=options["words"],
    )
    verse = VerseOptions(
        **{k: options[k] for k in ("form", "rhyme", "syllables", "lines", "stanzas", "metre")},
        feet=options["feet"],
        time_limit=options["time_limit"],
    )
    request = OutputRequest(
        out=out,
        num=options["num_outputs"],
        primer=options["primer"],
        primer_in_output=options["primer_in_output"],
        plot=options["plot"],
        force=options["force"],
        report=options["report"],
        weights=options["weights"],
        title=options["title"],
    )
    run = run_folder(options["checkpoint"], options["checkpoint_dir"])
    log = reporter(err=out == "-" or as_json)
    written = write_samples(run, request, config, verse, log, summaries=as_json)
    if as_json:
        import json

        click.echo(json.dumps(written, indent=1))
