"""The `score` plugin: music21's formats give the same events as the MIDI music21 writes."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run, scale_corpus, tiny

from generator.cache import encode_corpus
from generator.corpora import get_corpus, music21_io
from generator.corpora.midi import MidiCorpus
from generator.corpora.score import ScoreCorpus, collection_files
from generator.errors import GenError

TINY = tiny()


def corpus_file(name: str) -> Path:
    """A file of music21's bundled corpus by the end of its path."""
    from music21 import corpus

    (path,) = [Path(p) for p in corpus.getPaths() if str(p).endswith(name)]
    return path


def events_of_music21_midi(score, tmp_path: Path) -> list[str]:
    """Events of the MIDI file music21's own `write("midi")` makes for `score`."""
    target = tmp_path / "music21.mid"
    score.write("midi", fp=str(target))
    return MidiCorpus().encode_file(target)


@pytest.mark.parametrize(
    "name",
    ["bach/bwv66.6.mxl", "bach/bwv281.krn", "ryansMammoth/LanigansBallJig.abc"],
    ids=["musicxml", "kern", "abc"],
)
def test_score_formats_match_the_midi_music21_writes(name, tmp_path):
    path = corpus_file(name)
    events = ScoreCorpus().encode_pieces(path)
    assert len(events) == 1 and len(events[0]) > 100
    assert events[0] == events_of_music21_midi(music21_io.parse(path), tmp_path)


def test_an_abc_book_gives_one_piece_per_tune(tmp_path):
    path = corpus_file("nottingham-dataset/reelsa-c.abc")
    pieces = ScoreCorpus().encode_pieces(path)
    tunes = music21_io.pieces(music21_io.parse(path))
    assert len(pieces) == len(tunes) == 2
    for piece, tune in zip(pieces, tunes):
        assert piece == events_of_music21_midi(tune, tmp_path)
    assert pieces[0] != pieces[1]


def test_midi_files_are_read_directly_and_the_vocabularies_agree(tmp_path):
    folder = scale_corpus(tmp_path / "m", files=1)
    score, midi = ScoreCorpus(), MidiCorpus()
    assert score.encode_file(folder / "piece0.mid") == midi.encode_file(folder / "piece0.mid")
    assert score.base_vocabulary() == midi.base_vocabulary()
    assert score.settings() == midi.settings()


def test_malformed_repeats_are_played_once_through():
    # music21 cannot expand this chorale's repeats; it is encoded as written, not skipped
    events = ScoreCorpus().encode_file(corpus_file("bach/bwv277.krn"))
    assert sum(e.startswith("on:") for e in events) > 50


def test_music21_collections_by_name():
    plugin = ScoreCorpus()
    chorales = plugin.find_files(Path("music21:bach"))
    assert len(chorales) > 300 and all(p.suffix in (".mxl", ".xml", ".krn") for p in chorales)
    assert [p.name for p in plugin.find_files(Path("music21:nottingham-dataset"))] == [
        "reelsa-c.abc"
    ]
    assert len(collection_files("essenfolksong")) > 20  # names are case-insensitive
    assert [p.name for p in collection_files("bach/bwv66.6")] == ["bwv66.6.mxl"]
    with pytest.raises(GenError, match="no collection, composer or work 'nope'.*essenFolksong"):
        plugin.find_files(Path("music21:nope"))


def test_unreadable_scores_are_skipped_with_a_reason(tmp_path):
    folder = scale_corpus(tmp_path / "c", files=1)
    (folder / "bad.xml").write_text("<not-music/>")
    (folder / "bad.abc").write_bytes(b"\x00\x01garbage")
    encoded = encode_corpus(ScoreCorpus(), ScoreCorpus().find_files(folder))
    assert [p.name for p in encoded.files] == ["piece0.mid"]
    reasons = dict((p.name, r) for p, r in encoded.skipped)
    assert set(reasons) == {"bad.xml", "bad.abc"}
    assert all(r for r in reasons.values())


def test_musicxml_output_reparses_to_the_same_notes(tmp_path):
    from music21 import converter

    # a C major scale in quarter notes at 95 bpm (50 steps a beat at any tempo), then a chord
    events = ["tempo:95", "vel:20"]
    for pitch in (60, 62, 64, 65, 67, 69, 71, 72):
        events += [f"on:{pitch}", "shift:50", f"off:{pitch}"]
    events += ["on:60", "on:64", "on:67", "shift:100", "off:60", "off:64", "off:67"]
    plugin = get_corpus("score")
    plugin.write(events, tmp_path / "tune.musicxml")
    plugin.write(events, tmp_path / "tune.mid")
    xml = converter.parse(tmp_path / "tune.musicxml", forceSource=True, storePickle=False)
    got = [(float(n.offset), tuple(p.midi for p in n.pitches)) for n in xml.flatten().notes]
    assert got == [(float(i), (p,)) for i, p in enumerate((60, 62, 64, 65, 67, 69, 71, 72))] + [
        (8.0, (60, 64, 67))
    ]
    assert plugin.encode_file(tmp_path / "tune.mid") == events


@pytest.mark.slow
def test_train_and_sample_a_music21_collection_end_to_end(tmp_path):
    args = ["train", "--corpus", "score", "--path", "music21:nottingham-dataset", *TINY]
    first = run(*args, "--run", "abc")
    assert first.exit_code == 0, first.output
    assert "corpus music21:nottingham-dataset: 1 files used, 0 skipped" in first.output
    again = run(*args, "--run", "abc2", "--epochs", 1)
    assert "(1 files from cache)" in again.output  # parsed once, then read from the cache

    result = run("sample", "--checkpoint", "checkpoints/abc", "--out", "tune.musicxml")
    assert result.exit_code == 0, result.output
    from music21 import converter

    assert converter.parse("tune.musicxml", forceSource=True, storePickle=False).flatten().notes
    result = run("sample", "--checkpoint", "checkpoints/abc", "--out", "tune.abc")
    assert result.exit_code == 1 and "not .abc" in result.output


BAD_KEY = """<?xml version="1.0" encoding="UTF-8"?>
<score-partwise version="3.1"><part-list><score-part id="P1"><part-name>x</part-name>
</score-part></part-list><part id="P1"><measure number="1"><attributes><divisions>1</divisions>
<key><fifths>-8</fifths></key><time><beats>4</beats><beat-type>4</beat-type></time></attributes>
<note><pitch><step>C</step><octave>4</octave></pitch><duration>4</duration></note>
</measure></part></score-partwise>
"""


def test_a_score_music21_parses_but_cannot_render_is_skipped_not_fatal(tmp_path):
    folder = scale_corpus(tmp_path / "c", files=1)
    (folder / "eight-flats.musicxml").write_text(BAD_KEY)
    encoded = encode_corpus(ScoreCorpus(), ScoreCorpus().find_files(folder))
    assert [p.name for p in encoded.files] == ["piece0.mid"]
    ((path, reason),) = encoded.skipped
    assert path.name == "eight-flats.musicxml" and reason


def test_an_error_without_a_message_still_skips_the_file(tmp_path):
    class Silent(MidiCorpus):
        name = "silent"

        def encode_file(self, path):
            raise GenError("")

    folder = scale_corpus(tmp_path / "c", files=1)
    encoded = encode_corpus(Silent(), Silent().find_files(folder))
    assert encoded.files == [] and encoded.skipped[0][1] == "unreadable"


def shared_time_signature_score():
    """Two 3/4 bars holding one TimeSignature object between them, as some ABC tunes parse:
    music21's MIDI writer refuses the stream ("... is already found in this Stream")."""
    from music21 import meter, note, stream

    ts, part = meter.TimeSignature("3/4"), stream.Part()
    for number, pitch in ((1, "C4"), (2, "E4")):
        bar = stream.Measure(number=number)
        bar.insert(0, ts)
        bar.append(note.Note(pitch, quarterLength=3))
        part.append(bar)
    return stream.Score([part])


def test_a_mark_in_two_places_is_repaired_and_rendered():
    from music21.exceptions21 import StreamException
    from music21.midi import translate

    score = shared_time_signature_score()
    with pytest.raises(StreamException, match="already found"):
        translate.streamToMidiFile(score)
    from generator.corpora.midi import events_of

    events = events_of(music21_io.to_midi(score))
    assert [e for e in events if e.startswith("on:")] == ["on:60", "on:64"]
    assert events.count("shift:100") + events.count("shift:50") >= 2  # 1.5 s each at 120 bpm


def test_repaired_rendering_gives_the_same_events_where_both_work():
    from generator.corpora.midi import events_of

    tunes = music21_io.pieces(music21_io.parse(corpus_file("essenFolksong/lux.abc")))
    for tune in tunes[:12]:  # these render as they are
        plain = events_of(music21_io.to_midi(tune))
        assert plain == events_of(music21_io.to_midi(music21_io.with_unique_marks(tune)))


class LosesTunes(MidiCorpus):
    """A plugin whose files are books that lose their second and third tunes."""

    name = "loses-tunes"

    def read_pieces(self, path):
        return [self.encode_file(path)], ["piece 2: broken", "piece 3: broken too"]


def test_tunes_skipped_in_a_book_are_reported_the_same_from_the_cache(tmp_path, monkeypatch):
    from generator import splits, tokenstore

    folder = scale_corpus(tmp_path / "c", files=2)
    files, plugin, reports = LosesTunes().find_files(folder), LosesTunes(), []
    for fresh_expected in (2, 0):  # encoded, then read from the cache
        store_folder, fresh = tokenstore.build(plugin, files)
        assert fresh == fresh_expected
        store = tokenstore.TokenStore(store_folder)
        lines = []
        splits._report(
            plugin, source="c", used=2, store=store, tokens=10, cached=0, log=lines.append
        )
        reports.append(lines)
        assert store.pieces() == (2, 4)
        assert [len(r) for _, r in store.skipped_pieces] == [2, 2]
    assert reports[0] == reports[1]
    assert "piece0.mid: skipped 2 pieces (piece 2: broken)" in reports[0]
    assert "2 files used, 0 skipped, 2 pieces read, 4 skipped, 10 tokens" in reports[0][-1]


def test_an_unknown_collection_lists_the_collections_with_their_sizes():
    with pytest.raises(GenError) as info:
        collection_files("nope")
    assert "nottingham-dataset (1 file, 2 pieces)" in str(info.value)
    assert "essenFolksong (31 files, 8,514 pieces)" in str(info.value)


def test_gen_encode_reports_the_same_pieces_encoded_and_from_the_cache(tmp_path):
    args = ("encode", "--corpus", "score", "--path", "music21:nottingham-dataset")
    lines = []
    for out in ("first", "again"):
        result = run(*args, "--out", tmp_path / out)
        assert result.exit_code == 0, result.output
        lines.append(result.output.splitlines()[-1].replace(out, "STORE"))
    assert lines[0] == lines[1] and "1 files, 0 skipped, 2 pieces read, 0 skipped" in lines[0]
