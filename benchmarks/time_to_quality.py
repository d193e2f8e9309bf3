"""Time to a good model: `gen train` with today's settings and with others, one after the other
on the same machine, and how long each took to reach a validation loss.

    python benchmarks/time_to_quality.py                       # the chorales: defaults vs old
    python benchmarks/time_to_quality.py --setting "b16: --batch-size 16 --epochs 18"
    python benchmarks/time_to_quality.py --target 1.47

Every setting trains `gen train --corpus midi --seed 0` (the default split: 41 chorales held
out) plus its own options, in a process of its own. The table gives each run's best validation
loss, its training time, and the epoch and time at which its validation loss first reached the
target (default: the first setting's best). `--corpus` and `--path` train on something else.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# the settings of the first command before and after this benchmark chose them (the initial
# embeddings, not a setting, are today's in both)
SETTINGS = [
    "before: --batch-size 32 --epochs 36 --lr-floor 0.05 --seq-len 128 --ema 0 --adam-beta2 0.999"
    " --weight-decay 0 --warmup-steps 100",
    "default:",
]


def train(work: Path, label: str, options: list[str], corpus: list[str]) -> dict:
    """Run `gen train` and return its history with the command's wall time."""
    run = work / label
    shutil.rmtree(run, ignore_errors=True)  # a run of the same label from before
    start = time.time()
    subprocess.run(
        [sys.executable, "-m", "generator", "train", *corpus, "--seed", "0",
         "--checkpoint-dir", str(work), "--run", label, *options],
        check=True,
    )  # fmt: skip
    metrics = json.loads((run / "metrics.json").read_text())
    return {"label": label, "options": options, "wall_s": time.time() - start, **metrics}


def reached(history: list[dict], target: float) -> tuple[int, float] | None:
    """(epoch, seconds of training) at which the validation loss first was at most `target`."""
    for entry in history:
        if entry["val_loss"] <= target:
            return entry["epoch"], entry["seconds"]
    return None


def table(results: list[dict], target: float, unit: str) -> str:
    rows = [
        f"| setting | options | best {unit} | epochs | training s | command s | "
        f"first <= {target:.4f}: epoch, s |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        hit = reached(r["history"], target)
        rows.append(
            f"| {r['label']} | `{' '.join(r['options']) or '(defaults)'}` | "
            f"{r['best_val_loss']:.4f} (epoch {r['best_epoch']}) | {len(r['history'])} | "
            f"{r['train_seconds']:.0f} | {r['wall_s']:.0f} | "
            + (f"{hit[0]}, {hit[1]:.0f} |" if hit else "not reached |")
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--setting",
        action="append",
        help='"label: gen train options"; repeat for several (default: before and after)',
    )
    parser.add_argument("--target", type=float, help="default: the first setting's best")
    parser.add_argument("--corpus", default="midi")
    parser.add_argument("--path", help="files to train on (default: the plugin's corpus)")
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "work" / "ttq")
    parser.add_argument("--json", type=Path, help="where to write the results")
    args = parser.parse_args()
    corpus = ["--corpus", args.corpus] + (["--path", args.path] if args.path else [])
    results = []
    for setting in args.setting or SETTINGS:
        label, _, options = setting.partition(":")
        results.append(train(args.work, label.strip(), shlex.split(options), corpus))
    target = args.target if args.target is not None else results[0]["best_val_loss"]
    print(table(results, target, results[0]["loss_unit"]))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
