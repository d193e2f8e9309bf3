"""Music that keeps time and key: samples of trained music runs beside the real pieces of their
validation split.

    pip install -e '.[bench]'          # scikit-learn, for the classifier test
    python benchmarks/music.py checkpoints/RUN [checkpoints/OTHER ...] [--samples 20]
                                       [--key-bias B]

For each run, `gen sample -n N --seconds 30 --seed 1 --key-bias B` writes --samples
samples and, for a run trained with keys, as many again in each of four keys (`--key`); then,
beside the real pieces (their first 30 s, as the run's plugin writes them to MIDI):

- in key: the share of notes in the key music21's analysis finds (mean over pieces);
- key asked: of the samples written with `--key K`, how many music21 finds in K;
- on the grid: the share of note onsets within 11 ms of a sixteenth-note grid at the file's
  first tempo;
- classifier: cross-validated accuracy of a classifier telling real pieces from samples on
  musical features (50 %: it cannot tell them apart), with its 95 % interval;
- grammar errors: MidiTok's own check of sampled token streams (plugins that tokenise with it).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from generator.config import KEY_BIAS  # noqa: E402
from generator.twosample import compared, interval, music_accuracy  # noqa: E402

KEYS = ("C major", "D minor", "G major", "A minor")
SECONDS = 30.0
MAX_REAL = 100  # real pieces compared, at most


def gen(*args) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "generator", "-q", *map(str, args)], capture_output=True, text=True
    )
    if done.returncode:
        raise RuntimeError(done.stderr[-2000:])
    return done.stdout


def notes_of(path: Path) -> list:
    """The notes of a MIDI file that start in its first `SECONDS`."""
    import mido

    from generator.corpora.midifile import midi_notes

    return [n for n in midi_notes(mido.MidiFile(path)) if n.start < SECONDS]


def grid_share(path: Path) -> float | None:
    """Share of onsets on a sixteenth-note grid at the file's first tempo."""
    import mido

    from generator.stats import on_grid_share

    mid = mido.MidiFile(path)
    tempos = [m.tempo for t in mid.tracks for m in t if m.type == "set_tempo"]
    return on_grid_share(notes_of(path), (tempos[0] if tempos else 500_000) / 1e6)


def real_pieces(ckpt, plugin, work: Path) -> list[Path]:
    """The run's validation pieces (up to `MAX_REAL`, spread over them; a book of tunes gives
    each tune) as its plugin writes them to MIDI, read from the run's token store."""
    from generator.data import written_pieces
    from generator.splits import saved_split
    from generator.twosample import spread

    _, val = saved_split(ckpt, plugin)
    pieces = spread(written_pieces(val.array(), ckpt.vocab, len(plugin.lead_in)), MAX_REAL)
    out = []
    for k, tokens in enumerate(pieces):
        target = work / f"real-{k}.mid"
        plugin.write(tokens, target)
        out.append(target)
    return out


def write(run: Path, out: Path, count: int, key_bias: float, *options) -> list[Path]:
    """`count` samples of `SECONDS` from `run`, drawn together with seed 1."""
    args = ("--out", out, "-n", count, "--seconds", SECONDS, "--seed", 1, "--key-bias", key_bias)
    args += options
    gen("sample", "--checkpoint", run, *args)
    return [out.with_name(f"{out.stem}-{k}{out.suffix}") for k in range(1, count + 1)]


def grammar_errors(ckpt, plugin, count: int, key_bias: float) -> int | None:
    """MidiTok's error count over `count` sampled streams, for plugins tokenised by it."""
    tokenizer = getattr(plugin, "_tokenizer", None)
    if tokenizer is None:
        return None
    from generator.config import SampleConfig
    from generator.keys import without_controls
    from generator.sample import Sampler

    sampler = Sampler(ckpt)
    config = SampleConfig(seed=1, max_tokens=4000, unit="seconds", unit_limit=SECONDS)
    keys = sampler.keys(count, None, 1)
    starts = np.stack([sampler.start([], key) for key in keys])
    controls = sampler.controls(keys, [], key_bias)
    rows, _, _ = sampler.draw(starts, config, want_logp=False, controls=controls)
    streams = [without_controls(sampler.vocab.decode(r)) for r in rows]
    return sum(round(tokenizer.tokens_errors(s) * len(s)) for s in streams)


def measure(run: Path, count: int, key_bias: float) -> dict:
    from generator import keys, stats
    from generator.checkpoint import load_checkpoint, plugin_of

    ckpt = load_checkpoint(run)
    plugin = plugin_of(ckpt)
    work = Path(tempfile.mkdtemp(prefix="gen-music-"))
    real = real_pieces(ckpt, plugin, work)
    samples = write(run, work / "sample.mid", count, key_bias)
    result = {"run": str(run), "corpus": ckpt.corpus_name, "samples": count, "real": len(real)}
    result["key_bias"] = key_bias if ckpt.key_counts else None
    for name, files in (("real", real), ("samples", samples)):
        result[f"in_key_{name}"] = float(
            np.mean([stats.in_key_share(notes_of(f))[0] for f in files])
        )
        result[f"grid_{name}"] = float(np.mean([grid_share(f) for f in files]))
    real_notes, sample_notes = [notes_of(f) for f in real], [notes_of(f) for f in samples]
    result["classifier"] = music_accuracy(real_notes, sample_notes)
    result["classifier_pieces"] = compared(real_notes, sample_notes)
    result["grammar_errors"] = grammar_errors(ckpt, plugin, count, key_bias)
    if ckpt.key_counts:
        result["key_asked"] = {}
        for key in KEYS:
            out = work / f"{key.replace(' ', '-')}.mid"
            written = write(run, out, count, key_bias, "--key", key)
            result["key_asked"][key] = sum(keys.key_of(notes_of(f)) == key for f in written)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders of music models")
    parser.add_argument("--samples", type=int, default=20, help="samples per run and per key")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--key-bias", type=float, default=KEY_BIAS, help="gen sample --key-bias (runs with keys)"
    )
    args = parser.parse_args()
    results = [measure(run, args.samples, args.key_bias) for run in args.runs]
    print("| run | key bias | in key, samples / real | on the grid, samples / real | classifier | "
          "grammar errors | key asked (of each) |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        asked = ", ".join(f"{k}: {n}" for k, n in r.get("key_asked", {}).items()) or "-"
        classifier = "-"
        if r["classifier"] is not None:
            low, high = interval(r["classifier"], r["classifier_pieces"])
            classifier = f"{100 * r['classifier']:.0f} % ({100 * low:.0f}-{100 * high:.0f})"
        errors = "-" if r["grammar_errors"] is None else r["grammar_errors"]
        print(
            f"| {r['run']} ({r['corpus']}) | {r['key_bias'] if r['key_bias'] is not None else '-'} "
            f"| {100 * r['in_key_samples']:.1f} % / "
            f"{100 * r['in_key_real']:.1f} % | {100 * r['grid_samples']:.1f} % / "
            f"{100 * r['grid_real']:.1f} % | {classifier} | {errors} | {asked} |"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
