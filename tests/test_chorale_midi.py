"""The Bach chorales that ship inside `gen` as MIDI: music21's chorales, converted by music21."""

from __future__ import annotations

import pytest

from generator.corpora import bach
from generator.corpora.midi import MidiCorpus
from generator.errors import GenError

pytest.importorskip("music21")


def test_one_shipped_file_per_chorale_in_music21s_order(tmp_path):
    files = bach.chorale_midi_files(tmp_path)
    assert [f.name for f in files] == [bach.converted_name(p) for p in bach.chorale_paths()]
    assert files[0].name == "bwv1_6.mid" and len(files) > 400
    assert bach.chorale_midi_files(tmp_path, 3) == files[:3]  # extracted once, then found


@pytest.mark.parametrize("score", ["bwv66.6.mxl", "bwv67.4.xml"])
def test_a_shipped_chorale_is_music21s_conversion(tmp_path, score):
    source = next(p for p in bach.chorale_paths() if p.name == score)
    converted = tmp_path / "converted.mid"
    assert bach.convert((str(source), str(converted))) is None
    shipped = tmp_path / "cache" / "shipped"
    shipped_file = next(
        f for f in bach.chorale_midi_files(shipped) if f.name == bach.converted_name(source)
    )
    plugin = MidiCorpus()
    assert plugin.encode_file(shipped_file) == plugin.encode_file(converted)


@pytest.mark.parametrize("content", [None, b"not a zip archive"])
def test_a_missing_or_broken_archive_is_one_clear_error(tmp_path, monkeypatch, content):
    archive = tmp_path / "bach-chorales-midi.zip"
    if content is not None:
        archive.write_bytes(content)
    monkeypatch.setattr(bach, "MIDI_ARCHIVE", archive)
    with pytest.raises(GenError, match="Bach chorale corpus") as error:
        bach.chorale_midi_files(tmp_path / "cache")
    assert "\n" not in str(error.value)
