"""`gen render`: MIDI to WAV through FluidSynth, and one clear line when it cannot be done."""

from __future__ import annotations

import shutil
import wave

import numpy as np
import pytest
from conftest import run, write_midi

from generator import audio
from generator.errors import GenError


def one_error_line(result, *parts):
    assert result.exit_code == 1, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    for part in parts:
        assert part in result.output, result.output


@pytest.fixture
def song(tmp_path):
    """Two seconds of music: C4 then E4 (120 bpm, four beats)."""
    return write_midi(tmp_path / "song.mid", [(0, 2, 60, 100), (2, 2, 64, 100)])


def installed_soundfont():
    try:
        return audio.find_soundfont()
    except GenError:
        return None


def test_missing_fluidsynth_names_the_packages(song, tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # no fluidsynth to be found
    result = run("render", song, "--out", tmp_path / "song.wav")
    one_error_line(
        result, "FluidSynth is not installed", "apt install fluidsynth fluid-soundfont-gm"
    )
    assert not (tmp_path / "song.wav").exists() and not list(tmp_path.glob(".song*"))


def test_missing_soundfont_names_the_package(tmp_path, monkeypatch):
    monkeypatch.delenv("GEN_SOUNDFONT", raising=False)
    monkeypatch.setattr(audio, "SOUNDFONT_PLACES", (str(tmp_path / "none" / "*.sf2"),))
    with pytest.raises(GenError, match="no General MIDI SoundFont found .* fluid-soundfont-gm"):
        audio.find_soundfont()
    monkeypatch.setenv("GEN_SOUNDFONT", str(tmp_path / "gone.sf2"))  # named, but not there
    with pytest.raises(GenError, match="GEN_SOUNDFONT '.*gone.sf2' is not a file"):
        audio.find_soundfont()
    font = tmp_path / "mine.sf2"
    font.write_bytes(b"RIFF")
    assert audio.find_soundfont(font) == font  # --soundfont comes first


def test_bad_outputs_and_inputs_are_refused_before_fluidsynth(song, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # these errors come before the tools are sought
    (tmp_path / "song.wav").write_bytes(b"old")
    one_error_line(run("render", song), "song.wav already exists; use --force")
    one_error_line(run("render", song, "--out", tmp_path / "x.mp3"), "writes .wav files")
    (tmp_path / "notes.txt").write_text("C D E\n")
    result = run("render", tmp_path / "notes.txt", "--out", tmp_path / "n.wav")
    one_error_line(result, "notes.txt': not a MIDI file: it is text")


@pytest.mark.skipif(shutil.which("fluidsynth") is None, reason="fluidsynth is not installed")
@pytest.mark.skipif(installed_soundfont() is None, reason="no General MIDI SoundFont installed")
def test_render_writes_two_seconds_of_sound(song, tmp_path):
    out = tmp_path / "song.wav"
    result = run("render", song, "--out", out)
    assert result.exit_code == 0 and f"wrote {out}" in result.output, result.output
    with wave.open(str(out)) as wav:
        seconds = wav.getnframes() / wav.getframerate()
        assert wav.getsampwidth() == 2
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    assert 2.0 <= seconds <= 6.0  # the music, then the last note's release and reverb
    per_second = len(samples) // seconds  # samples of all channels
    first, second = (samples[int(k * per_second) : int((k + 1) * per_second)] for k in (0, 1))
    assert np.abs(first).max() > 1000 and np.abs(second).max() > 1000  # C4, then E4: not silent
    one_error_line(run("render", song, "--out", out), "already exists; use --force")
    assert run("render", song, "--out", out, "--force").exit_code == 0
    assert not list(tmp_path.glob(".song*"))  # no temporary file left
