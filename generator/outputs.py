"""From sampling options to files: plain or verse-form sampling, safe writes, and a report.

`write_samples` is what `gen sample` runs. Output goes through a temporary file beside the
target and a rename, so a crash never leaves a half-written file, and an existing file is only
replaced with `force`.
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
from generator.errors import GenError
from generator.progress import iterate_with_progress
from generator.sample import SampleConfig, Sampler


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


def _targets(out: str, num: int, plugin, force: bool) -> list[Path | None]:
    """Output paths (None for standard output), refusing what cannot be written."""
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
    paths = output_paths(Path(out), num, plugin.suffix)
    existing = [str(p) for p in paths if p.exists()]
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
) -> list[str]:
    """Draw `num` outputs from `checkpoint` and write them; returns what was written."""
    if not verse.constrained and verse.lines and verse.stanzas:
        raise GenError("give --lines or --stanzas, not both (or use them with --form)")
    ckpt = ckpt_io.load_checkpoint(checkpoint)
    plugin = ckpt_io.plugin_of(ckpt)
    # everything a user can get wrong is checked before TensorFlow and the weights load
    targets = _targets(out, num, plugin, force)
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
            for k in iterate_with_progress(range(num), num, "Writing poems")
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
    written = []
    for k, (target, tokens) in enumerate(zip(targets, outputs)):
        gap = []  # outputs on standard output are kept apart by a blank line
        if target is None and k:
            gap = ["\n"] if outputs[k - 1][-1:] == ["\n"] else ["\n", "\n"]
        write_output(plugin, gap + head + tokens, target)
        written.append(str(target) if target else "-")
        if target:
            log(f"wrote {target} ({len(tokens)} {plugin.token_name}s)")
    log(f"from {ckpt.path} with seed {config.seed}")
    if report:
        log(copy_report(ckpt, plugin, outputs))
    return written


def copy_report(ckpt, plugin, outputs: list[list[str]]) -> str:
    """One line: how much of the outputs repeats the training corpus verbatim."""
    from generator.metrics import copy_rate

    try:
        streams = ckpt_io.corpus_streams(ckpt, plugin)  # from the token cache
    except GenError as exc:
        return f"copy rate not measured: {exc}"
    rate = copy_rate(outputs, streams, plugin.copy_ngram)
    if rate is None:
        return "copy rate not measured: outputs are too short"
    return (
        f"copy rate: {100 * rate:.1f} % of the output's {plugin.copy_ngram}-"
        f"{plugin.token_name} runs occur in the training corpus"
    )
