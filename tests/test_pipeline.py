"""Vocabulary, token cache and training windows: the steps between files and tensors."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import scale_corpus, write_midi

from generator import data
from generator.cache import encode_corpus
from generator.corpora.midi import MidiCorpus
from generator.errors import GenError
from generator.vocab import Vocab


def test_vocab_build_encode_decode_and_save(tmp_path):
    vocab = Vocab.build([list("abracadabra")])
    assert vocab.tokens[:4] == ["<unk>", "<start>", "a", "b"]  # specials, then by frequency
    ids = vocab.encode(list("abz"))
    assert ids.tolist() == [2, 3, vocab.unk_id]
    assert vocab.decode([vocab.start_id, 2, 3, vocab.unk_id]) == ["a", "b"]
    vocab.save(tmp_path / "v.json")
    assert Vocab.load(tmp_path / "v.json").tokens == vocab.tokens
    (tmp_path / "bad.json").write_text('{"format": "other/9", "tokens": []}')
    with pytest.raises(GenError, match="expected 'gen-vocab/1'"):
        Vocab.load(tmp_path / "bad.json")


def test_cache_reuses_entries_and_reports_bad_files(tmp_path):
    folder = scale_corpus(tmp_path / "midi", files=3)
    (folder / "broken.mid").write_bytes(b"MThd\x00\x00")
    plugin = MidiCorpus()
    files = plugin.find_files(folder)
    first = encode_corpus(plugin, files)
    assert first.cached == 0 and len(first.files) == 3
    assert first.skipped[0][0].name == "broken.mid"
    assert "truncated MIDI file" in first.skipped[0][1]
    second = encode_corpus(plugin, files)
    assert second.cached == 4 and second.streams == first.streams
    write_midi(folder / "piece0.mid", [(0, 1, 72, 90)])  # new content: encoded again
    third = encode_corpus(plugin, files)
    assert third.cached == 3
    assert third.streams[0] == ["tempo:120", "vel:22", "on:72", "shift:50", "off:72"]
    (folder / "piece2.mid").write_bytes((folder / "piece1.mid").read_bytes())  # known content
    assert encode_corpus(plugin, files).cached == 4


def test_find_files_is_recursive_and_errors_are_clear(tmp_path):
    scale_corpus(tmp_path / "a" / "b", files=2)
    (tmp_path / "a" / "notes.txt").write_text("x")
    assert [p.name for p in MidiCorpus().find_files(tmp_path / "a")] == ["piece0.mid", "piece1.mid"]
    with pytest.raises(GenError, match="does not exist"):
        MidiCorpus().find_files(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(GenError, match="no .mid, .midi files found"):
        MidiCorpus().find_files(tmp_path / "empty")


def test_split_is_by_file_and_seeded():
    train, val = data.split_files(10, 0.2, seed=1)
    assert len(val) == 2 and sorted(train + val) == list(range(10))
    assert data.split_files(10, 0.2, seed=1) == (train, val)
    assert data.split_files(1, 0.2, seed=1) == ([0], [])


def test_windows_are_shifted_by_one_and_augmented():
    stream = np.arange(100, dtype=np.int32)
    flip = np.array([np.arange(100), np.arange(100)[::-1]], dtype=np.int32)
    batches = iter(data.WindowBatches(stream, seq_len=10, batch_size=4, aug_maps=flip, seed=0))
    for _ in range(5):
        x, y = next(batches)
        assert x.shape == y.shape and x.shape[1] == 10
        for row_x, row_y in zip(x, y):
            step = row_y[0] - row_x[0]
            assert step in (1, -1)  # identity map or reversed map
            assert np.all(row_y - row_x == step) and np.all(np.diff(row_x) == step)
    with pytest.raises(GenError, match="fewer than seq-len"):
        data.WindowBatches(stream[:5], seq_len=10, batch_size=4)


def test_validation_windows_cover_the_stream():
    stream = data.SegmentedStream.of(np.arange(25, dtype=np.int32))
    batches = list(data.validation_batches(stream, seq_len=8, batch_size=2))
    x, y = (np.concatenate(part) for part in zip(*batches))
    assert [len(b[0]) for b in batches] == [2, 1]  # the last, partial batch is kept
    assert x.shape == (3, 8) and x[1, 0] == 8 and y[2, -1] == 24
    assert list(data.validation_batches(data.SegmentedStream.of(np.arange(1)), 8, 2)) == []
