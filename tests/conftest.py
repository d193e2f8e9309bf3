"""Shared fixtures: tiny MIDI files made in tmp_path, and an isolated cache and working folder."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import mido
import pytest
from hypothesis import configuration, settings

# Hypothesis keeps no example database and its cache in a temporary folder, and pytest-benchmark
# (if installed) is off in pyproject.toml: the suite writes nothing into the checkout.
configuration.set_hypothesis_home_dir(tempfile.mkdtemp(prefix="gen-hypothesis-"))
settings.register_profile("gen", database=None)
settings.load_profile("gen")

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"  # real corpora beside the checkout, where present


def script(path: str):
    """A script of the checkout that is not installed (`benchmarks/music.py`) as a module."""
    spec = importlib.util.spec_from_file_location(Path(path).stem, ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Every test runs in its own folder with its own cache: nothing touches the checkout."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("GEN_CACHE_DIR", str(tmp_path / "cache"))
    return work


def write_midi(path: Path, notes, ticks_per_beat=480, tempo=500_000, channel=0) -> Path:
    """A type-0 MIDI file of `notes`: (start_beat, length_beats, pitch, velocity) tuples."""
    events = []
    for start, length, pitch, velocity in notes:
        on, off = round(start * ticks_per_beat), round((start + length) * ticks_per_beat)
        events.append(
            (on, 1, mido.Message("note_on", note=pitch, velocity=velocity, channel=channel))
        )
        events.append((off, 0, mido.Message("note_off", note=pitch, velocity=0, channel=channel)))
    events.sort(key=lambda e: (e[0], e[1]))  # note-offs before note-ons at the same tick
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=tempo, time=0)])
    last = 0
    for tick, _, msg in events:
        track.append(msg.copy(time=tick - last))
        last = tick
    mid = mido.MidiFile(type=0, ticks_per_beat=ticks_per_beat)
    mid.tracks.append(track)
    mid.save(path)
    return Path(path)


def scale_corpus(folder: Path, files: int = 6) -> Path:
    """A folder of small, learnable MIDI files: rising scales and chords in a few keys."""
    folder.mkdir(parents=True, exist_ok=True)
    major = [0, 2, 4, 5, 7, 9, 11, 12]
    for i in range(files):
        root = 60 + (i % 3) * 2
        notes = [(b * 0.5, 0.5, root + step, 80) for b, step in enumerate(major)]
        notes += [(4 + b, 1, root + s, 64) for b in range(2) for s in (0, 4, 7)]
        write_midi(folder / f"piece{i}.mid", notes)
    return folder


# A model of a few units trained for a few steps: enough to check behaviour, not quality.
TINY_OPTIONS = {
    "layers": 1,
    "units": 16,
    "embed-dim": 8,
    "dropout": 0,
    "seq-len": 16,
    "batch-size": 8,
    "epochs": 2,
}


def tiny(**changes) -> list[str]:
    """`gen train` options of a tiny model; `changes` replace or add options (`seq_len=32`
    for `--seq-len 32`, `batch_size=None` to leave the option out)."""
    options = TINY_OPTIONS | {k.replace("_", "-"): v for k, v in changes.items()}
    return [str(a) for k, v in options.items() if v is not None for a in (f"--{k}", v)]


def run(*args, catch: bool = True):
    """`gen ARGS` in this process (click's runner); with `catch=False` a bug's traceback is
    raised instead of being kept in the result."""
    from click.testing import CliRunner

    from generator.cli import cli

    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=catch)


def trained_run(root: Path, corpus_args: list, name: str = "tiny", *extra) -> Path:
    """Train a tiny model under `root`/checkpoints/`name` and return its folder; the
    training must succeed."""
    result = run(
        "train", *corpus_args, "--checkpoint-dir", root / "checkpoints", "--run", name, *extra
    )
    assert result.exit_code == 0, result.output
    return root / "checkpoints" / name


def install_metadata(site: Path, name: str, version: str, entry_points: dict) -> None:
    """Write into `site` the .dist-info that `pip install` writes for a package declaring
    `entry_points` ({group: {name: "module:attr"}}), so that `importlib.metadata` finds it."""
    dist = site / f"{name.replace('-', '_')}-{version}.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = []
    for group, entries in entry_points.items():
        lines.append(f"[{group}]")
        lines += [f"{entry} = {target}" for entry, target in entries.items()]
    (dist / "entry_points.txt").write_text("\n".join(lines) + "\n")


def gen_process(path: list[Path], *args, timeout: int = 300) -> subprocess.CompletedProcess:
    """`gen ARGS` in a fresh process with `path` on its PYTHONPATH (installed plugins)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(map(str, path)))
    return subprocess.run(
        [sys.executable, "-m", "generator", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


VERSE = "the cat sat on the mat and the bat\nthe dog ran in the fog by the log\n"


@pytest.fixture(scope="session")
def two_runs(tmp_path_factory) -> Path:
    """A checkpoint folder with a tiny music run (`music`) and a tiny verse run (`verse`),
    trained once for the session; copy it (`copy_runs`) before changing anything in it."""
    root = tmp_path_factory.mktemp("two-runs")
    trained_run(root, ["--path", scale_corpus(root / "midi")], "music", *tiny())
    (root / "poems.txt").write_text(VERSE * 40)
    trained_run(root, ["--corpus", "text", "--path", root / "poems.txt"], "verse", *tiny())
    return root / "checkpoints"


def copy_runs(two_runs: Path, to: Path) -> Path:
    """A copy of the `two_runs` checkpoint folder at `to`, for a test to change."""
    import shutil

    shutil.copytree(two_runs, to)
    return to
