"""Training survives faults: exact resume after kill -9, signals, a non-finite loss, a full disk,
and fine-tuning from another run."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from types import SimpleNamespace

import h5py
import numpy as np
import pytest
from conftest import run, scale_corpus, tiny

from generator import checkpoint, data, fitting, resume_file, runs
from generator.errors import GenError

STEPS = 12  # training steps per epoch in these tests
TINY = tiny(dropout=0.1, epoch_steps=STEPS, epochs=3)


def start_gen(*args) -> subprocess.Popen:
    """`gen` in a process of its own (same cache and working folder as the test)."""
    return subprocess.Popen(
        [sys.executable, "-m", "generator", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for(proc, run_dir, step, timeout=120) -> dict:
    """Poll the run's resume.h5 until it has reached `step`; its state."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"gen ended early ({proc.returncode}): {proc.stdout.read()}")
        try:
            state = resume_file.resume_state(run_dir)
            if state["step"] >= step:
                return state
        except (GenError, OSError, KeyError):  # not written yet, or being replaced
            pass
        time.sleep(0.01)
    proc.kill()
    pytest.fail(f"no checkpoint at step {step} within {timeout} s")


def history(run_dir):
    return json.loads((run_dir / checkpoint.METRICS).read_text())["history"]


def weights(run_dir, which="last"):
    return checkpoint.load_checkpoint(run_dir).load_model(which).get_weights()


@pytest.fixture
def corpus(tmp_path):
    return scale_corpus(tmp_path / "midi", files=6)


def test_batches_are_a_function_of_the_step():
    stream = np.arange(500, dtype=np.int32)
    maps = np.array([np.arange(500), np.arange(500)[::-1]], dtype=np.int32)
    batches = data.WindowBatches(stream, 16, 5, maps, seed=1)
    it = iter(batches)
    whole = [next(it)[0] for _ in range(30)]
    assert {w.shape for w in whole} == {(5, 16)}  # passes run on: every batch is full
    for step in (1, 6, 7, 19):
        it = batches.from_step(step)
        assert all((next(it)[0] == w).all() for w in whole[step:])


def test_training_data_is_not_autotuned(corpus, monkeypatch):
    """`fit` is given a dataset without tf.data's autotuning, whose thread can hold up the end
    of `fit` until its next wake-up, which comes up to a minute apart
    (`fitting.without_autotune`)."""
    import keras

    seen, fit = [], keras.Model.fit

    def recording(self, x=None, *args, **kwargs):
        seen.append(x.options().autotune.enabled)
        return fit(self, x, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", recording)
    result = run("train", "--path", corpus, "--run", "plain", *TINY, "--epochs", 1)
    assert result.exit_code == 0, result.output
    assert seen == [False]


def test_resume_after_kill_9_mid_epoch_matches_an_uninterrupted_run(corpus):
    assert run("train", "--path", corpus, "--run", "whole", *TINY).exit_code == 0
    proc = start_gen("train", "--path", corpus, "--run", "cut", "--save-minutes", 0, *TINY)
    run_dir = corpus.parent / "work" / "checkpoints" / "cut"
    wait_for(proc, run_dir, STEPS + 4)  # in epoch 2: saved after every step
    proc.kill()  # SIGKILL: no handler runs, the process may be in the middle of a write
    proc.wait()
    saved = resume_file.resume_state(run_dir)
    assert STEPS < saved["step"] < 3 * STEPS and saved["epoch"] >= 1
    (run_dir / f".resume.tmp{proc.pid}.h5").write_bytes(b"half a file")  # as a kill leaves it
    result = run("train", "--resume", run_dir)
    assert result.exit_code == 0, result.output
    assert f"at epoch 2 of 3, step {saved['step']}\n" in result.output
    whole_dir = run_dir.parent / "whole"
    for a, b in zip(history(whole_dir), history(run_dir), strict=True):
        assert a["epoch"] == b["epoch"]
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-5)
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-4)  # pieced together over a restart
    for a, b in zip(weights(whole_dir), weights(run_dir), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert f"removed .resume.tmp{proc.pid}.h5" in result.output
    assert not list(run_dir.glob(".*tmp*"))  # writes the kill cut short are cleared away


@pytest.mark.parametrize(
    "signum, steps",
    [(signal.SIGINT, STEPS), (signal.SIGTERM, STEPS), (signal.SIGINT, 1)],
    ids=["SIGINT", "SIGTERM", "SIGINT-at-an-epoch-end"],
)
def test_a_signal_saves_and_says_how_to_resume(corpus, signum, steps):
    """With epochs of one step, every signal lands in an epoch's last step."""
    args = (
        "train",
        "--path",
        corpus,
        "--run",
        "sig",
        *TINY,
        "--epoch-steps",
        steps,
        "--epochs",
        1000,
    )
    proc = start_gen(*args)
    run_dir = corpus.parent / "work" / "checkpoints" / "sig"
    wait_for(proc, run_dir, 3 * steps)  # a few checkpoints in
    proc.send_signal(signum)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, output
    assert (
        f"Resume with: gen train --resume {run_dir.relative_to(corpus.parent / 'work')}" in output
    )
    assert "Traceback" not in output
    state = resume_file.resume_state(run_dir)
    stopped = json.loads((run_dir / checkpoint.METRICS).read_text())["stopped"]
    assert state["step"] >= 3 * steps and stopped.endswith(f"at step {state['step']}")
    assert state["step"] - state["epoch"] * steps < steps  # a consistent place to go on from
    # the run goes on from there; a spent time budget stops it after one more epoch
    result = run("train", "--resume", run_dir, "--max-minutes", 0)
    assert result.exit_code == 0, result.output
    assert f"resuming {run_dir} at epoch" in result.output
    assert resume_file.resume_state(run_dir)["epoch"] == state["epoch"] + 1


@pytest.mark.parametrize("poison", ["loss", "gradient"])
def test_a_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(corpus, monkeypatch, poison):
    """From step 16 the loss is NaN, or (saving after every step) the loss stays finite but
    its gradient is NaN, so the weights go bad first."""
    compile_model = fitting.compile_model

    def poisoned(model, config, total_steps, *more):
        import tensorflow as tf

        compile_model(model, config, total_steps, *more)
        loss = model.loss

        def nan_later(y, logits):
            value, late = loss(y, logits), model.optimizer.iterations >= STEPS + 3
            if poison == "loss":
                return tf.where(late, float("nan"), value)
            # late: + sqrt(0 * logits), which is 0, but whose gradient inf * 0 is NaN
            zero = tf.where(late, tf.reduce_sum(logits) * 0.0, 1.0)
            return value + tf.sqrt(zero) - tf.where(late, 0.0, 1.0)

        model.compile(optimizer=model.optimizer, loss=nan_later)

    monkeypatch.setattr(fitting, "compile_model", poisoned)
    every_step = ["--save-minutes", 0] if poison == "gradient" else []
    result = run("train", "--path", corpus, "--run", "nan", *TINY, *every_step)
    assert result.exit_code == 1
    run_dir = corpus.parent / "work" / "checkpoints" / "nan"
    if poison == "loss":
        assert "Error: the training loss became nan at epoch 2, step 16" in result.output
        assert "last good checkpoint (saved at epoch 1, step 12)" in result.output
        assert resume_file.resume_state(run_dir)["step"] == STEPS
    else:
        assert "Error: the weights became not finite at epoch 2, step 16" in result.output
        assert "last good checkpoint (saved at epoch 1, step 15)" in result.output
        assert resume_file.resume_state(run_dir)["step"] == STEPS + 3
    assert all(np.isfinite(w).all() for w in weights(run_dir))
    assert "was n" in json.loads((run_dir / "metrics.json").read_text())["stopped"]


def test_a_full_disk_is_one_line_and_the_previous_checkpoint_survives(corpus, monkeypatch):
    real = checkpoint.atomic_path
    writes = []

    @contextmanager
    def disk_fills(path):  # the second resume.h5 (end of epoch 2) hits a full disk
        writes.append(path.name)
        with real(path) as tmp:
            yield tmp
            if writes.count(resume_file.RESUME) == 2:
                raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint, "atomic_path", disk_fills)
    result = run("train", "--path", corpus, "--run", "full", *TINY)
    run_dir = corpus.parent / "work" / "checkpoints" / "full"
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        f"Error: cannot write '{run_dir.relative_to(corpus.parent / 'work')}/resume.h5': No space "
        "left on device; the previous checkpoint files in "
        f"'{run_dir.relative_to(corpus.parent / 'work')}' are intact"
    )
    assert resume_file.resume_state(run_dir)["epoch"] == 1
    assert not list(run_dir.glob(".*tmp*"))
    monkeypatch.setattr(checkpoint, "atomic_path", real)  # space again: the run goes on
    result = run("train", "--resume", run_dir)
    assert result.exit_code == 0 and "at epoch 2 of 3" in result.output
    assert [h["epoch"] for h in history(run_dir)] == [1, 2, 3]


def test_too_little_space_is_refused_before_training(corpus, monkeypatch):
    monkeypatch.setattr(runs.shutil, "disk_usage", lambda path: SimpleNamespace(free=1000))
    result = run("train", "--path", corpus, "--run", "small", *TINY)
    assert result.exit_code == 1 and "epoch 1" not in result.output
    assert "MB free for checkpoints" in result.output and "needs about" in result.output
    assert not (corpus.parent / "work" / "checkpoints" / "small").exists()


def test_an_unusable_checkpoint_folder_is_refused_before_training(corpus):
    (corpus.parent / "work" / "afile").write_text("")
    result = run("train", "--path", corpus, "--checkpoint-dir", "afile/runs", *TINY)
    assert result.exit_code == 1 and "cannot create checkpoint folder" in result.output


@pytest.fixture
def finished(corpus):
    """A finished tiny run, 'base'."""
    result = run("train", "--path", corpus, "--run", "base", *TINY, "--epochs", 1, "--json")
    assert result.exit_code == 0, result.output
    described = json.loads(result.stdout)  # --json: the run as `gen info --json` gives it
    assert described["epochs"] == described["epochs_planned"] == 1
    assert described["resumable"] is False and described["best_val_loss"] > 0
    return corpus.parent / "work" / "checkpoints" / "base"


def test_resume_refuses_what_it_cannot_do(finished):
    result = run("train", "--resume", finished)
    assert result.exit_code == 1 and "finished all 1 epochs; nothing to resume" in result.output
    assert "--init-from" in result.output
    result = run("train", "--resume", finished, "--units", 8, "--seed", 3)
    assert result.exit_code == 1
    assert "--units, --seed cannot be given with it" in result.output
    (finished / "resume.h5").unlink()
    result = run("train", "--resume", finished)
    assert result.exit_code == 1 and "has no resume.h5" in result.output


def test_init_from_fine_tunes_a_compatible_corpus(finished, tmp_path):
    other = scale_corpus(tmp_path / "other", files=3)
    args = ("--seq-len", 16, "--batch-size", 8, "--epochs", 1)
    result = run("train", "--path", other, "--run", "tuned", "--init-from", finished, *args)
    assert result.exit_code == 0, result.output
    assert "starting from the weights of" in result.output
    tuned = finished.parent / "tuned"
    config = json.loads((tuned / "config.json").read_text())
    assert config["model"] == json.loads((finished / "config.json").read_text())["model"]
    assert config["train"]["init_from"] == str(finished.resolve())
    result = run("train", "--path", other, "--init-from", finished, "--units", 8)
    assert result.exit_code == 1 and "drop --units" in result.output


def test_init_from_refuses_a_foreign_vocabulary(finished, tmp_path):
    (tmp_path / "poems.txt").write_text("roses are red\nviolets are blue\n" * 20)
    result = run(
        "train", "--corpus", "text", "--path", tmp_path / "poems.txt", "--init-from", finished
    )
    assert result.exit_code == 1
    assert f"the vocabulary of '{finished}' (midi, 451 tokens) lacks" in result.output
    assert "cannot be fine-tuned on it" in result.output


def test_a_damaged_or_busy_run_is_one_line(corpus):
    args = ("train", "--path", corpus, "--run", "cut", *TINY, "--epochs", 1000, "--max-minutes", 0)
    assert run(*args).exit_code == 0  # one epoch, then the time budget stops it
    run_dir = corpus.parent / "work" / "checkpoints" / "cut"
    resume_h5 = run_dir / resume_file.RESUME
    good = resume_h5.read_bytes()
    with resume_file.locked(run_dir):  # as if another gen were training it
        result = run("train", "--resume", run_dir)
    assert result.exit_code == 1 and f"is in use by another gen process (pid {os.getpid()})" in (
        result.output
    )
    with h5py.File(resume_h5, "r") as f:  # where the embedding's numbers lie in the file
        at = f["model/0000"].id.get_chunk_info(0).byte_offset  # checksummed chunks
    damaged = bytearray(good)
    damaged[at + 8 : at + 16] = b"\x7f" * 8  # bit rot inside an array
    resume_h5.write_bytes(bytes(damaged))
    result = run("train", "--resume", run_dir)
    assert result.exit_code == 1 and "resume.h5' is damaged" in result.output, result.output
    assert len(result.output.strip().splitlines()) <= 2  # the "resuming" line, then the error
    resume_h5.write_bytes(good)
    # a changed file: the run's token store still holds what it trained on, so resuming
    # stays exact; once that store is gone (a cleared cache), the change is refused
    (corpus / "piece0.mid").write_bytes((corpus / "piece1.mid").read_bytes()[:-30] + bytes(30))
    shutil.rmtree(json.loads((run_dir / "config.json").read_text())["train"]["store"])
    result = run("train", "--resume", run_dir)
    assert result.exit_code == 1
    assert "can no longer be read" in result.output or "files have changed" in result.output


def test_init_from_really_starts_from_the_weights(finished, tmp_path):
    other = scale_corpus(tmp_path / "other", files=3)
    args = ("--seq-len", 16, "--batch-size", 8, "--epochs", 1, "--learning-rate", 1e-12)
    result = run("train", "--path", other, "--run", "still", "--init-from", finished, *args)
    assert result.exit_code == 0, result.output
    for a, b in zip(weights(finished, "best"), weights(finished.parent / "still"), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)  # a learning rate of 1e-12 moved nothing


def test_patience_stops_when_validation_stops_improving(corpus, monkeypatch):
    import generator.fitting

    losses = iter([3.0, 2.0, 2.5, 2.1, 2.6, 1.0])  # best at epoch 2; epochs 3 and 4 no better

    def scorer(*args, **kwargs):
        return lambda stream: (next(losses), len(stream))

    monkeypatch.setattr(generator.fitting, "loss_scorer", scorer)
    result = run("train", "--path", corpus, "--run", "p", *TINY, "--epochs", 6, "--patience", 2)
    assert result.exit_code == 0, result.output
    assert "stopping: no better validation loss in the 2 epochs after epoch 2" in result.output
    run_dir = corpus.parent / "work" / "checkpoints" / "p"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert [e["val_loss"] for e in metrics["history"]] == [3.0, 2.0, 2.5, 2.1]
    assert metrics["best_epoch"] == 2
    result = run("train", "--resume", run_dir)
    assert result.exit_code == 1 and "stopped early" in result.output
    described = json.loads(run("info", run_dir, "--json").stdout)
    assert described["resumable"] is False and "stopped early" in described["resume_note"]
    assert described["early_stop"] == "no better validation loss in the 2 epochs after epoch 2"
