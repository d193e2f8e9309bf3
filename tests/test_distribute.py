"""Beyond one device: the sharded token store, `gen encode`, and training under tf.distribute's
mirrored and multi-worker strategies (on CPUs, as on CI)."""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import run, scale_corpus, tiny, write_midi

from generator import data, keys
from generator.cache import encode_corpus
from generator.corpora.midi import MidiCorpus
from generator.tokenstore import TokenStore, build
from generator.vocab import Vocab

TINY = tiny(epoch_steps=10, batch_size=None)


def gen_process(*args, env=None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "generator", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )


def history(run_dir: Path) -> list[dict]:
    return json.loads((run_dir / "metrics.json").read_text())["history"]


@pytest.fixture
def corpus(tmp_path):
    folder = scale_corpus(tmp_path / "midi", files=6)
    write_midi(folder / "long.mid", [(b * 0.25, 0.25, 60 + b % 12, 90) for b in range(64)])
    (folder / "broken.mid").write_bytes(b"MThd\x00")
    return folder


def test_store_streams_are_the_in_memory_streams_for_any_process_count(corpus, tmp_path):
    plugin = MidiCorpus()
    files = plugin.find_files(corpus)
    one, _ = build(plugin, files, tmp_path / "one", shard_files=2, processes=1)
    three, _ = build(plugin, files, tmp_path / "three", shard_files=2, processes=3)
    for path in sorted(Path(one).iterdir()):  # byte for byte, shard by shard
        assert path.read_bytes() == (Path(three) / path.name).read_bytes(), path.name
    store = TokenStore(three)
    assert len(store.shards) == 4 and [Path(p).name for p, _ in store.skipped] == ["broken.mid"]
    assert all(isinstance(shard.ids, np.memmap) for shard in store.shards)  # never read whole
    vocab = Vocab(plugin.base_vocabulary())
    streams = encode_corpus(plugin, files).streams
    controls = [keys.controls(plugin, s) for s in streams]  # each piece's key
    expected = data.join_streams(vocab, streams, controls=controls)
    stream = store.stream(store.usable, vocab)
    assert np.array_equal(stream.array(), expected)
    starts = np.array([0, 5, len(expected) - 20, 37])  # windows across shard boundaries
    assert np.array_equal(stream.windows(starts, 20), expected[starts[:, None] + np.arange(20)])
    assert np.array_equal(stream.sub(7, 90).array(), expected[7:90])


def test_a_text_store_gives_the_vocabulary_and_streams_of_the_in_memory_path(tmp_path):
    from generator.corpora.text import TextCorpus

    folder = tmp_path / "poems"
    folder.mkdir()
    (folder / "a.txt").write_text("ab\nba\n\nabc\n")  # "\n" ties with "a" and "b"
    (folder / "b.txt").write_text("cab ab\nzz\n")
    plugin = TextCorpus()
    files = plugin.find_files(folder)
    store = TokenStore(build(plugin, files, tmp_path / "store")[0])
    streams = encode_corpus(plugin, files).streams
    vocab = Vocab.build(streams, min_count=plugin.min_token_count)
    assert Vocab.from_counts(store.counts(), plugin.min_token_count).tokens == vocab.tokens
    expected = data.join_streams(vocab, streams, plugin.lead_in)
    assert np.array_equal(store.stream(store.usable, vocab).array(), expected)


def test_a_cluster_tf_config_does_not_make_a_one_device_run_a_worker(corpus, monkeypatch):
    tf_config = {"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(tf_config))
    args = ("train", "--path", corpus, "--run", "alone", "--batch-size", 8, *TINY, "--epochs", 1)
    result = run(*args, "--strategy", "one-device")
    assert result.exit_code == 0, result.output
    assert (Path("checkpoints/alone") / "best.weights.h5").exists(), result.output


def test_a_cached_run_with_a_validation_path_resumes(corpus, tmp_path):
    store = tmp_path / "store"
    assert run("encode", "--path", corpus, "--out", store).exit_code == 0
    held = scale_corpus(tmp_path / "held", files=2)
    args = ("train", "--cache", store, "--val-path", held, "--run", "c", "--batch-size", 8)
    first = run(*args, *TINY, "--max-minutes", 0)  # stops after epoch 1 of 2
    assert first.exit_code == 0, first.output
    again = run("train", "--resume", "checkpoints/c")
    assert again.exit_code == 0 and "at epoch 2 of 2" in again.output, again.output
    assert len(history(Path("checkpoints/c"))) == 2


def test_encode_in_parts_resumes_and_trains_from_the_store(corpus, tmp_path):
    store = tmp_path / "store"
    args = ("encode", "--path", corpus, "--out", store, "--shard-files", 2)
    first = run(*args, "--part", "1/2")
    assert first.exit_code == 0 and "lacks 2 of its 4 shards (first: shard-00001)" in first.output
    done = run(*args, "--part", "2/2")
    assert done.exit_code == 0, done.output
    assert "7 files, 1 skipped" in done.output and f"gen train --cache {store}" in done.output
    again = run(*args, "--processes", 1)  # nothing left to do: finished shards are kept
    assert again.exit_code == 0 and "Encoding" not in again.output and "7 files" in again.output
    other_size = run(*args[:-1], 3)
    assert other_size.exit_code == 1 and "was begun with --shard-files 2" in other_size.output
    other = run("encode", "--path", corpus / "piece0.mid", "--out", store, "--shard-files", 2)
    assert other.exit_code == 1 and "holds another corpus (8 files, this one 1)" in other.output
    trained = run("train", "--cache", store, "--run", "cached", "--batch-size", 8, *TINY)
    assert trained.exit_code == 0, trained.output
    assert "7 files used, 1 skipped" in trained.output
    config = json.loads((Path("checkpoints/cached/config.json")).read_text())
    assert config["corpus"]["name"] == "midi" and config["train"]["cache"] == str(store)
    result = run("train", "--cache", store, "--path", corpus)
    assert result.exit_code == 1 and "not both" in result.output
    result = run("train", "--cache", store, "--corpus", "text")
    assert result.exit_code == 1 and "holds corpus 'midi', not 'text'" in result.output


def test_mirrored_over_two_cpu_devices_matches_one_device(corpus):
    """Two replicas of batch 4 are one batch of 8: with the learning rate given divided by
    the square root of the replicas (the scaling `gen` applies), the losses agree. Two layers,
    so each replica runs the CPU's fused pass with a layer stacked on another."""
    rate = 0.01
    tiny = [*TINY, "--layers", "2"]
    one = run("train", "--path", corpus, "--run", "one", "--batch-size", 8, *tiny)
    assert one.exit_code == 0, one.output
    proc = gen_process(
        *("train", "--path", corpus, "--run", "two", "--batch-size", 4, *tiny),
        *("--strategy", "mirrored", "--learning-rate", rate / math.sqrt(2)),
        env={"GEN_CPU_DEVICES": "2"},
    )
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, output
    assert "mirrored: 2 replicas, global batch 8, peak learning rate 0.01" in output
    for a, b in zip(
        history(Path("checkpoints/one")), history(Path("checkpoints/two")), strict=True
    ):
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-4)
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-4)


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_multi_worker_trains_with_two_local_workers_and_only_the_chief_writes(corpus, tmp_path):
    hosts = [f"127.0.0.1:{port}" for port in free_ports(2)]
    procs = []
    for index in range(2):
        tf_config = {"cluster": {"worker": hosts}, "task": {"type": "worker", "index": index}}
        procs.append(
            gen_process(
                *("train", "--path", corpus, "--run", "mw", "--batch-size", 4, *TINY),
                "--strategy",
                "multi-worker",
                env={"TF_CONFIG": json.dumps(tf_config), "TMPDIR": str(tmp_path)},
            )
        )
    try:
        outputs = [proc.communicate(timeout=300)[0] for proc in procs]
    finally:
        for proc in procs:  # never leave a worker waiting for its peer
            proc.kill()
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert "multi-worker: 2 replicas, global batch 8" in outputs[0]
    assert "the chief saved the run" in outputs[1]
    runs = list(Path("checkpoints").iterdir())
    assert [r.name for r in runs] == ["mw"]  # one run folder, written by the chief
    chief = history(runs[0])
    assert len(chief) == 2 and all(math.isfinite(h["val_loss"]) for h in chief)
    assert (runs[0] / "resume.h5").exists()
    assert not list(tmp_path.glob("gen-worker-*"))  # the other worker's scratch folder is gone
    # every validation window was scored: the same loss as gen evaluate's on the last weights
    scored = run("evaluate", "--checkpoint", runs[0], "--weights", "last", "--json")
    assert scored.exit_code == 0, scored.output
    nats = json.loads(scored.stdout)["nats_per_event"]
    assert chief[-1]["val_loss"] == pytest.approx(nats, rel=1e-5)


def test_a_signal_to_one_worker_stops_all_of_them_and_the_chief_saves(corpus, tmp_path):
    hosts = [f"127.0.0.1:{port}" for port in free_ports(2)]
    procs = [
        gen_process(
            *(
                "train",
                "--path",
                corpus,
                "--run",
                "stop",
                "--batch-size",
                4,
                *TINY,
                "--epochs",
                1000,
            ),
            *("--strategy", "multi-worker"),
            env={
                "TF_CONFIG": json.dumps(
                    {"cluster": {"worker": hosts}, "task": {"type": "worker", "index": index}}
                ),
                "TMPDIR": str(tmp_path),
            },
        )
        for index in range(2)
    ]
    run_dir = Path("checkpoints/stop")
    try:
        deadline = time.monotonic() + 240
        while not (run_dir / "resume.h5").exists():  # the chief's first epoch is saved
            assert time.monotonic() < deadline and all(p.poll() is None for p in procs)
            time.sleep(0.1)
        procs[1].send_signal(signal.SIGTERM)  # the other worker only
        outputs = [proc.communicate(timeout=120)[0] for proc in procs]
    finally:
        for proc in procs:
            proc.kill()
    assert [p.returncode for p in procs] == [143, 143], outputs
    assert "Resume with: gen train --resume checkpoints/stop" in outputs[0]
    assert "the chief saved the run" in outputs[1]
    assert not any("Traceback" in out for out in outputs)
    stopped = json.loads((run_dir / "metrics.json").read_text())["stopped"]
    assert stopped.startswith("SIGTERM at step")
