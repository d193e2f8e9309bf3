"""Verse benchmark: train on the sonnet corpus's train split, report bits per character on its
test split, then write 20 sonnets with `--form sonnet` and report metre, rhyme and copying.

    python benchmarks/sonnets.py                 # about 11 minutes on 2 CPU cores
    python benchmarks/sonnets.py --epochs 1      # a quick look

The corpus (../shared/data/sonnets) has one sonnet per line, word-tokenised and lower-cased,
verse lines ended by `<eos>`. It is turned into verse first: a line per `<eos>`, a blank line
between sonnets, and the tokeniser's spaces before punctuation and clitics removed. Bits per
character are measured on that verse text.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "sonnets"


def to_verse(line: str) -> str:
    """One corpus line -> one sonnet as verse lines."""
    text = re.sub(r" ([,.;:!?)’”]|'s|'d|'ll|'re|'ve|n't)(?= |$)", r"\1", line.strip())
    text = re.sub(r"([(‘“]) ", r"\1", text)
    verses = [v.strip() for v in text.split("<eos>") if v.strip()]
    return "\n".join(verses) + "\n"


def prepare(work: Path) -> dict[str, Path]:
    """Verse versions of the train, valid and test splits."""
    out = {}
    for split in ("train", "valid", "test"):
        sonnets = (DATA / f"{split}.txt").read_text(encoding="utf-8").splitlines()
        target = work / split / f"{split}.txt"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("\n".join(to_verse(s) for s in sonnets if s.strip()), "utf-8")
        out[split] = target
    return out


def gen(*args: str) -> str:
    """Run the `gen` CLI and return its output (echoed as it comes)."""
    cmd = [sys.executable, "-m", "generator", *map(str, args)]
    print("$ gen " + " ".join(map(str, args)), flush=True)
    result = subprocess.run(cmd, capture_output=True, text=True)
    print(result.stdout + result.stderr, flush=True)
    if result.returncode:
        sys.exit(f"gen failed with status {result.returncode}")
    return result.stdout + result.stderr


def percent(pattern: str, text: str) -> float | None:
    """The percentage printed after a report label."""
    found = re.search(pattern + r".*?\((\d+) %\)", text)
    return float(found.group(1)) if found else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/gen-sonnets"))
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--learning-rate", type=float, default=1e-2)
    parser.add_argument("--max-minutes", type=float, help="training budget (gen train's)")
    parser.add_argument("--sonnets", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"the sonnet corpus is not at {DATA}")
    splits = prepare(args.work)
    run = f"sonnets-{time.strftime('%Y%m%d-%H%M%S')}"
    start = time.time()
    gen(
        "train",
        "--corpus",
        "text",
        "--path",
        splits["train"],
        "--val-path",
        splits["valid"],
        "--checkpoint-dir",
        args.work / "checkpoints",
        "--run",
        run,
        "--epochs",
        args.epochs,
        "--units",
        args.units,
        "--layers",
        args.layers,
        "--dropout",
        args.dropout,
        "--batch-size",
        args.batch_size,
        "--learning-rate",
        args.learning_rate,
        *(["--max-minutes", args.max_minutes] if args.max_minutes else []),
    )
    train_minutes = (time.time() - start) / 60
    ckpt = args.work / "checkpoints" / run

    from generator.checkpoint import load_checkpoint
    from generator.evaluate import held_out_loss

    test = held_out_loss(load_checkpoint(ckpt), splits["test"], log=lambda _: None)
    out = args.work / f"{run}.txt"
    start = time.time()
    report = gen(
        "sample",
        "--checkpoint",
        ckpt,
        "--form",
        "sonnet",
        "-n",
        args.sonnets,
        "--seed",
        args.seed,
        "--out",
        out,
        "--force",
    )
    sample_seconds = time.time() - start
    copy = re.search(r"copy rate: ([\d.]+) %", report)
    figures = {
        "train_minutes": round(train_minutes, 1),
        "test_bits_per_character": round(test["bits_per_character"], 4),
        "test_nats_per_character": round(test["nats_per_character"], 4),
        "lines_on_10_syllables_percent": percent("syllable target", report),
        "rhyme_pairs_confirmed_percent": percent("CMU dictionary", report),
        "copy_rate_percent": float(copy.group(1)) if copy else None,
        "sonnets": args.sonnets,
        "settings": {k: v for k, v in vars(args).items() if k not in ("work",)},
        "sample_seconds": round(sample_seconds, 1),
        "checkpoint": str(ckpt),
    }
    print(json.dumps(figures, indent=2))
    (args.work / f"{run}.json").write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
