"""Training survives faults: exact resume after kill -9, signals, a non-finite loss, a full disk,
and fine-tuning from another run."""

from __future__ import annotations

import errno
import json
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from types import SimpleNamespace

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import scale_corpus

from generator import checkpoint, data, fitting
from generator.cli import cli
from generator.errors import GenError

STEPS = 12  # training steps per epoch in these tests
TINY = [
    *("--layers", "1", "--units", "16", "--embed-dim", "8", "--dropout", "0.1"),
    *("--seq-len", "16", "--batch-size", "8", "--epoch-steps", STEPS, "--epochs", "3"),
]


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


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
            state = checkpoint.resume_state(run_dir)
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


def test_resume_after_kill_9_mid_epoch_matches_an_uninterrupted_run(corpus):
    assert run("train", "--path", corpus, "--run", "whole", *TINY).exit_code == 0
    proc = start_gen("train", "--path", corpus, "--run", "cut", "--save-minutes", 0, *TINY)
    run_dir = corpus.parent / "work" / "checkpoints" / "cut"
    wait_for(proc, run_dir, STEPS + 4)  # in epoch 2: saved after every step
    proc.kill()  # SIGKILL: no handler runs, the process may be in the middle of a write
    proc.wait()
    saved = checkpoint.resume_state(run_dir)
    assert STEPS < saved["step"] < 3 * STEPS and saved["epoch"] >= 1
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
    assert not list(run_dir.glob(".*tmp*"))  # a write the kill cut short is cleared away


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_saves_and_says_how_to_resume(corpus, signum):
    args = ("train", "--path", corpus, "--run", "sig", *TINY[:-1], 1000)
    proc = start_gen(*args)
    run_dir = corpus.parent / "work" / "checkpoints" / "sig"
    wait_for(proc, run_dir, STEPS)  # the first epoch's checkpoint
    proc.send_signal(signum)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, output
    assert (
        f"Resume with: gen train --resume {run_dir.relative_to(corpus.parent / 'work')}" in output
    )
    assert "Traceback" not in output
    state = checkpoint.resume_state(run_dir)
    stopped = json.loads((run_dir / checkpoint.METRICS).read_text())["stopped"]
    assert state["step"] >= STEPS and stopped.endswith(f"at step {state['step']}")
    # the run goes on from there; a spent time budget stops it after one more epoch
    result = run("train", "--resume", run_dir, "--max-minutes", 0)
    assert result.exit_code == 0, result.output
    assert f"resuming {run_dir} at epoch" in result.output
    assert checkpoint.resume_state(run_dir)["epoch"] == state["epoch"] + 1


def test_a_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(corpus, monkeypatch):
    compile_model = fitting.compile_model

    def poisoned(model, config, total_steps, peak_rate=None):  # NaN in the second epoch
        import tensorflow as tf

        compile_model(model, config, total_steps, peak_rate)
        loss = model.loss

        def nan_later(y, logits):
            value = loss(y, logits)
            return tf.where(model.optimizer.iterations >= STEPS + 3, float("nan"), value)

        model.compile(optimizer=model.optimizer, loss=nan_later)

    monkeypatch.setattr(fitting, "compile_model", poisoned)
    result = run("train", "--path", corpus, "--run", "nan", *TINY)
    assert result.exit_code == 1
    assert "Error: the training loss became nan at epoch 2, step 16" in result.output
    assert "last good checkpoint (saved at epoch 1)" in result.output
    run_dir = corpus.parent / "work" / "checkpoints" / "nan"
    assert checkpoint.resume_state(run_dir)["step"] == STEPS
    assert all(np.isfinite(w).all() for w in weights(run_dir))
    assert "training loss was nan" in json.loads((run_dir / "metrics.json").read_text())["stopped"]


def test_a_full_disk_is_one_line_and_the_previous_checkpoint_survives(corpus, monkeypatch):
    real = checkpoint.atomic_path
    writes = []

    @contextmanager
    def disk_fills(path):  # the second resume.h5 (end of epoch 2) hits a full disk
        writes.append(path.name)
        with real(path) as tmp:
            yield tmp
            if writes.count(checkpoint.RESUME) == 2:
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
    assert checkpoint.resume_state(run_dir)["epoch"] == 1
    assert not list(run_dir.glob(".*tmp*"))
    monkeypatch.setattr(checkpoint, "atomic_path", real)  # space again: the run goes on
    result = run("train", "--resume", run_dir)
    assert result.exit_code == 0 and "at epoch 2 of 3" in result.output
    assert [h["epoch"] for h in history(run_dir)] == [1, 2, 3]


def test_too_little_space_is_refused_before_training(corpus, monkeypatch):
    monkeypatch.setattr(checkpoint.shutil, "disk_usage", lambda path: SimpleNamespace(free=1000))
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
    result = run("train", "--path", corpus, "--run", "base", *TINY[:-1], 1, "--json")
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
    assert f"the vocabulary of '{finished}' (midi, 390 tokens) lacks" in result.output
    assert "cannot be fine-tuned on it" in result.output
