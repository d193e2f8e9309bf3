"""Speed benchmark: training, sampling, encoding, start-up and memory, each against baselines
measured in the same run.

    pip install -e '.[bench]'            # adds PyTorch for its rows (skipped if absent)
    python benchmarks/run.py             # about 17 minutes on 2 CPU cores
    python benchmarks/run.py --quick     # small sizes, a minute: checks that it all runs
    python benchmarks/run.py --only train,sample --json out.json

It prints one table per section and writes everything, with a description of the machine, as
JSON (default benchmarks/results/<date>-<host>.json). Every figure is the fastest of several
rounds, and the contenders of a section run in turn within each round, so a busy machine slows
them alike. Ratios are gen's figure over the baseline's: above 1 is gen faster. The sections
live beside this script: common.py, baselines.py, training.py, sampling.py, encoding.py,
startup.py and memory.py.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `benchmarks` as a package, whatever the working folder

from benchmarks import encoding, memory, sampling, startup, training  # noqa: E402
from benchmarks.baselines import keras_worker, torch_worker  # noqa: E402
from benchmarks.common import (  # noqa: E402
    BATCH,
    SEQ,
    VOCAB,
    Worker,
    log,
    machine,
    matmul_peak,
    matmul_peak_worker,
    table,
)

SIZES = [(2, 256), (3, 512)]  # (layers, units)

# (section, JSON key, table title, columns: (key, heading, format))
SECTIONS = [
    ("train", "training", f"Training, batch {BATCH}, sequence {SEQ}, vocabulary {VOCAB}", [
        ("size", "size", ""), ("trainer", "trainer", ""), ("tokens_per_s", "tokens/s", ",.0f"),
        ("gflops", "GFLOP/s", ".0f"), ("peak_share", "of matmul peak", ".0%"),
        ("gen_ratio", "gen / this", ".2f"),
    ]),
    ("sample", "sampling", "Sampling (temperature 1, no top-k/top-p unless named)", [
        ("size", "size", ""), ("sampler", "sampler", ""), ("streams", "streams", "d"),
        ("tokens_per_s", "tokens/s", ",.0f"),
        ("gen_1_stream_ratio", "gen 1 stream / this", ".2f"),
    ]),
    ("encode", "encoding", "Encoding MIDI (worker processes on all cores; token cache)", [
        ("corpus", "corpus", ""), ("run", "run", ""), ("files", "files", "d"),
        ("events", "events", ",d"), ("seconds", "s", ".2f"), ("files_per_s", "files/s", ",.0f"),
        ("events_per_s", "events/s", ",.0f"),
    ]),
    ("startup", "startup", "Start-up (fastest wall time)", [
        ("command", "command", ""), ("seconds", "s", ".2f"),
    ]),
    ("memory", "memory", "Peak memory of gen train --cache (1 x 64, 20 steps)", [
        ("tokens_m", "corpus, M tokens", ".2f"), ("encode_s", "gen encode s", ".1f"),
        ("peak_mb", "peak RSS MB", ".0f"), ("anon_mb", "peak own MB", ".0f"),
        ("ratio_to_small", "own x small", ".2f"),
    ]),
    ("memory", "memory_sample", "Peak memory of gen sample (1 x 64, 10 tokens per output)", [
        ("outputs", "outputs", ",d"), ("seconds", "s", ".1f"), ("peak_mb", "peak RSS MB", ".0f"),
        ("anon_mb", "peak own MB", ".0f"), ("ratio_to_small", "own x small", ".2f"),
    ]),
]  # fmt: skip


def parse_args() -> argparse.Namespace:
    """The options, and the sizes they imply (`--quick`: small ones, to check that it runs)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: check that it runs")
    parser.add_argument("--only", default="train,sample,encode,startup,memory")
    parser.add_argument("--json", type=Path, help="where to write the results")
    parser.add_argument("--repeats", type=int, help="rounds per figure (default 5, quick 2)")
    args = parser.parse_args()
    args.sizes = [(1, 32)] if args.quick else SIZES
    args.repeats = args.repeats or (2 if args.quick else 5)
    args.train_steps = 2 if args.quick else 4
    args.sample_tokens = 50 if args.quick else 1000
    args.window_tokens = 3 if args.quick else 20
    args.chorales = 8 if args.quick else None
    args.synthetic_files = 20 if args.quick else 300
    args.mem_tokens = 20_000 if args.quick else 1_000_000  # characters per unit of text
    args.mem_scale = 5 if args.quick else 50
    args.mem_midi_files = 8  # the tiny model that `gen sample` loads
    args.sample_outputs = (16, 2_000 if args.quick else 100_000)  # gen sample -n, few and many
    return args


def run_section(key: str, tf, args, work: Path, env: dict) -> list[dict]:
    """The rows of the table under `key` in the JSON."""
    if key == "training":
        return training.bench_training(tf, args)
    if key == "sampling":
        return sampling.bench_sampling(tf, args)
    if key == "encoding":
        return encoding.bench_encoding(args, work)
    if key == "startup":
        return startup.bench_startup(args, work, env)
    if key == "memory":
        return memory.bench_memory(args, work, env)
    return memory.bench_sample_memory(args, work, env)


def machine_line(info: dict, peak: float) -> str:
    """The report's first line: what the figures were measured on."""
    return (
        f"machine: {info['cores']} cores, {info['cpu']}, TensorFlow {info['tensorflow']}, "
        f"Keras {info['keras']}, PyTorch {info['torch'] or 'not installed'}, "
        f"GPU {info['gpu'] or 'none'}; TensorFlow threads per op in gen's process: "
        f"{info['tf_threads_per_op']}; float32 matmul peak {peak:.0f} GFLOP/s\n"
    )


def main() -> None:
    args = parse_args()
    sections = set(args.only.split(","))

    from generator.tf_setup import import_tensorflow

    tf = import_tensorflow()
    info = machine(tf)
    args.peak = matmul_peak(512 if args.quick else 2048)
    info["matmul_peak_gflops"] = args.peak
    results = {"machine": info}
    report = [machine_line(info, args.peak)]
    args.torch = Worker("--torch-worker", "torch") if sections & {"train", "sample"} else None
    args.keras = (
        Worker("--keras-worker", "keras", {"TF_NUM_INTRAOP_THREADS": "0"})
        if sections & {"train", "sample"}
        else None
    )
    with tempfile.TemporaryDirectory(prefix="gen-bench-") as tmp:
        env = dict(os.environ)
        for name, key, title, columns in SECTIONS:
            if name in sections:
                results[key] = run_section(key, tf, args, Path(tmp), env)
                report.append(table(title, results[key], columns))
    for worker in (args.torch, args.keras):
        if worker:
            worker.close()
    print("\n".join(report))
    target = args.json or ROOT / "benchmarks" / "results" / (
        time.strftime("%Y%m%d-%H%M") + f"-{platform.node() or 'host'}.json"
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(results, indent=1) + "\n")
    log(f"results in {target}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--torch-worker"]:
        torch_worker()
    elif sys.argv[1:] == ["--keras-worker"]:
        keras_worker()
    elif sys.argv[1:2] == ["--matmul-peak"]:
        matmul_peak_worker(int(sys.argv[2]))
    else:
        main()
