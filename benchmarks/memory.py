"""Peak memory of `gen train --cache` on a small and a large token store, and of `gen sample`
writing a few outputs and very many: neither may grow with the size of the job."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

from .common import gen_command, log
from .encoding import synthetic_midi

PEAK = """
import atexit, sys, threading, time

def status(field):
    with open("/proc/self/status") as lines:
        return int(next(line.split()[1] for line in lines if line.startswith(field)))

# RssAnon: the memory the process allocates itself. VmHWM, the peak of all resident pages,
# also counts the token store's file pages that its memory map has touched: clean page cache
# the kernel takes back when it needs the memory. The kernel keeps no peak of RssAnon, so a
# thread samples it.
anon = [0]

def sample():
    while True:
        anon[0] = max(anon[0], status("RssAnon"))
        time.sleep(0.01)

def peak():  # this process's own figures (ru_maxrss counts the parent's too)
    print("PEAK_KB", status("VmHWM"), "ANON_KB", max(anon[0], status("RssAnon")), file=sys.stderr)

threading.Thread(target=sample, daemon=True).start()
atexit.register(peak)
from generator.cli import cli
cli(sys.argv[1:], prog_name="gen")
"""


def peak_figures(stderr: str) -> tuple[int, int]:
    """Bytes of (peak resident, peak own) memory from the last report PEAK wrote to stderr."""
    figures = stderr.rsplit("PEAK_KB", 1)[1].split()
    return int(figures[0]) * 1024, int(figures[2]) * 1024


def peak_run(gen_args: list, env: dict) -> tuple[float, int, int]:
    """`gen GEN_ARGS` under PEAK: its wall seconds, peak resident and peak own bytes."""
    cmd = [sys.executable, "-c", PEAK, *gen_args]
    start = time.perf_counter()
    result = subprocess.run(list(map(str, cmd)), capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if result.returncode:
        raise RuntimeError(result.stderr[-2000:])
    return (seconds, *peak_figures(result.stderr))


def write_text_units(folder: Path, units: int, chars: int, rng: random.Random) -> int:
    """`units` different files of random words, `chars` characters or a line more each; returns
    their bytes."""
    words = "the of and to in his with her that my thy love sweet night day heart eyes".split()
    folder.mkdir(exist_ok=True)
    for n in range(units):
        text, size = [], 0
        while size < chars:
            line = " ".join(rng.choices(words, k=8))
            text.append(line)
            size += len(line) + 1
        (folder / f"part{n:03d}.txt").write_text("\n".join(text) + "\n")
    return sum(p.stat().st_size for p in folder.iterdir())


def bench_memory(args, work: Path, env: dict) -> list[dict]:
    """Peak memory of `gen train --cache` on a token store of 1 and of 50 units of text
    (a unit is `args.mem_tokens` characters): it must not grow with the corpus."""
    log("peak memory ...")
    rng = random.Random(0)
    rows = []
    for scale in (1, args.mem_scale):
        folder, store = work / f"text-x{scale}", work / f"store-x{scale}"
        size = write_text_units(folder, scale, args.mem_tokens, rng)
        start = time.perf_counter()
        encode = [*gen_command(), "encode", "--corpus", "text", "--path", folder, "--out", store]
        subprocess.run(list(map(str, encode)), capture_output=True, text=True, env=env, check=True)
        encode_seconds = time.perf_counter() - start
        _, peak, anon = peak_run(
            [
                *("train", "--cache", store, "--checkpoint-dir", work / "mem-checkpoints"),
                *("--layers", "1", "--units", "64", "--epochs", "1", "--epoch-steps", "20"),
                *("--batch-size", "64"),
            ],
            env,
        )
        rows.append(
            {
                "tokens_m": size / 1e6,
                "encode_s": encode_seconds,
                "peak_mb": peak / 1e6,
                "anon_mb": anon / 1e6,
            }
        )
    rows[1]["ratio_to_small"] = rows[1]["anon_mb"] / rows[0]["anon_mb"]
    return rows


def bench_sample_memory(args, work: Path, env: dict) -> list[dict]:
    """Peak memory of `gen sample -n N --length 10` for a few outputs and for very many, from a
    tiny model trained here: the sampler draws 64 at a time and writes each output as it is
    drawn, so memory must not grow with N."""
    log("peak memory of gen sample: training a tiny model ...")
    midi = work / "sample-midi"
    synthetic_midi(midi, args.mem_midi_files)
    ckpt = work / "mem-checkpoints"
    train = [*gen_command(), "train", "--path", midi, "--checkpoint-dir", ckpt]
    train += ["--layers", "1", "--units", "64", "--epochs", "1", "--epoch-steps", "5"]
    train += ["--run", "mem-sample"]
    subprocess.run(list(map(str, train)), capture_output=True, text=True, env=env, check=True)
    rows = []
    for n in args.sample_outputs:
        log(f"peak memory of gen sample -n {n} ...")
        out = work / f"samples-{n}"
        out.mkdir()
        seconds, peak, anon = peak_run(
            [
                *("sample", "--checkpoint", ckpt / "mem-sample", "--out", out / "s.mid"),
                *("-n", n, "--length", "10", "--no-report", "--seed", "1"),
            ],
            env,
        )
        rows.append(
            {
                "outputs": n,
                "files": sum(1 for _ in out.iterdir()),  # what it wrote, to hold it to N
                "seconds": seconds,
                "peak_mb": peak / 1e6,
                "anon_mb": anon / 1e6,
            }
        )
    rows[1]["ratio_to_small"] = rows[1]["anon_mb"] / rows[0]["anon_mb"]
    return rows
