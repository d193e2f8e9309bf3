"""Generating from the page: its form read into the settings `gen sample` makes from its
options (same defaults, same checks, same messages), and the job that writes, draws and plays
the result into its folder.

The defaults and help come from the `gen sample` command itself, so the page and the command
cannot drift apart.
"""

from __future__ import annotations

import random
import threading
from pathlib import Path

from generator import checkpoint as ckpt_io
from generator.errors import GenError
from generator.progress import Reporter

NUMBERS = {  # the page's numeric fields and the type each takes
    "temperature": float, "top_k": int, "top_p": float, "seed": int, "length": int,
    "seconds": float, "lines": int, "stanzas": int, "key_bias": float, "time_limit": float,
    "num_outputs": int,
}  # fmt: skip
TEXTS = ("key", "programs", "words", "form", "rhyme", "syllables", "metre", "feet", "weights",
         "title")  # fmt: skip
PRIMERS = ("primer", "primer_upload")  # verse: text; music: an uploaded file
EXPORTING = threading.Lock()  # files written on request, one at a time


def sample_options() -> dict:
    """Each option of `gen sample` the page offers: its default, help, and choices if any."""
    from generator.cli.sample import sample

    fields = {}
    for param in sample.params:
        if param.name in NUMBERS or param.name in TEXTS or param.name == "primer":
            default = param.default  # click marks "no default" with an object of its own
            fields[param.name] = {
                "default": default if isinstance(default, (int, float, str)) else None,
                "help": getattr(param, "help", "") or "",
                "choices": list(getattr(param.type, "choices", []) or []) or None,
            }
    return fields


def _value(form: dict, name: str):
    """The form's `name` as its type; None when left empty. Refused in one line like a
    mistyped option."""
    value = form.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    kind = NUMBERS.get(name)
    return str(value) if kind is None else number(name, value, kind)


def number(name: str, value, kind: type):
    """`value` as a number of `kind` (a whole number for int), else the one-line error a
    mistyped option gets."""
    option = name.replace("_", "-")
    try:
        found = float(value)
        if kind is int:
            if not found.is_integer():
                raise GenError(f"{option} must be a whole number, got {value}")
            return int(found)
        return found
    except (TypeError, ValueError, OverflowError):
        raise GenError(f"{option} must be a number, got {value!r}") from None


def read_form(form: dict, primer_path: Path | None = None):
    """(SampleConfig, VerseOptions, OutputRequest keywords) of the page's form, built and
    checked as `gen sample` builds them; a `GenError` with its message if a value is wrong."""
    from generator.config import SampleConfig, parse_programs
    from generator.outputs import OutputRequest
    from generator.verse.forms import VerseOptions

    defaults = {name: field["default"] for name, field in sample_options().items()}
    got = {name: _value(form, name) for name in (*NUMBERS, *TEXTS, "primer")}
    value = {k: defaults.get(k) if v is None else v for k, v in got.items()}
    seed = value["seed"] if value["seed"] is not None else random.randrange(2**31)
    seconds = value["seconds"]
    config = SampleConfig(
        temperature=value["temperature"], top_k=value["top_k"], top_p=value["top_p"],
        max_tokens=value["length"], seed=seed, unit="seconds" if seconds is not None else None,
        unit_limit=seconds or 0.0, programs=parse_programs(value["programs"]), key=value["key"],
        key_bias=value["key_bias"], words=value["words"],
    )  # fmt: skip
    verse = VerseOptions(
        **{k: value[k] for k in ("form", "rhyme", "syllables", "lines", "stanzas", "metre")},
        feet=value["feet"], time_limit=value["time_limit"],
    )  # fmt: skip
    primer = str(primer_path) if primer_path else value["primer"]
    request = {"num": value["num_outputs"], "primer": primer, "weights": value["weights"],
               "title": value["title"]}  # fmt: skip
    OutputRequest(out="-", **request)  # its checks, now
    return config, verse, request


def generate(run: Path, folder: Path, form: dict, primer_path, models, results, name) -> None:
    """The job behind Generate: write the outputs into `folder`, a piano roll and audio for
    music, and record what came out (or the one-line error) in the result."""
    from generator.outputs import OutputRequest, write_samples

    lines: list[str] = []
    log = Reporter(echo=lambda line, err: lines.append(line), bars=False)
    results.update(name, status="running")
    try:
        config, verse, request = read_form(form, primer_path)
        ckpt = ckpt_io.load_checkpoint(run)
        plugin = ckpt_io.plugin_of(ckpt)
        music = plugin.kind == "music"
        out = folder / f"{'sample' if music else 'poem'}{plugin.suffix}"
        request = OutputRequest(out=str(out), plot=music, **request)
        sampler = models.sampler(ckpt, request.weights)
        written = write_samples(run, request, config, verse, log, sampler=sampler)
        outputs = [_output(summary, music) for summary in written]
        results.update(name, status="done", outputs=outputs, log=lines, seed=config.seed)
    except GenError as exc:
        results.update(name, status="failed", error=str(exc), log=lines)
    except Exception as exc:  # a bug: one line on the page, the server goes on
        results.update(name, status="failed", error=f"{type(exc).__name__}: {exc}", log=lines)


def _output(summary: dict, music: bool) -> dict:
    """What the page shows of one output: its files by name, and audio where it can be made."""
    from generator import audio

    path = Path(summary["path"])
    shown = {k: v for k, v in summary.items() if k not in ("path", "checkpoint", "piano_roll")}
    shown |= {"file": path.name}
    if "piano_roll" in summary:
        shown["piano_roll"] = Path(summary["piano_roll"]).name
    if music:
        try:
            shown["audio"] = audio.synthesize(path, path.with_suffix(".oga")).name
        except GenError as exc:
            shown["audio_error"] = str(exc)
    else:
        shown["text"] = path.read_text(encoding="utf-8")
    return shown


def export(run: Path, folder: Path, filename: str, suffix: str) -> Path:
    """Write output `filename` of a music result again as `suffix`: .wav through FluidSynth as
    `gen render` does; .musicxml or .pdf read back through the run's plugin and written through
    its writer, as `gen sample --out` would."""
    from generator import audio
    from generator.targets import write_output

    ckpt = ckpt_io.load_checkpoint(run)
    plugin = ckpt_io.plugin_of(ckpt)
    if plugin.kind != "music":
        raise GenError("only music is written as sheet music or audio")
    if suffix == ".wav":
        target = (folder / filename).with_suffix(suffix)
        with EXPORTING:
            return target if target.exists() else audio.synthesize(folder / filename, target)
    if plugin.output_suffixes is not None and suffix not in plugin.output_suffixes:
        raise GenError(f"corpus '{plugin.name}' cannot write {suffix} files")
    target = (folder / filename).with_suffix(suffix)
    with EXPORTING:  # two requests for one file must not write it at once
        if not target.exists():
            write_output(plugin, plugin.encode_primer(str(folder / filename)), target)
    return target
