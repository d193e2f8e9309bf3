"""From sampling options to files: what `gen sample` runs.

Outputs are drawn in batches of at most `BATCH` streams (verse: one poem at a time) and each is
written as soon as it is drawn, so memory does not grow with `-n`. Music can also be drawn as a
piano roll (`.png`, or `plot` for one beside each output) from the notes its plugin reads in the
tokens, with the primer's notes in their own colour.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from generator import budget, tokenmaps
from generator import checkpoint as ckpt_io
from generator import keys as keys_module
from generator.config import MAX_OUTPUTS, SampleConfig, check_choice, check_range
from generator.errors import GenError
from generator.progress import Reporter
from generator.targets import (
    check_targets,
    draws_piano_roll,
    output_path,
    piano_roll_path,
    write_output,
)
from generator.verse.forms import VerseOptions

BATCH = 64  # streams drawn at once: -n 1000 is 16 draws, each written as it finishes
KEY_CANDIDATES = 8  # with --key, pieces drawn per output, to find one in the key's mode


@dataclass(frozen=True)
class OutputRequest:
    """What `gen sample` writes and from which weights; checked when made."""

    out: str  # a file name, or "-" for standard output
    num: int = 1  # outputs
    primer: str | None = None  # what the model continues (the plugin reads it)
    primer_in_output: bool = True  # start each output with the primer
    plot: bool = False  # music: a piano roll beside each output
    force: bool = False  # overwrite existing files
    report: bool = True  # measure how much of the outputs copies the training corpus
    weights: str = "best"
    title: str | None = None  # sheet music: the title (default: the output's name)

    def __post_init__(self):
        check_range("num-outputs", self.num, 1, MAX_OUTPUTS)
        check_choice("weights", self.weights, ("best", "last"))


def write_samples(
    checkpoint,
    request: OutputRequest,
    config: SampleConfig,
    verse: VerseOptions | None = None,
    log: Reporter | None = None,
    summaries: bool = True,
    sampler=None,
) -> list[dict]:
    """Draw `request.num` outputs from `checkpoint` and write each as it is drawn (with
    `sampler`, one already loaded from it for `request.weights`, kept by a caller that samples
    often). Returns one summary per output (none unless `summaries`, so that memory does not
    grow with -n):
    path ("-" for standard output), checkpoint, seed and index (the same --seed and -n write
    the same files), tokens and length (seconds or lines) of the generated part, and its copy
    rate (None when not measured)."""
    log, verse = Reporter.of(log), verse or VerseOptions()
    ckpt = ckpt_io.load_checkpoint(checkpoint)
    plugin = ckpt_io.plugin_of(ckpt)
    # everything a user can get wrong is checked before TensorFlow and the weights load
    _check_kind(plugin, verse, config)
    _check_programs(plugin, ckpt.vocab, config.programs)
    if config.key is not None and not ckpt.key_counts:
        raise GenError(
            f"--key: this run was trained without keys (its corpus '{plugin.name}' is not "
            "music, or it was trained before gen tagged keys); train a new run to use it"
        )
    check_targets(request.out, request.num, plugin, request.force, request.plot)
    primer = plugin.encode_primer(request.primer) if request.primer else []
    from generator.sample import Sampler

    budget.check_sampling(ckpt.model_config, min(request.num, BATCH), config.max_tokens, log)
    sampler = sampler or Sampler(ckpt, request.weights)
    primer = _known(primer, sampler.vocab, log)
    _name_unknown_words(sampler, primer, config, log)
    writer = Writer(ckpt, plugin, request, log=log, primer=primer, seed=config.seed, keep=summaries)
    with budget.out_of_memory_is_one_line(lambda: _out_of_memory(writer, config)):
        writer.count_copies()
        if verse.constrained:
            _write_poems(sampler, writer, primer, verse, config, log)
        else:
            _write_streams(sampler, writer, primer, _with_unit(config, verse), log)
    return writer.finish()


def _out_of_memory(writer, config: SampleConfig) -> str:
    written, num = writer.written, writer.request.num
    return (
        f"out of memory after {written:,} of {num:,} outputs; lower --length (now "
        f"{config.max_tokens:,})"
        + (" or -n" if num > 1 else "")
        + ("; the outputs written are complete" if written else "")
    )


def _check_kind(plugin, verse: VerseOptions, config: SampleConfig) -> None:
    """Refuse options the checkpoint's kind of corpus cannot honour."""
    if verse.constrained and plugin.kind != "verse":
        raise GenError(
            "--form, --rhyme, --syllables, --metre and --feet are for verse; this "
            f"checkpoint's corpus '{plugin.name}' is not verse"
        )
    units = tokenmaps.measurable_units(plugin)
    wanted = (
        [config.unit] + (["lines"] if verse.lines else []) + (["stanzas"] if verse.stanzas else [])
    )
    for unit in filter(None, wanted):
        if unit not in units:
            measured = ", ".join(units) or "nothing"
            raise GenError(
                f"corpus '{plugin.name}' cannot measure length in {unit} (only {measured})"
            )


def _check_programs(plugin, vocab, programs) -> None:
    """Refuse --programs for a run whose tokens never choose an instrument, and a choice that
    leaves none of the instruments it knows."""
    if programs is None:
        return
    known = set()
    if plugin.kind == "music":
        known = {plugin.token_program(t) for t in vocab.tokens} - {None}
    if not known:
        raise GenError(
            f"this run's corpus '{plugin.name}' does not choose instruments; --programs works "
            "with runs of plugins that do (remi, tsd)"
        )
    if not known & set(programs):
        raise GenError("--programs leaves none of the instruments this run knows")


def _known(primer: list[str], vocab, log) -> list[str]:
    """The primer without tokens the model never saw (documented policy: dropped, with a
    warning)."""
    unseen = vocab.unknown(primer)
    if unseen:
        shown = ", ".join(repr(t) for t in unseen)
        log.warn(
            f"warning: the primer's {shown} not in the model's vocabulary (unseen or too "
            "rare in training); dropped"
        )
    return [t for t in primer if t in vocab.index]


def _name_unknown_words(sampler, primer: list[str], config: SampleConfig, log) -> None:
    """Say which words of a verse primer `--words` does not know: they stay as written, and
    the rule holds from the next word on."""
    known = sampler.known_words(config.words) if primer else None
    if known is None:
        return
    from generator.verse import lexicon

    words = lexicon.text_words(sampler.plugin.text(primer))
    unknown = sorted(w for w in words if not lexicon.is_known(w, known))
    if unknown:
        log(f"the primer's words {', '.join(unknown)} are not known to --words {config.words}; "
            "kept as written")  # fmt: skip


def _with_unit(config: SampleConfig, verse: VerseOptions) -> SampleConfig:
    """Plain sampling with --lines or --stanzas stops each output by that unit."""
    if verse.lines or verse.stanzas:
        unit = "lines" if verse.lines else "stanzas"
        return replace(config, unit=unit, unit_limit=float(verse.lines or verse.stanzas))
    return config


def _write_streams(sampler, writer, primer: list[str], config: SampleConfig, log) -> None:
    """Draw the outputs in batches of at most `BATCH` streams, writing each batch. With
    `--key` (and no primer to keep in place), each output is chosen from `KEY_CANDIDATES`
    pieces drawn in that key and moved to its tonic (`keys.fitted`)."""
    num, plugin = writer.request.num, sampler.plugin
    fit = config.key is not None and sampler.key_counts and not primer
    per = KEY_CANDIDATES if fit else 1
    with log.bar(num, "Sampling", "outputs", hide_below=BATCH // per + 1) as bar:
        for first in range(0, num, BATCH // per):
            size = min(BATCH // per, num - first)
            drawn = replace(config, seed=batch_seed(config.seed, first // (BATCH // per)))
            keys = sampler.keys(size * per, config.key, drawn.seed)
            starts = np.stack([sampler.start(primer, key) for key in keys])  # (streams, len)
            controls = sampler.controls(keys, primer, config.key_bias)
            rows, _, _ = sampler.draw(starts, drawn, want_logp=False, controls=controls)
            pieces = [without_controls(sampler.vocab.decode(row)) for row in rows]
            for k in range(size):
                mine = pieces[k * per : (k + 1) * per]
                tokens = keys_module.fitted(plugin, mine, config.key) if fit else mine[0]
                writer.write(tokens, keys[k * per])
            bar.update(size)


def without_controls(tokens: list[str]) -> list[str]:
    """The tokens a plugin writes: a stream without its key tokens."""
    return [t for t in tokens if not keys_module.key_of_token(t)]


def batch_seed(seed: int, k: int) -> int:
    """The seed of the k-th batch of outputs: the seed itself for the first, then one drawn
    from (seed, k), so that no batch repeats another seed's (`--seed 6`'s first, say)."""
    if k == 0:
        return seed
    return int(np.random.SeedSequence([seed, k]).generate_state(1)[0]) % 2**31


def _write_poems(sampler, writer, primer, verse: VerseOptions, config, log) -> None:
    """One poem after another, each line's candidates a batch; then the form report."""
    from generator.verse.compose import Composer
    from generator.verse.forms import plan
    from generator.verse.report import FormReport

    composer = Composer(sampler, config, seconds=verse.time_limit)
    specs, report = plan(verse), FormReport(sampler.known_words("real"), verse.time_limit)
    num = writer.request.num
    with log.bar(num, "Writing poems", "poems") as bar:
        for k in range(num):
            poem = composer.poem(primer, specs, (config.seed + k) % 2**31)
            summary = writer.write(poem.tokens(sampler.plugin.line_break))
            summary["form"] = report.add(poem, summary["copy_rate"])
            bar.update(1)
    for line in report.lines():
        log(line)


class Writer:
    """Writes outputs one at a time as they are drawn, and keeps a summary of each."""

    def __init__(self, ckpt, plugin, request, *, log, primer, seed: int, keep: bool = True):
        self.ckpt, self.plugin, self.request, self.log = ckpt, plugin, request, log
        self.seed, self.keep = seed, keep  # keep: the summaries, for `finish` to return
        self.written = 0  # outputs written so far
        self.head = primer if request.primer_in_output else plugin.carry_over(primer)
        self.summaries: list[dict] = []
        self.last_byte = b""  # of the previous output on standard output
        self.copies = None

    def count_copies(self) -> None:
        """Measure each output's copy rate from now on, if the request asks for it."""
        if self.request.report:
            from generator.copies import CopyCounter

            self.copies = CopyCounter.for_checkpoint(self.ckpt, self.plugin, self.log)

    def write(self, tokens: list[str], key: str | None = None) -> dict:
        """Write one output (with the primer or what it carries over) and its piano roll;
        its summary (with the `key` it was written in, for music with keys), kept."""
        k, request, plugin = self.written, self.request, self.plugin
        target = None
        if request.out != "-":
            target = output_path(Path(request.out), request.num, plugin.suffix, k)
        summary = {"path": str(target) if target else "-", "checkpoint": str(self.ckpt.path)}
        summary |= {"seed": self.seed, "index": k + 1, "tokens": len(tokens)}
        summary |= {"key": key} if key else {}
        summary |= output_length(plugin, tokens)
        if draws_piano_roll(plugin, target):
            write_piano_roll(plugin, self.head, tokens, target)
        else:
            gap = b"" if not k or target else (b"\n" if self.last_byte == b"\n" else b"\n\n")
            heading = self.heading(k, key)
            self.last_byte = write_output(plugin, self.head + tokens, target, gap, heading)
        if target:
            self.log(f"wrote {target} ({len(tokens)} {plugin.token_name}s)")
        if request.plot and not draws_piano_roll(plugin, target):
            roll = piano_roll_path(target)
            write_piano_roll(plugin, self.head, tokens, roll)
            summary["piano_roll"] = str(roll)
            self.log(f"wrote {roll} (piano roll)")
        summary["copy_rate"] = self.copies.add(tokens) if self.copies else None
        self.written += 1
        if self.keep:
            self.summaries.append(summary)
        return summary

    def heading(self, k: int, key: str | None) -> tuple:
        """(title, subtitle, key) of output `k` as sheet music: --title (numbered with -n),
        where it came from, and the key it was drawn in."""
        title, num = self.request.title, self.request.num
        origin = f"gen: {Path(self.ckpt.path).name}, seed {self.seed}"
        origin += f", output {k + 1}" if num > 1 else ""
        return (f"{title} {k + 1}" if title and num > 1 else title), origin, key

    def finish(self) -> list[dict]:
        """The summaries; logs where the outputs came from and the copy rate."""
        self.log(f"from {self.ckpt.path} with seed {self.seed}")
        if self.copies:
            self.log(self.copies.report_line())
        return self.summaries


def write_piano_roll(plugin, head: list[str], tokens: list[str], path: Path) -> None:
    """Draw the notes of `head + tokens` as a piano roll PNG, the head's notes as the primer.
    matplotlib is imported only here, when a roll is wanted."""
    from generator import pianoroll

    stream = head + tokens
    primer_notes = len(plugin.notes(head)) if head else 0
    notes, bars = plugin.notes(stream), plugin.bar_seconds(stream)
    pianoroll.plot_notes(notes, path, bars, primer_notes, title=Path(path).name)


def output_length(plugin, tokens: list[str]) -> dict:
    """{"seconds": ...} of music or {"lines": ...} of verse, in the first unit the plugin
    measures; {} for a plugin that measures none."""
    for unit in plugin.length_units[:1]:
        return {unit: round(tokenmaps.stream_length(plugin, tokens, unit), 3)}
    return {}
