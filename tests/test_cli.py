"""End to end through the command line: train a tiny model, sample files, and clear errors."""

from __future__ import annotations

import mido
import pytest
from conftest import run, scale_corpus, tiny

TINY = tiny()


def notes_balance(path):
    """(note-ons, note-offs) in a MIDI file."""
    on = off = 0
    for msg in mido.MidiFile(path):
        if msg.type == "note_on" and msg.velocity > 0:
            on += 1
        elif msg.type in ("note_on", "note_off"):
            off += 1
    return on, off


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny model trained once on a tiny corpus, shared by the sampling tests."""
    root = tmp_path_factory.mktemp("trained")
    corpus = scale_corpus(root / "midi", files=6)
    result = run(
        "train",
        *("--path", corpus, "--checkpoint-dir", root / "checkpoints", "--run", "tiny"),
        *(*TINY, "--tensorboard"),
    )
    assert result.exit_code == 0, result.output
    return root / "checkpoints" / "tiny", result.output


def test_train_writes_a_complete_checkpoint(trained):
    run_dir, output = trained
    assert "6 files used, 0 skipped" in output
    assert "epoch 2: train" in output and "nats/event" in output
    names = sorted(p.name for p in run_dir.iterdir())
    assert names == [
        "best.weights.h5",
        "config.json",
        "corpus.json",
        "last.weights.h5",
        "loss.csv",
        "loss.png",
        "metrics.json",
        "resume.h5",
        "tensorboard",
        "vocab.json",
    ]
    import json

    config = json.loads((run_dir / "config.json").read_text())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert config["corpus"]["name"] == "midi" and config["model"]["units"] == 16
    corpus = json.loads((run_dir / "corpus.json").read_text())
    assert len(corpus["train_files"]) == 5 and len(corpus["validation_files"]) == 1  # by file
    assert not set(corpus["train_files"]) & set(corpus["validation_files"])
    assert len(metrics["history"]) == 2 and metrics["best_val_loss"] > 0
    curve = (run_dir / "loss.csv").read_text().splitlines()
    assert curve[0] == "epoch,loss,val_loss,seconds" and len(curve) == 3
    assert float(curve[2].split(",")[2]) == metrics["history"][1]["val_loss"]
    assert (run_dir / "loss.png").read_bytes().startswith(b"\x89PNG")
    assert list((run_dir / "tensorboard").rglob("events.out.tfevents.*"))


def test_sample_writes_playable_midi_and_same_seed_same_file(trained, tmp_path):
    run_dir, _ = trained
    args = ["sample", "--checkpoint", run_dir, "--length", 200, "--seed", 4]
    assert run(*args, "--out", tmp_path / "a.mid").exit_code == 0
    assert run(*args, "--out", tmp_path / "b.mid").exit_code == 0
    assert (tmp_path / "a.mid").read_bytes() == (tmp_path / "b.mid").read_bytes()
    on, off = notes_balance(tmp_path / "a.mid")
    assert on > 0 and on == off
    music21 = pytest.importorskip("music21")
    assert len(music21.converter.parse(tmp_path / "a.mid").flatten().notes) > 0


def test_sample_uses_the_latest_run_and_writes_numbered_outputs(trained, monkeypatch):
    run_dir, _ = trained
    monkeypatch.chdir(run_dir.parent.parent)  # has checkpoints/tiny
    result = run("sample", "--out", "song.mid", "-n", 2, "--seconds", 3, "--seed", 1)
    assert result.exit_code == 0, result.output
    for name in ("song-1.mid", "song-2.mid"):  # 3 s at 120 bpm: 6 beats, whatever the tempo
        mid = mido.MidiFile(name)
        beats = sum(message.time for message in mid.tracks[0]) / mid.ticks_per_beat
        assert 0 < beats <= 8.2  # plus notes closed at the end
    refused = run("sample", "--out", "song.mid", "-n", 2)
    assert refused.exit_code == 1
    assert "already exists; use --force" in refused.output


def test_primer_continues_a_file(trained, tmp_path):
    run_dir, _ = trained
    primer = scale_corpus(tmp_path / "primer", files=1) / "piece0.mid"
    common = ["sample", "--checkpoint", run_dir, "--length", 50, "--seed", 2, "--primer", primer]
    assert run(*common, "--out", tmp_path / "with.mid").exit_code == 0
    assert run(*common, "--out", tmp_path / "without.mid", "--no-primer-in-output").exit_code == 0
    with_primer, without = (
        notes_balance(tmp_path / "with.mid"),
        notes_balance(tmp_path / "without.mid"),
    )
    assert with_primer[0] == without[0] + 14  # the primer's 8 scale notes and 6 chord notes
    first = [m for m in mido.MidiFile(tmp_path / "without.mid") if m.type == "note_on"]
    assert first[0].velocity != 64  # the primer's velocity carries over, not a default


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--corpus", "nope"], "Error: unknown corpus 'nope'; available: frames, midi"),
        (["train", "--path", "missing"], "Error: corpus path 'missing' does not exist"),
        (["sample", "--out", "x.mid"], "Error: no trained model in 'checkpoints'"),
        (["sample", "--out", "x.mid", "--checkpoint", "."], "is incomplete: config.json"),
    ],
)
def test_errors_are_one_line_with_exit_code_1(args, message):
    result = run(*args)
    assert result.exit_code == 1
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_out_of_range_sampling_options_are_refused(trained):
    run_dir, _ = trained
    result = run("sample", "--checkpoint", run_dir, "--out", "x.mid", "--temperature", 0)
    assert result.exit_code == 1 and "temperature must be in (0, 100], got 0" in result.output
    result = run("sample", "--checkpoint", run_dir, "--out", "x.txt")
    assert (
        result.exit_code == 1
        and "writes .mid, .midi, .musicxml, .xml, .mxl, .pdf, .png files, not .txt" in result.output
    )
    result = run("sample", "--checkpoint", run_dir, "--out", "-", "-n", 2)
    assert result.exit_code == 1 and "cannot share standard output" in result.output
    result = run("sample", "--checkpoint", run_dir, "--out", "x.mid", "--seed", -1)
    assert result.exit_code == 1 and "seed must be in [0, 2,147,483,647]" in result.output
    for option, value, message in (
        ("--top-p", 0, "top-p must be in (0, 1]"),
        ("--top-p", 1.5, "top-p must be in (0, 1]"),
        ("--length", 0, "length must be in [1, 10,000,000]"),
        ("--temperature", -1, "temperature must be in (0, 100]"),
    ):
        result = run("sample", "--checkpoint", run_dir, "--out", "x.mid", option, value)
        assert result.exit_code == 1 and message in result.output, (option, result.output)


def test_a_crash_while_writing_leaves_no_half_file_and_force_overwrites(trained, monkeypatch):
    from generator.corpora.midi import MidiCorpus

    run_dir, _ = trained
    song = run_dir.parent / "crash.mid"
    real_write = MidiCorpus.write

    def crash(self, tokens, path):  # half a file on disk, then the writer dies
        path.write_bytes(b"MThd\x00")
        raise RuntimeError("writer crashed")

    monkeypatch.setattr(MidiCorpus, "write", crash)
    with pytest.raises(RuntimeError):
        run("sample", "--checkpoint", run_dir, "--out", song, "--length", 20, catch=False)
    assert not song.exists() and not list(song.parent.glob(".crash*"))
    monkeypatch.setattr(MidiCorpus, "write", real_write)
    assert run("sample", "--checkpoint", run_dir, "--out", song, "--length", 20).exit_code == 0
    first = song.read_bytes()
    assert run("sample", "--checkpoint", run_dir, "--out", song, "--seed", 5).exit_code == 1
    forced = run("sample", "--checkpoint", run_dir, "--out", song, "--seed", 5, "--force")
    assert forced.exit_code == 0 and song.read_bytes() != first


def test_corrupt_files_are_skipped_and_counted(tmp_path):
    corpus = scale_corpus(tmp_path / "midi", files=4)
    (corpus / "junk.mid").write_bytes(b"\x00" * 50)
    result = run("train", "--path", corpus, "--run", "r", *TINY, "--epochs", 1)
    assert result.exit_code == 0, result.output
    assert "skipped" in result.output and "junk.mid" in result.output
    assert "4 files used, 1 skipped" in result.output


@pytest.mark.slow
def test_default_corpus_is_bach_chorales(monkeypatch):
    pytest.importorskip("music21")
    monkeypatch.setenv("GEN_DEFAULT_CORPUS_LIMIT", "4")  # four chorales keep the test short
    result = run("train", "--corpus", "midi", *TINY, "--epochs", 1)
    assert result.exit_code == 0, result.output
    assert "corpus default" in result.output and "4 files used" in result.output
    result = run("sample", "--out", "song.mid", "--seconds", 2, "--seed", 0)
    assert result.exit_code == 0, result.output
    assert notes_balance("song.mid")[0] > 0


def test_sampled_events_obey_the_note_grammar(trained):
    """With the MIDI plugin's rules, a note-off only ends a sounding pitch and a note-on only
    starts a silent one, even at a high temperature where an untrained guess would not."""
    from generator.checkpoint import load_checkpoint
    from generator.sample import SampleConfig, Sampler

    sampler = Sampler(load_checkpoint(trained[0]))
    start = sampler.start([])
    rows, _, _ = sampler.draw(
        start[None, :].repeat(4, axis=0), SampleConfig(temperature=3.0, max_tokens=400, seed=9)
    )
    notes = 0
    for row in rows:
        sounding = set()
        for token in sampler.vocab.decode(row):
            kind, _, value = token.partition(":")
            if kind == "on":
                assert value not in sounding
                sounding.add(value)
                notes += 1
            elif kind == "off":
                assert value in sounding
                sounding.remove(value)
    assert notes > 20


def test_out_of_range_training_options_are_refused():
    for option in ("--epochs", "--epoch-steps", "--seq-len", "--batch-size"):
        result = run("train", option, 0)
        name = option.lstrip("-")
        assert result.exit_code == 1 and f"{name} must be in [1, " in result.output, option


def test_plot_draws_a_piano_roll_beside_each_output_with_the_primer_apart(
    trained, tmp_path, monkeypatch
):
    from generator import pianoroll

    drawn = []  # (notes, primer notes) of each piano roll
    real_figure = pianoroll.figure

    def spy(notes, bars=(), primer_notes=0, *args, **kwargs):
        drawn.append((len(notes), primer_notes))
        return real_figure(notes, bars, primer_notes, *args, **kwargs)

    monkeypatch.setattr(pianoroll, "figure", spy)
    run_dir, _ = trained
    primer = scale_corpus(tmp_path / "primer", files=1) / "piece0.mid"
    song = tmp_path / "song.mid"
    args = ["sample", "--checkpoint", run_dir, "--length", 60, "--seed", 3, "--primer", primer]
    result = run(*args, "--out", song, "--plot")
    assert result.exit_code == 0, result.output
    assert f"wrote {tmp_path / 'song.png'} (piano roll)" in result.output
    assert (tmp_path / "song.png").read_bytes().startswith(b"\x89PNG")
    assert drawn[0][1] == 14 and drawn[0][0] > 14  # the primer's 14 notes, then the model's
    assert drawn[0][0] == notes_balance(song)[0]  # the roll shows what the MIDI file plays
    refused = run(*args, "--out", song, "--plot")  # both files exist now
    assert refused.exit_code == 1 and "already exists; use --force" in refused.output
    (tmp_path / "song.mid").unlink()
    refused = run(*args, "--out", song, "--plot")  # the piano roll alone is protected too
    assert refused.exit_code == 1 and "song.png already exists" in refused.output
    only = tmp_path / "only.png"  # a .png output is the piano roll alone
    assert run(*args, "--out", only).exit_code == 0
    assert only.read_bytes().startswith(b"\x89PNG") and not (tmp_path / "only.mid").exists()
    assert drawn[-1][1] == 14
    result = run("sample", "--checkpoint", run_dir, "--out", "-", "--plot")
    assert result.exit_code == 1 and "give --out NAME, not '-'" in result.output


def test_pdf_without_an_engraver_is_refused_before_the_model_loads(trained, tmp_path, monkeypatch):
    import generator.sample

    def no_model(*args, **kwargs):
        raise AssertionError("the model was loaded before the output was checked")

    monkeypatch.setattr(generator.sample, "Sampler", no_model)
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # no MuseScore, no LilyPond
    result = run("sample", "--checkpoint", trained[0], "--out", tmp_path / "song.pdf")
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert "install MuseScore (https://musescore.org) or LilyPond (apt install lilypond)" in (
        result.output
    )
    assert not (tmp_path / "song.pdf").exists()


@pytest.mark.slow  # LilyPond alone takes seconds to start
def test_pdf_is_engraved_where_an_engraver_is_installed(trained, tmp_path):
    from generator.corpora.music21_io import pdf_engine
    from generator.errors import GenError

    try:
        pdf_engine()
    except GenError:
        pytest.skip("no MuseScore or LilyPond installed")
    song = tmp_path / "song.pdf"
    result = run("sample", "--checkpoint", trained[0], "--out", song, "--seconds", 4, "--seed", 1)
    assert result.exit_code == 0, result.output
    assert song.read_bytes().startswith(b"%PDF") and not list(tmp_path.glob(".song*"))


def test_sheet_music_is_titled_by_the_output_or_title_with_its_origin_beneath(trained, tmp_path):
    from music21 import converter

    run_dir, _ = trained
    for extra, title in (([], "song"), (["--title", "Evening hymn"], "Evening hymn")):
        out = tmp_path / "song.musicxml"
        args = ["--checkpoint", run_dir, "--out", out, "--seed", 4, "--force", *extra]
        assert run("sample", *args, "--length", 60).exit_code == 0
        score = converter.parse(out)
        assert score.metadata.bestTitle == title
        assert score.metadata.movementName == "gen: tiny, seed 4"
