"""Every number a user can type: out of range, NaN or infinite, it is one `Error:` line naming
the valid range, exit status 1, before any model is built or file written; a large value that
is legitimate works in bounded memory; an out-of-memory is one line and the process ends.

Each refused case runs `gen` in a process of its own under a time limit, which would count a
hang as a failure (it is not a speed target)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run, scale_corpus, tiny

from generator import budget
from generator.config import TrainConfig

HANG = 120  # seconds after which a case that should be refused at once counts as hung

TRAIN = [  # option, absurd value, what the one line says
    ("--layers", 0, "layers must be in [1, 64], got 0"),
    ("--layers", 10**9, "layers must be in [1, 64], got 1000000000"),
    ("--units", -1, "units must be in [1, 65,536], got -1"),
    ("--units", 10**9, "units must be in [1, 65,536]"),
    ("--embed-dim", 0, "embed-dim must be in [1, 65,536], got 0"),
    ("--dropout", "nan", "dropout must be in [0, 0.99], got nan"),
    ("--dropout", 1, "dropout must be in [0, 0.99], got 1.0"),
    ("--seq-len", 0, "seq-len must be in [1, 1,000,000], got 0"),
    ("--seq-len", 10**9, "seq-len must be in [1, 1,000,000]"),
    ("--batch-size", 0, "batch-size must be in [1, 1,000,000], got 0"),
    ("--batch-size", -5, "batch-size must be in [1, 1,000,000], got -5"),
    ("--epochs", 10**9, "epochs must be in [1, 1,000,000]"),
    ("--learning-rate", 0, "learning-rate must be in (0, 1], got 0.0"),
    ("--learning-rate", "inf", "learning-rate must be in (0, 1], got inf"),
    ("--learning-rate", "nan", "learning-rate must be in (0, 1], got nan"),
    ("--warmup-steps", -1, "warmup-steps must be in [0, 1,000,000,000], got -1"),
    ("--ema", 1, "ema must be in [0, 0.9999], got 1.0"),
    ("--ema", "nan", "ema must be in [0, 0.9999], got nan"),
    ("--adam-beta2", 1, "adam-beta2 must be in [0, 0.99999], got 1.0"),
    ("--adam-beta2", -0.5, "adam-beta2 must be in [0, 0.99999], got -0.5"),
    ("--weight-decay", 2, "weight-decay must be in [0, 1], got 2.0"),
    ("--weight-decay", "nan", "weight-decay must be in [0, 1], got nan"),
    ("--val-fraction", 1, "val-fraction must be in [0, 0.99], got 1.0"),
    ("--val-fraction", -0.1, "val-fraction must be in [0, 0.99], got -0.1"),
    ("--max-minutes", -1, "max-minutes must be in [0, 10,000,000], got -1.0"),
    ("--max-minutes", "nan", "max-minutes must be in [0, 10,000,000], got nan"),
    ("--epoch-steps", 0, "epoch-steps must be in [1, 1,000,000,000], got 0"),
    ("--save-minutes", "-inf", "save-minutes must be in [0, 10,000,000], got -inf"),
    ("--seed", -1, "seed must be in [0, 2,147,483,647], got -1"),
    ("--seed", 2**40, "seed must be in [0, 2,147,483,647]"),
]
SAMPLE = [
    ("--temperature", 0, "temperature must be in (0, 100], got 0.0"),
    ("--temperature", "nan", "temperature must be in (0, 100], got nan"),
    ("--temperature", 1e9, "temperature must be in (0, 100]"),
    ("--top-k", -1, "top-k must be in [0, 1,000,000], got -1"),
    ("--top-k", 10**12, "top-k must be in [0, 1,000,000]"),
    ("--top-p", 0, "top-p must be in (0, 1], got 0.0"),
    ("--top-p", "nan", "top-p must be in (0, 1], got nan"),
    ("--key-bias", -1, "key-bias must be in [0, 100], got -1.0"),
    ("--key-bias", "nan", "key-bias must be in [0, 100], got nan"),
    ("--seed", 2**31, "seed must be in [0, 2,147,483,647], got 2147483648"),
    ("--length", 0, "length must be in [1, 10,000,000], got 0"),
    ("--length", 10**9, "length must be in [1, 10,000,000]"),
    ("--seconds", 0, "seconds must be in (0, 86,400], got 0.0"),
    ("--seconds", "inf", "seconds must be in (0, 86,400], got inf"),
    ("--seconds", -3, "seconds must be in (0, 86,400], got -3.0"),
    ("--lines", 0, "lines must be in [1, 100,000], got 0"),
    ("--lines", 10**9, "lines must be in [1, 100,000]"),
    ("--stanzas", -2, "stanzas must be in [1, 10,000], got -2"),
    ("--syllables", "0", "syllables must be in [1, 100], got '0'"),
    ("--syllables", "8,8,5000", "syllables must be in [1, 100], got '8,8,5000'"),
    ("--num-outputs", 0, "num-outputs must be in [1, 1,000,000], got 0"),
    ("--num-outputs", 10**9, "num-outputs must be in [1, 1,000,000]"),
]
OTHER = [
    (["encode", "--out", "s", "--shard-files", 0], "shard-files must be in [1, 1,000,000]"),
    (["encode", "--out", "s", "--processes", 10**6], "processes must be in [1, 1,024]"),
    (["encode", "--out", "s", "--part", "3/2"], "--part 3/2: I must be in [1, N]"),
    (["encode", "--out", "s", "--part", "1/0"], "part's N must be in [1, 100,000], got 0"),
    (["evaluate", "--ngram-order", 0], "ngram-order must be in [1, 10], got 0"),
    (["evaluate", "--ngram-order", 10**9], "ngram-order must be in [1, 10]"),
]
CASES = (
    [(["train", option, value], message) for option, value, message in TRAIN]
    + [(["sample", "--out", "x.mid", option, value], message) for option, value, message in SAMPLE]
    + OTHER
)


@pytest.mark.parametrize("args, message", CASES, ids=[" ".join(map(str, a)) for a, _ in CASES])
def test_an_absurd_number_is_one_line_and_exit_1_before_any_work(args, message, isolated):
    done = subprocess.run(
        [sys.executable, "-m", "generator", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=HANG,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines() == [f"Error: {message}"] or (
        done.stderr.startswith(f"Error: {message}") and done.stderr.count("\n") == 1
    ), done.stderr
    assert done.stdout == ""
    assert list(Path(isolated).iterdir()) == []  # no run folder, no output, no store
    assert not (Path(isolated).parent / "cache").exists()  # not even the corpus cache


def test_a_batch_larger_than_the_corpus_is_clipped_and_trains(tmp_path):
    corpus = scale_corpus(tmp_path / "midi", files=4)
    args = ("train", "--path", corpus, "--run", "big", *tiny(epochs=1))
    result = run(*args, "--batch-size", 1_000_000)
    assert result.exit_code == 0, result.output
    assert "batch-size 1,000,000 is more than the " in result.output
    assert "training with batches of " in result.output


@pytest.mark.parametrize(
    "tokens, epochs", [(1_000_000, 17), (263_501, 17), (68_467, 65), (164, 250)]
)
def test_epochs_not_given_are_chosen_for_the_corpus_size(tokens, epochs):
    said = []
    chosen = budget.fit_epochs(TrainConfig(), 35, tokens, said.append)
    assert chosen.epochs == epochs
    assert said == [
        f"{epochs} epochs of 35 steps, chosen for {tokens:,} training tokens (at least 17 "
        "epochs and 4,400,000 tokens in all); --epochs sets them"
    ]
    assert budget.fit_epochs(TrainConfig(epochs=3), 35, tokens, said.append).epochs == 3


def test_a_small_corpus_trains_for_more_epochs_and_says_so(tmp_path):
    corpus = scale_corpus(tmp_path / "midi", files=4)
    root = tmp_path / "checkpoints"
    args = ("--path", corpus, "--checkpoint-dir", root, "--run", "small")
    result = run("train", *args, *tiny(epochs=None), "--max-minutes", 0)  # one epoch, then stop
    assert result.exit_code == 0, result.output
    epochs, steps = map(
        int, re.search(r"(\d+) epochs of (\d+) steps, chosen", result.output).groups()
    )
    assert (epochs, steps) == (250, 1)  # 7 windows: one step an epoch, and the most epochs
    assert "model: 1 x 16 LSTM, embedding 8, dropout 0.0, vocabulary " in result.output
    assert "parameters (as given)" in result.output
    info = json.loads(run("info", root / "small", "--json").output)
    assert info["epochs_planned"] == epochs and info["epochs"] == 1


def test_the_default_shape_is_said_with_the_options_that_change_it():
    from generator.train import _shape_source

    assert _shape_source({}, None) == (
        "the default, for any corpus size; --layers, --units, --embed-dim, --dropout change it"
    )


def test_a_model_too_big_for_the_memory_is_refused_with_its_estimate(tmp_path):
    corpus = scale_corpus(tmp_path / "midi", files=2)
    result = run("train", "--path", corpus, "--units", 60_000, "--embed-dim", 60_000)
    assert result.exit_code == 1
    line = result.output.strip().splitlines()[-1]
    assert line.startswith("Error: training would need about ") and " GB of memory (" in line
    assert "parameters and their optimiser state" in line and "GB available; lower " in line
    assert not Path("checkpoints").exists()  # refused before any run folder


OOM_TRAIN = """
import sys
import tensorflow as tf
from generator import fitting

compile_model = fitting.compile_model


def failing(model, config, total_steps, *more):
    compile_model(model, config, total_steps, *more)
    loss = model.loss

    def out_of_memory_late(y, logits):  # from step 6: a tensor of 4 TB, which cannot be had
        late = model.optimizer.iterations >= 6
        size = tf.where(late, 2**20, 1)
        huge = tf.reduce_sum(tf.fill(tf.stack([size, size]), 1.0))
        return loss(y, logits) + 0.0 * huge

    model.compile(optimizer=model.optimizer, loss=out_of_memory_late)


fitting.compile_model = failing
from generator.cli import main
main()
"""


def test_out_of_memory_in_training_is_one_line_ends_and_keeps_the_checkpoint(tmp_path):
    from generator.checkpoint import load_checkpoint

    corpus = scale_corpus(tmp_path / "midi", files=6)
    args = ["train", "--path", corpus, "--run", "oom", *tiny(epochs=3, epoch_steps=4)]
    done = subprocess.run(
        [sys.executable, "-c", OOM_TRAIN, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=HANG,  # the process ends: before the fix it could wait for ever
    )
    assert done.returncode == 1, done.stderr[-3000:]
    last = done.stderr.strip().splitlines()[-1]
    assert (
        last.startswith("Error: out of memory at epoch 2, step ") and "Traceback" not in done.stderr
    )
    assert "lower --batch-size (or --seq-len, --units)" in last
    assert "the checkpoint in 'checkpoints/oom' is as it was" in last
    ckpt = load_checkpoint(Path("checkpoints/oom"))
    assert ckpt.metrics().epochs == 1 and ckpt.load_model() is not None  # epoch 1 still loads


OOM_SAMPLE = """
import tensorflow as tf
from generator import sample

draw = sample.Sampler.draw
calls = []


def failing(self, primer, config, *args, **kwargs):
    calls.append(primer.shape[0])
    if len(calls) > 1:  # the second batch of outputs runs out of memory
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")
    return draw(self, primer, config, *args, **kwargs)


sample.Sampler.draw = failing
from generator.cli import main
main()
"""


def test_out_of_memory_in_sampling_is_one_line_and_ends(tmp_path):
    corpus = scale_corpus(tmp_path / "midi", files=6)
    assert run("train", "--path", corpus, "--run", "m", *tiny(epochs=1)).exit_code == 0
    args = ["sample", "--checkpoint", "checkpoints/m", "--out", tmp_path / "s.mid"]
    done = subprocess.run(
        [sys.executable, "-c", OOM_SAMPLE, *map(str, [*args, "-n", 70, "--length", 20])],
        capture_output=True,
        text=True,
        timeout=HANG,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "Error: out of memory after 64 of 70 outputs; lower --length (now 20) or -n; the "
        "outputs written are complete"
    )
    assert len(list(tmp_path.glob("s-*.mid"))) == 64  # the first batch of 64, each whole
