"""`gen info` (one run, or every run), and the options for scripts: `--quiet` and `--json`.

Most runs here are written by hand with the checkpoint module's own writers, so every value
`gen info` prints is known exactly; one tiny real training run checks the whole path.
"""

from __future__ import annotations

import io
import json
import os
import shlex
import subprocess
import sys
import time

import h5py
import pytest
from conftest import run

from generator import checkpoint as ckpt_io
from generator import progress, resume_file
from generator.config import TrainConfig
from generator.corpora import get_corpus
from generator.model import ModelConfig
from generator.vocab import Vocab

MODEL = {"layers": 2, "units": 32, "embed_dim": 8, "dropout": 0.1}
METRICS = {
    "history": [
        {"epoch": 1, "loss": 2.0, "val_loss": 1.5, "seconds": 40.0},
        {"epoch": 2, "loss": 1.5, "val_loss": 1.2345, "seconds": 80.0},
    ],
    "loss_unit": "nats/character",
    "files_used": 3,
    "files_skipped": 1,
    "train_tokens": 12345,
    "val_tokens": 678,
    "best_val_loss": 1.2345,
    "best_epoch": 2,
    "epochs": 2,
    "train_seconds": 80.0,
}


def make_run(folder, created, planned=3, corpus_path="/data/poems.txt", resume_epoch=2, **train):
    """A text run folder written by hand: 2 of `planned` epochs done, a resume.h5 whose state
    stands at `resume_epoch` (None: no resume.h5), created at `created` (seconds)."""
    folder.mkdir(parents=True)
    plugin = get_corpus("text")
    vocab = Vocab.build([list("the cat sat\n")])
    model = ModelConfig(vocab_size=len(vocab), **MODEL)
    sources = ckpt_io.DataSources(corpus_path=corpus_path, **train)
    ckpt_io.save_config(folder, plugin, model, TrainConfig(epochs=planned), sources, vocab)
    config = json.loads((folder / ckpt_io.CONFIG).read_text())
    ckpt_io.write_json(folder / ckpt_io.CONFIG, config | {"created": created})
    ckpt_io.save_corpus(folder, corpus_path, ["/data/a.txt"], ["/data/b.txt"])
    ckpt_io.write_json(folder / ckpt_io.METRICS, METRICS)
    (folder / "best.weights.h5").write_bytes(b"\0" * 2**20)  # size only; never loaded
    if resume_epoch is not None:  # the JSON state of resume.h5, as `save_resume` writes it
        with h5py.File(folder / resume_file.RESUME, "w") as f:
            f.attrs["format"] = resume_file.RESUME_FORMAT
            f.attrs["state"] = json.dumps({"step": 40, "epoch": resume_epoch, "metrics": {}})
    return folder


def test_info_prints_what_a_run_is(tmp_path):
    run_dir = make_run(tmp_path / "poems", 1.7e9, init_from="/runs/base")
    result = run("info", run_dir)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1] == "corpus     text version 1, from /data/poems.txt"
    assert lines[2] == "data       3 files used, 1 skipped; 12,345 training tokens, 678 validation"
    assert lines[3] == (
        "model      2 x 32 LSTM, embedding 8, dropout 0.1, vocabulary 10: "
        "13,978 parameters"  # 10 x 8 + 4 x 32 x (41 + 65) + 33 x 10
    )
    assert "epochs     2 of 3" in lines
    assert "best       validation 1.2345 nats/character at epoch 2" in lines
    assert "time       1 min 20 s of training" in lines
    assert f"resume     gen train --resume {run_dir} (stopped after epoch 2, step 40)" in lines
    assert "init from  /runs/base" in lines
    assert lines[-1] == f"sample     gen sample --checkpoint {run_dir} --out sample.txt"


def test_info_json_holds_the_same_values(tmp_path):
    run_dir = make_run(tmp_path / "poems", 1.7e9)
    info = json.loads(run("info", run_dir, "--json").output)
    assert info["corpus"] == {
        "name": "text",
        "version": "1",
        "path": "/data/poems.txt",
        "store": None,
        "installed": True,
    }
    assert info["model"]["params"] == 13_978
    assert (info["files_used"], info["files_skipped"]) == (3, 1)
    assert (info["train_tokens"], info["val_tokens"]) == (12345, 678)
    assert (info["epochs"], info["epochs_planned"]) == (2, 3)
    assert (info["best_val_loss"], info["best_epoch"]) == (1.2345, 2)
    assert info["loss_unit"] == "nats/character" and info["train_seconds"] == 80.0
    assert info["resumable"] is True and info["init_from"] is None
    assert info["size_bytes"] > 2**20
    assert info["created"].startswith(time.strftime("%Y-%m-%dT", time.localtime(1.7e9)))


@pytest.mark.parametrize(
    "resume_epoch, note",
    [(None, "no resume.h5"), (3, "all 3 epochs done")],
)
def test_a_run_that_cannot_resume_says_why(tmp_path, resume_epoch, note):
    run_dir = make_run(tmp_path / "r", 1.7e9, corpus_path=None, resume_epoch=resume_epoch)
    lines = run("info", run_dir).output.splitlines()
    assert lines[1] == "corpus     text version 1, from the plugin's default corpus"
    assert f"resume     no ({note})" in lines


def test_listing_is_sorted_by_date_and_survives_broken_runs(tmp_path):
    root = tmp_path / "checkpoints"
    make_run(root / "a-newest", 3e8)
    make_run(root / "b-oldest", 1e8)
    make_run(root / "c-middle", 2e8)
    (root / "d-no-vocab").mkdir()  # a broken run with a readable date: sorted by it
    (root / "d-no-vocab" / ckpt_io.CONFIG).write_text(json.dumps({"created": 1.5e8}))
    (root / "e-corrupt").mkdir()  # no date at all: the folder's own time (now), so last
    (root / "e-corrupt" / ckpt_io.CONFIG).write_text("{")
    (root / "notes.txt").write_text("not a run")
    result = run("info", "--checkpoint-dir", root)
    assert result.exit_code == 0, result.output
    rows = result.output.splitlines()[1:]
    names = [row.split()[2] for row in rows]
    assert names == ["b-oldest", "d-no-vocab", "c-middle", "a-newest", "e-corrupt"]
    assert "unreadable: checkpoint" in rows[1] and "vocab.json is missing" in rows[1]
    assert "unreadable:" in rows[4] and "midi" not in rows[4]
    assert "text" in rows[0] and "2/3" in rows[0] and "1.2345 nats/character" in rows[0]
    listed = json.loads(run("info", "--checkpoint-dir", root, "--json").output)
    assert [os.path.basename(r["run"]) for r in listed] == names
    assert "error" in listed[4] and listed[3]["best_val_loss"] == 1.2345


def test_info_errors_are_one_line(tmp_path):
    result = run("info", "--checkpoint-dir", tmp_path / "none")
    assert result.exit_code == 1 and "Error: no checkpoint folder" in result.output
    result = run("info", tmp_path)
    assert result.exit_code == 1 and "is incomplete: config.json is missing" in result.output


def test_info_never_imports_tensorflow(tmp_path):
    make_run(tmp_path / "checkpoints" / "r", 1.7e9)
    code = (
        "import sys; from generator.cli import cli\n"
        "for args in (['info'], ['info', 'checkpoints/r', '--json'], ['corpora', '--json']):\n"
        "    try:\n        cli(args)\n    except SystemExit:\n        pass\n"
        "print('tensorflow' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert "gen sample --checkpoint checkpoints/r" in out.stdout
    assert out.stdout.strip().endswith("False")


def test_corpora_json_lists_the_plugins():
    plugins = {p["name"]: p for p in json.loads(run("corpora", "--json").output)}
    assert plugins["midi"]["suffix"] == ".mid" and plugins["text"]["suffix"] == ".txt"
    assert plugins["text"]["usable"] is True and plugins["text"]["error"] is None


def test_progress_bars_show_rate_and_time_left_and_quiet_hides_them(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(progress, "RATE_AFTER_SECONDS", 0.0)
    monkeypatch.setattr(sys, "stderr", Terminal())
    with progress.Reporter().bar(3, "Writing", "poems") as bar:
        for _ in range(3):
            time.sleep(0.01)
            bar.update(1)
    drawn = sys.stderr.getvalue()
    assert "Writing" in drawn and "poems/s" in drawn and " left" in drawn and "3/3" in drawn
    monkeypatch.setattr(sys, "stderr", Terminal())
    quiet = progress.Reporter(quiet=True)
    assert quiet.map(abs, [-1, 2], "Encoding", workers=1) == [1, 2]
    assert sys.stderr.getvalue() == ""
    assert progress.format_duration(185) == "3 min 05 s"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny verse model, really trained (one epoch of a few steps)."""
    root = tmp_path_factory.mktemp("verse")
    (root / "poems.txt").write_text("the cat sat on the mat\nthe dog ran to the log\n\n" * 20)
    result = run(
        "--quiet", "train", "--corpus", "text", "--path", root / "poems.txt",
        "--checkpoint-dir", root / "checkpoints", "--run", "verse", "--layers", 1,
        "--units", 16, "--embed-dim", 8, "--seq-len", 16, "--batch-size", 8,
        "--epochs", 1, "--dropout", 0,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output == ""  # --quiet: nothing on success
    return root / "checkpoints" / "verse"


def test_info_of_a_trained_run_and_its_sample_command_works(trained, tmp_path, monkeypatch):
    info = json.loads(run("info", trained, "--json").output)
    assert info["corpus"]["name"] == "text" and info["corpus"]["path"].endswith("poems.txt")
    assert (info["epochs"], info["epochs_planned"], info["best_epoch"]) == (1, 1, 1)
    assert info["files_used"] == 1 and info["loss_unit"] == "nats/character"
    assert info["best_val_loss"] > 0 and info["resumable"] is False
    from generator.checkpoint import load_checkpoint

    keras_count = load_checkpoint(trained).load_model().count_params()
    assert info["model"]["params"] == keras_count  # as Keras counts its own weights
    monkeypatch.chdir(tmp_path)
    command = shlex.split(info["sample_command"])  # gen sample ... --out sample.txt
    assert run(*command[1:], "--length", 30).exit_code == 0
    assert (tmp_path / "sample.txt").read_text()


def test_sample_json_lists_the_written_files(trained, tmp_path):
    out = tmp_path / "poem.txt"
    args = ["sample", "--checkpoint", trained, "--out", out, "-n", 2, "--length", 60, "--seed", 5]
    result = run(*args, "--json")
    assert result.exit_code == 0, result.output
    written = json.loads(result.stdout)  # the other lines went to standard error
    assert [w["path"] for w in written] == [
        str(tmp_path / "poem-1.txt"),
        str(tmp_path / "poem-2.txt"),
    ]
    for k, w in enumerate(written, 1):
        text = (tmp_path / f"poem-{k}.txt").read_text()
        assert (w["seed"], w["index"], w["lines"]) == (5, k, text.count("\n"))
        assert w["tokens"] == len(text) and 0 <= w["copy_rate"] <= 1
    refused = run("sample", "--checkpoint", trained, "--out", "-", "--json")
    assert refused.exit_code == 1 and "--json prints to standard output" in refused.output


def test_quiet_sample_prints_nothing_and_is_undone_after(trained, tmp_path):
    args = ["sample", "--checkpoint", trained, "--length", 40, "--seed", 1]
    result = run("-q", *args, "--out", tmp_path / "q.txt")
    assert result.exit_code == 0 and result.output == ""
    assert (tmp_path / "q.txt").read_text()
    assert "GEN_QUIET" not in os.environ  # nothing set for the next command in this process
    loud = run(*args, "--out", tmp_path / "l.txt")
    assert "wrote" in loud.output and "copy rate" in loud.output
    failed = run("-q", "sample", "--checkpoint", trained, "--out", "x.mid")
    assert failed.exit_code == 1 and failed.output.startswith("Error: ")  # errors still show


def test_a_run_of_books_of_tunes_shows_the_pieces_read_and_skipped(tmp_path):
    run_dir = make_run(tmp_path / "tunes", 1.7e9)
    metrics = METRICS | {"files_used": 6, "pieces_used": 1177, "pieces_skipped": 3}
    ckpt_io.write_json(run_dir / ckpt_io.METRICS, metrics)
    assert "6 files used, 1 skipped; 1,177 pieces read, 3 skipped; " in run("info", run_dir).output
    info = json.loads(run("info", run_dir, "--json").output)
    assert (info["pieces_used"], info["pieces_skipped"]) == (1177, 3)
    assert "pieces read" not in run("info", make_run(tmp_path / "poems", 1.7e9)).output
