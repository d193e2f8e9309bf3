"""From sampling options to files: what `gen sample` runs.

Outputs are drawn in batches of at most `BATCH` streams (verse: one poem at a time) and each is
written as soon as it is drawn (`writer.Writer`), so memory does not grow with `-n`. Music can
also be drawn as a piano roll (`.png`, or `plot` for one beside each output) from the notes its
plugin reads in the tokens, with the primer's notes in their own colour.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from generator import budget, tokenmaps
from generator import checkpoint as ckpt_io
from generator import keys as keys_module
from generator.config import MAX_KEY_BIAS, MAX_OUTPUTS, SampleConfig, check_choice, check_range
from generator.errors import GenError
from generator.progress import Reporter
from generator.targets import check_targets
from generator.verse.forms import VerseOptions
from generator.writer import Writer

BATCH = 64  # streams drawn at once: -n 1000 is 16 draws, each written as it finishes
KEY_CANDIDATES = 8  # with --key, pieces drawn per output, to find one in the key's mode
KEY_ROUNDS = 4  # and as many again, up to this many times, where none was in that mode
KEY_BIAS_STEP = 1.0  # nats: each further round holds the key this much more firmly


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
    pieces drawn in that key and moved to its tonic, and more where none was in its mode
    (`keys.in_key`)."""
    num = writer.request.num
    fit = config.key is not None and sampler.key_counts and not primer
    per = KEY_CANDIDATES if fit else 1
    with log.bar(num, "Sampling", "outputs", hide_below=BATCH // per + 1) as bar:
        for first in range(0, num, BATCH // per):
            size = min(BATCH // per, num - first)
            seed = batch_seed(config.seed, first // (BATCH // per))
            if fit:
                outputs = _in_key(sampler, config, size, seed)
            else:
                keys, pieces = _drawn(sampler, primer, config, size, seed)
                outputs = list(zip(pieces, keys))
            for tokens, key in outputs:
                writer.write(tokens, key)
            bar.update(size)


def _in_key(sampler, config: SampleConfig, size: int, seed: int) -> list[tuple[list, str]]:
    """`size` outputs in `config.key` (`keys.in_key`), each with its key."""

    def draw(n: int, round_: int) -> list[list[str]]:
        return _drawn(sampler, [], round_config(config, round_), n, batch_seed(seed, round_))[1]

    chosen = keys_module.in_key(draw, sampler.plugin, config.key, size, KEY_CANDIDATES, KEY_ROUNDS)
    return [(tokens, config.key) for tokens in chosen]


def round_config(config: SampleConfig, round_: int) -> SampleConfig:
    """The settings of the `round_`-th draw (from 0) for outputs none of whose earlier
    candidates came out in the asked key's mode: the key bias `KEY_BIAS_STEP` higher each
    round, where there is one (a key the corpus seldom has, such as a minor key among folk
    tunes, needs it)."""
    if config.key_bias <= 0:
        return config
    return replace(config, key_bias=min(config.key_bias + round_ * KEY_BIAS_STEP, MAX_KEY_BIAS))


def _drawn(sampler, primer, config, n: int, seed: int) -> tuple[list, list[list[str]]]:
    """`n` pieces drawn from `seed`: the keys they were given, and their tokens without key
    tokens."""
    keys = sampler.keys(n, config.key, seed)
    starts = np.stack([sampler.start(primer, key) for key in keys])  # (streams, len)
    controls = sampler.controls(keys, primer, config.key_bias)
    drawn = replace(config, seed=seed)
    rows, _, _ = sampler.draw(starts, drawn, want_logp=False, controls=controls)
    return keys, [keys_module.without_controls(sampler.vocab.decode(row)) for row in rows]


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
