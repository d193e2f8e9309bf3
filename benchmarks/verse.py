"""Verse from a trained run: real words, syllables, metre, rhyme and copying, for each
`--words`.

    python benchmarks/verse.py checkpoints/RUN [--sonnets 20] [--seed 1] [--words real ...]
                               [--form sonnet] [--metre none]

For each `--words` setting, `gen sample --form FORM -n N --seed S` writes N poems; the table
gives the share of their words that are known (in the run's training corpus or the CMU
pronouncing dictionary, read as `gen` reads words; `man's` as `man`), the lines on their
syllable target and the rhyme pairs confirmed (from `gen sample`'s report), the lines that
scan in the form's metre (counted here, so also with `--metre none`), the copy rate, the
seconds per poem (the command's wall time, start-up included, over N) and the classifier
two-sample test of `gen evaluate --samples` (50 %: the poems cannot be told from held-out
verse; needs scikit-learn).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from generator.config import WORDS  # noqa: E402


def known_words(run: Path) -> frozenset[str]:
    """The words `--words real` allows for `run`: its corpus's and the dictionary's."""
    from generator.checkpoint import load_checkpoint
    from generator.sample import Sampler

    return Sampler(load_checkpoint(run)).known_words("real")


def percent(label: str, report: str) -> str:
    found = re.search(label + r".*?\((\d+) %\)", report)
    return f"{found.group(1)} %" if found else "-"


def scanning(texts: list[str], form: str) -> str:
    """The share of lines that scan in the form's metre, as `gen` judges them."""
    from generator.verse.forms import FORMS
    from generator.verse.metre import scans

    metre, feet = FORMS[form].metre, FORMS[form].feet
    if not metre:
        return "-"
    lines = [line for text in texts for line in text.splitlines() if line.strip()]
    ok = [scans(line, metre, feet[n % len(feet)]) for n, line in enumerate(lines)]
    return f"{100 * sum(ok) / max(1, len(ok)):.0f} %"


def classifier(run: Path, folder: Path) -> str:
    """`gen evaluate --samples`'s classifier figure for the poems in `folder`."""
    cmd = [sys.executable, "-m", "generator", "evaluate", "--checkpoint", str(run)]
    result = subprocess.run(cmd + ["--samples", str(folder), "--json"], capture_output=True)
    if result.returncode:
        sys.exit(result.stderr.decode())
    accuracy = json.loads(result.stdout).get("classifier")
    return "-" if accuracy is None else f"{100 * accuracy:.0f} %"


def measure(run: Path, words: str, args, known) -> dict:
    from generator.verse.lexicon import is_known
    from generator.verse.prosody import words as words_of

    out = Path(tempfile.mkdtemp(prefix="gen-verse-")) / "sonnet.txt"
    cmd = [sys.executable, "-m", "generator", "sample", "--checkpoint", str(run), "--out", str(out)]
    count = args.sonnets
    cmd += ["--form", args.form, "-n", str(count), "--seed", str(args.seed), "--words", words]
    cmd += ["--metre", args.metre] if args.metre else []
    start = time.time()
    result = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.time() - start
    if result.returncode:
        sys.exit(result.stderr)
    report = result.stdout + result.stderr
    texts = [f.read_text() for f in out.parent.glob("sonnet*.txt")]
    found = [w for text in texts for w in words_of(text)]
    real = [is_known(w, known) for w in found]  # man's: of man
    copy = re.search(r"copy rate: ([\d.]+) %", report)
    return {
        "words": words,
        "real": 100 * sum(real) / max(1, len(found)),
        "invented": sorted({w for w, ok in zip(found, real) if not ok})[:8],
        "syllables": percent("syllable target", report),
        "scan": scanning(texts, args.form),
        "classifier": classifier(run, out.parent),
        "rhymes": percent("CMU dictionary", report),
        "copy": f"{copy.group(1)} %" if copy else "-",
        "seconds": seconds / count,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a run folder of a verse model")
    parser.add_argument("--sonnets", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--words", nargs="+", choices=WORDS, default=WORDS, help="settings to run")
    parser.add_argument("--form", default="sonnet")
    parser.add_argument("--metre", help="gen sample --metre (default: the form's)")
    args = parser.parse_args()
    known = known_words(args.run)
    rows = [measure(args.run, w, args, known) for w in args.words]
    print("| --words | --metre | real words | lines on their syllables | lines that scan | "
          "rhymes confirmed | copy rate | s per poem | classifier | invented words (first 8) "
          "|")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    metre = args.metre or "the form's"
    for r in rows:
        invented = ", ".join(r["invented"]) or "-"
        print(f"| {r['words']} | {metre} | {r['real']:.2f} % | "
              f"{r['syllables']} | {r['scan']} | {r['rhymes']} | {r['copy']} | "
              f"{r['seconds']:.1f} | {r['classifier']} | {invented} |")  # fmt: skip


if __name__ == "__main__":
    main()
