"""Start-up: wall time of `gen --help`, of sampling one token, and of `gen train` on a cached
corpus until the corpus is loaded and until its first step, validation and checkpoint."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from .common import gen_command, log


def timed(cmd, env=None, until: str | None = None) -> float:
    """Seconds until `cmd` exits, or until a line of its output starts with `until`."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    for line in proc.stdout:
        if until and line.startswith(until):
            elapsed = time.perf_counter() - start
            proc.kill()
            proc.wait()
            return elapsed
    proc.wait()
    if proc.returncode:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed with status {proc.returncode}")
    return time.perf_counter() - start


def linked_chorales(args, work: Path) -> Path:
    """A folder of links to the Bach chorales' MIDI files (extracted once into the cache)."""
    from generator.cache import cache_dir
    from generator.corpora import bach

    corpus = bach.chorale_midi_files(cache_dir(), args.chorales)
    folder = work / "chorales"
    folder.mkdir(exist_ok=True)
    for f in corpus:
        target = folder / f.name
        if not target.exists():
            target.symlink_to(f)
    return folder


def bench_startup(args, work: Path, env: dict) -> list[dict]:
    """The fastest of `args.repeats` wall times of each command, after a tiny model is trained
    for `gen sample` to load."""
    log("start-up ...")
    ckpt = work / "checkpoints"
    folder = linked_chorales(args, work)
    tiny = ["--layers", "1", "--units", "32", "--epochs", "1", "--epoch-steps", "2"]
    subprocess.run(
        [
            *gen_command(),
            "train",
            "--path",
            folder,
            "--run",
            "tiny",
            "--checkpoint-dir",
            ckpt,
            *tiny,
        ],
        check=True,
        capture_output=True,
        env=env,
    )
    out = work / "first.mid"
    sample = [*gen_command(), "sample", "--checkpoint", ckpt / "tiny", "--out", out]
    train = [*gen_command(), "train", "--path", folder, "--checkpoint-dir", ckpt]
    cases = {
        "gen --help": ([*gen_command(), "--help"], None),
        "gen sample, 1 token": ([*sample, "--length", "1", "--force", "--no-report"], None),
        "gen train, cached corpus: corpus loaded": ([*train, *tiny], "training on"),
        "gen train, cached corpus: first step, validation and checkpoint done": (
            [*train, *tiny[:-1], "1"],
            "epoch 1:",
        ),
    }
    rows = []
    for name, (cmd, until) in cases.items():
        times = [timed(cmd, env, until) for _ in range(args.repeats)]
        rows.append({"command": name, "seconds": min(times)})
    return rows
