"""Quality benchmark: train for a fixed budget on the CPU, report held-out loss next to the
n-gram baselines of `gen evaluate`.

    python benchmarks/quality.py shakespeare   # ../shared/data/tinyshakespeare.txt, 15 min
    python benchmarks/quality.py chorales      # the Bach chorales, default settings, ~6 min
    python benchmarks/quality.py sonnets       # see benchmarks/sonnets.py (metre and rhyme too)

shakespeare: the first 90 % of the file's characters are trained on, the last 10 % held out
(the split of the published figures: 1.4697 nats/char for a 10.7M-parameter transformer after
3 minutes on an A100, which reads windows of 256). Its best weights are also scored in windows
of 128 and 256 from a zero state, and with the state carried through the whole held-out text
(how char-rnn scores, and how `gen sample` reads). chorales: `gen train --corpus midi` as a
user runs it; the held-out chorales are the default split (seed 0, 10 % of the 410 files),
listed in the run's corpus.json. Each prints `gen evaluate`'s report and writes its JSON
beside the checkpoint.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"

# 15 minutes on 2 cores: the model size, epochs and weight decay, chosen by measurement
# (BENCHMARKS.md); the best epoch's weights are kept, whichever epoch the budget stops at
SHAKESPEARE = [
    "--layers", "2", "--units", "384", "--embed-dim", "64", "--dropout", "0.1",
    "--seq-len", "128", "--batch-size", "64", "--learning-rate", "0.008", "--lr-floor", "0.05",
    "--weight-decay", "0.3", "--epochs", "13", "--max-minutes", "15",
]  # fmt: skip


def gen(*args) -> None:
    subprocess.run([sys.executable, "-m", "generator", *map(str, args)], check=True)


def evaluate(run_dir: Path, extra=()) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "generator", "evaluate", "--checkpoint", str(run_dir), "--json",
         *extra],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    result = json.loads(out.stdout)
    (run_dir / "evaluation.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


def context_scores(run_dir: Path, valid: Path) -> dict:
    """The run's best weights on the held-out text: nats per character in windows of 128 and
    256 from a zero state, and with the state carried through the whole text."""
    import numpy as np

    from generator import checkpoint as ckpt_io
    from generator.context import compile_token_scorer
    from generator.evaluate import files_ids, model_nats
    from generator.model import StepModel

    ckpt = ckpt_io.load_checkpoint(run_dir)
    stream = files_ids(ckpt, ckpt_io.plugin_of(ckpt), valid, lambda *a, **k: None)
    found = {f"windows_{n}": model_nats(ckpt, stream, "best", n)[0] for n in (128, 256)}
    ids = np.asarray(stream.array(), np.int32)[None, :]
    step = StepModel(ckpt.load_model("best"), ckpt.model_config)
    log_probs = compile_token_scorer(step)(ids).numpy()
    return found | {"carried": float(-log_probs.mean())}


def run_name(corpus: str) -> str:
    return f"{corpus}-{time.strftime('%Y%m%d-%H%M%S')}"


def shakespeare(work: Path) -> dict:
    source = SHARED / "tinyshakespeare.txt"
    if not source.exists():
        sys.exit(f"{source} is missing")
    text = source.read_text(encoding="utf-8")
    cut = int(len(text) * 0.9)
    (work / "train").mkdir(parents=True, exist_ok=True)
    (work / "valid").mkdir(parents=True, exist_ok=True)
    (work / "train" / "train.txt").write_text(text[:cut], encoding="utf-8")
    (work / "valid" / "valid.txt").write_text(text[cut:], encoding="utf-8")
    start, run = time.time(), run_name("shakespeare")
    gen("train", "--corpus", "text", "--path", work / "train", "--val-path", work / "valid",
        "--checkpoint-dir", work / "checkpoints", "--run", run, *SHAKESPEARE)  # fmt: skip
    minutes = (time.time() - start) / 60
    result = evaluate(work / "checkpoints" / run, ["--path", work / "valid"])
    result["wall_minutes"] = minutes
    result["scored"] = context_scores(work / "checkpoints" / run, work / "valid")
    return result


def chorales(work: Path) -> dict:
    start, run = time.time(), run_name("chorales")
    gen("train", "--corpus", "midi", "--checkpoint-dir", work / "checkpoints", "--run", run)
    minutes = (time.time() - start) / 60
    result = evaluate(work / "checkpoints" / run)
    result["wall_minutes"] = minutes
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", choices=["shakespeare", "chorales", "sonnets"])
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "work")
    args = parser.parse_args()
    if args.corpus == "sonnets":
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "sonnets.py")], check=True)
        return
    work = args.work / args.corpus
    result = {"shakespeare": shakespeare, "chorales": chorales}[args.corpus](work)
    unit = "char" if args.corpus == "shakespeare" else "event"
    key = "nats_per_character" if unit == "char" else "nats_per_event"
    best = result["ngram"][str(result["best_ngram_order"])]
    print(
        f"{args.corpus}: {result[key]:.4f} nats/{unit} held out after "
        f"{result['wall_minutes']:.1f} min; best n-gram (order {result['best_ngram_order']}) "
        f"{best:.4f}; {100 * result['below_best_ngram']:.1f} % below it"
    )
    if "scored" in result:
        print("  ".join(f"{k.replace('_', ' of ')}: {v:.4f}" for k, v in result["scored"].items()))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
