"""From sampling options to files: plain or verse-form sampling, safe writes, and a report.

`write_samples` is what `gen sample` runs. Output goes through a temporary file beside the
target and a rename, so a crash never leaves a half-written file, and an existing file is only
replaced with `force`. Music can also be drawn as a piano roll (`.png`, or `plot` for one beside
each output), with the primer's notes in their own colour.
"""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from generator import checkpoint as ckpt_io
from generator.atomic import atomic_path
from generator.corpora import verse as verse_forms
from generator.corpora.midi import MidiCorpus
from generator.errors import GenError
from generator.progress import iterate_with_progress
from generator.sample import SampleConfig, Sampler

PIANO_ROLL = ".png"  # music written as this suffix is drawn, not played


@dataclass
class VerseOptions:
    """Verse-form options; all None means plain sampling."""

    form: str | None = None
    rhyme: str | None = None
    syllables: str | None = None
    lines: int | None = None
    stanzas: int | None = None

    @property
    def constrained(self) -> bool:
        return bool(self.form or self.rhyme or self.syllables)


def output_paths(out: Path, num: int, suffix: str) -> list[Path]:
    """`song.mid` for one output, `song-1.mid` ... `song-N.mid` for several."""
    out = Path(out)
    if not out.suffix:
        out = out.with_suffix(suffix)
    if num == 1:
        return [out]
    return [out.with_name(f"{out.stem}-{i}{out.suffix}") for i in range(1, num + 1)]


def write_output(plugin, tokens: list[str], path: Path | None) -> None:
    """Write through a temporary file beside `path` (None: standard output)."""
    if path is None:
        with tempfile.TemporaryDirectory() as folder:
            tmp = Path(folder) / f"out{plugin.suffix}"
            plugin.write(tokens, tmp)
            try:
                sys.stdout.buffer.write(tmp.read_bytes())
                sys.stdout.flush()
            except BrokenPipeError:  # e.g. `gen sample --out - | head`: the reader left
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return
    try:
        with atomic_path(path) as tmp:
            plugin.write(tokens, tmp)
    except OSError as exc:
        raise GenError(f"cannot write '{path}': {exc.strerror or exc}") from None


def piano_roll_path(path: Path) -> Path:
    """Where `--plot` draws the piano roll of the output at `path`: beside it, as .png."""
    return path.with_suffix(PIANO_ROLL)


def _targets(out: str, num: int, plugin, force: bool, plot=False) -> list[Path | None]:
    """Output paths (None for standard output), refusing what cannot be written."""
    if plot and not isinstance(plugin, MidiCorpus):
        raise GenError(
            f"--plot draws piano rolls of music; this checkpoint's corpus '{plugin.name}' is "
            "not music (drop --plot)"
        )
    if plot and out == "-":
        raise GenError("--plot writes NAME.png beside each output; give --out NAME, not '-'")
    if out == "-":
        if num > 1 and plugin.binary_output:
            raise GenError(
                f"several {plugin.suffix} files cannot share standard output; give --out NAME"
            )
        return [None] * num
    if not out.strip() or Path(out).name in ("", ".", "..") or out.endswith(("/", os.sep)):
        raise GenError(f"--out '{out}' is not a file name")
    if Path(out).is_dir():
        raise GenError(f"--out '{out}' is a folder; give a file name")
    suffix = Path(out).suffix.lower()
    if suffix and plugin.output_suffixes and suffix not in plugin.output_suffixes:
        raise GenError(
            f"this checkpoint's corpus '{plugin.name}' writes {', '.join(plugin.output_suffixes)}"
            f" files, not {suffix}; change --out or pick another run with --checkpoint"
        )
    if suffix == ".pdf":  # no engraver: say so now, not after minutes of sampling
        from generator.corpora.music21_io import pdf_engine

        pdf_engine()
    paths = output_paths(Path(out), num, plugin.suffix)
    existing = [str(p) for p in paths if p.exists()]
    if plot:
        existing += [str(p) for p in map(piano_roll_path, paths) if p.exists() and p not in paths]
    if existing and not force:
        raise GenError(f"{', '.join(existing)} already exists; use --force to overwrite")
    folder = paths[0].parent
    if not folder.is_dir():
        raise GenError(f"output folder '{folder}' does not exist")
    if not os.access(folder, os.W_OK):
        raise GenError(f"output folder '{folder}' is not writable")
    return paths


def write_samples(
    checkpoint,
    out: str,
    num: int,
    config: SampleConfig,
    primer: str | None,
    primer_in_output: bool,
    verse: VerseOptions,
    force=False,
    weights="best",
    report=True,
    log=print,
    plot=False,
) -> list[dict]:
    """Draw `num` outputs from `checkpoint` and write them. Returns one summary per output:
    path ("-" for standard output), checkpoint, seed and index (the same --seed and -n write
    the same files), tokens and length (seconds or lines) of the generated part, and its
    copy rate (None when not measured)."""
    if not verse.constrained and verse.lines and verse.stanzas:
        raise GenError("give --lines or --stanzas, not both (or use them with --form)")
    ckpt = ckpt_io.load_checkpoint(checkpoint)
    plugin = ckpt_io.plugin_of(ckpt)
    # everything a user can get wrong is checked before TensorFlow and the weights load
    targets = _targets(out, num, plugin, force, plot)
    primer_tokens = plugin.encode_primer(primer) if primer else []
    specs = None
    if verse.constrained:
        specs = verse_forms.plan(
            verse.form, verse.rhyme, verse.syllables, verse.lines, verse.stanzas
        )
    sampler = Sampler(ckpt, weights)
    vocab = sampler.vocab
    unseen = vocab.unknown(primer_tokens)
    if unseen:  # documented policy: drop what the model never saw, and say so
        shown = ", ".join(repr(t) for t in unseen)
        log(
            f"warning: the primer's {shown} not in the model's vocabulary (unseen or too "
            "rare in training); dropped"
        )
        primer_tokens = [t for t in primer_tokens if t in vocab.index]
    if specs is not None:
        poems = [  # one poem after another; each line's candidates are a batch
            verse_forms.compose(
                sampler, primer_tokens, specs, replace(config, seed=(config.seed + k) % 2**31)
            )
            for k in iterate_with_progress(range(num), num, "Writing poems", "poems")
        ]
        outputs = [list(p.text()) for p in poems]
        for line in verse_forms.report(poems):
            log(line)
    else:
        if verse.lines or verse.stanzas:
            unit = "lines" if verse.lines else "stanzas"
            config = replace(config, unit=unit, unit_limit=float(verse.lines or verse.stanzas))
        start = sampler.start(primer_tokens)
        rows, _, _ = sampler.draw(start[None, :].repeat(num, axis=0), config, want_logp=False)
        outputs = [vocab.decode(row) for row in rows]
    head = primer_tokens if primer_in_output else plugin.carry_over(primer_tokens)
    written = []  # one summary per output, for `gen sample --json`
    for k, (target, tokens) in enumerate(zip(targets, outputs)):
        gap = []  # outputs on standard output are kept apart by a blank line
        if target is None and k:
            gap = ["\n"] if outputs[k - 1][-1:] == ["\n"] else ["\n", "\n"]
        if target is not None and draws_piano_rolls(plugin, target):
            write_piano_roll(head + tokens, target, len(head))
        else:
            write_output(plugin, gap + head + tokens, target)
        written.append(
            {"path": str(target) if target else "-", "checkpoint": str(ckpt.path)}
            | {"seed": config.seed, "index": k + 1, "tokens": len(tokens)}
            | output_length(plugin, tokens)
            | {"copy_rate": None}
        )
        if target:
            log(f"wrote {target} ({len(tokens)} {plugin.token_name}s)")
        if plot and not draws_piano_rolls(plugin, target):  # with --plot, target is a file
            roll = piano_roll_path(target)
            write_piano_roll(head + tokens, roll, len(head))
            written[-1]["piano_roll"] = str(roll)
            log(f"wrote {roll} (piano roll)")
    log(f"from {ckpt.path} with seed {config.seed}")
    if report:
        line, rates = copy_report(ckpt, plugin, outputs)
        log(line)
        for summary, rate in zip(written, rates):
            summary["copy_rate"] = rate
    return written


def draws_piano_rolls(plugin, path: Path) -> bool:
    """Whether `path` asks for a piano roll of music, rather than the plugin's own writer."""
    return isinstance(plugin, MidiCorpus) and path.suffix.lower() == PIANO_ROLL


def write_piano_roll(tokens: list[str], path: Path, primer_tokens: int) -> None:
    """Draw performance events as a piano roll PNG; the first `primer_tokens` are the primer's
    (drawn in their own colour). matplotlib is imported only here, when a roll is wanted."""
    from generator import pianoroll

    pianoroll.plot_events(tokens, path, primer_tokens)


def output_length(plugin, tokens: list[str]) -> dict:
    """{"seconds": ...} of music or {"lines": ...} of verse, in the first unit the plugin
    can measure; {} for a plugin that measures neither."""
    for unit in ("seconds", "lines"):
        try:
            per_token = plugin.token_units(tokens, unit)  # (tokens,)
        except GenError:
            continue
        return {unit: round(float(per_token.sum()), 3)}
    return {}


COPY_REPORT_MAX_TOKENS = 20_000_000  # the copy report holds the corpus's n-grams in memory


def _train_tokens(ckpt) -> int:
    """The training tokens metrics.json records for the run (0 if it cannot say)."""
    import json

    try:
        return int(json.loads((ckpt.path / ckpt_io.METRICS).read_text()).get("train_tokens", 0))
    except (OSError, ValueError, TypeError, AttributeError):
        return 0


def copy_report(ckpt, plugin, outputs: list[list[str]]) -> tuple[str, list[float | None]]:
    """One line saying how much of the outputs repeats the training corpus verbatim, and
    each output's copy rate (None where not measured)."""
    from generator.metrics import copy_counts, pooled_rate

    tokens = _train_tokens(ckpt)
    if tokens > COPY_REPORT_MAX_TOKENS:  # its n-gram set would not fit in memory
        return (
            f"copy rate not measured: the training corpus has {tokens:,} tokens, more than "
            f"{COPY_REPORT_MAX_TOKENS:,} (use --no-report)",
            [None] * len(outputs),
        )
    try:
        streams = ckpt_io.corpus_streams(ckpt, plugin)  # from the token cache
    except GenError as exc:
        return f"copy rate not measured: {exc}", [None] * len(outputs)
    counts = copy_counts(outputs, streams, plugin.copy_ngram)
    rates = [pooled_rate([c]) for c in counts]
    rate = pooled_rate(counts)
    if rate is None:
        return "copy rate not measured: outputs are too short", rates
    return (
        f"copy rate: {100 * rate:.1f} % of the output's {plugin.copy_ngram}-"
        f"{plugin.token_name} runs occur in the training corpus",
        rates,
    )
