"""Sheet music a musician can read: what `.musicxml` outputs hold, read back with music21."""

from __future__ import annotations

import pytest
from conftest import write_midi
from music21 import converter, pitch

from generator.corpora import get_corpus

STAFF_LINES = {"G": ("E4", "F5"), "F": ("G2", "A3")}  # bottom and top line of each clef


def written(tmp_path, notes, name="tune"):
    """`notes` (start beat, beats, pitch, velocity) written by the midi plugin as MusicXML,
    and read back."""
    plugin = get_corpus("midi")
    tokens = plugin.encode_file(write_midi(tmp_path / "in.mid", notes))
    out = tmp_path / f"{name}.musicxml"
    plugin.write(tokens, out)
    return converter.parse(out)


def clefs(score) -> list[str]:
    return [part.flatten().getElementsByClass("Clef").first().sign for part in score.parts]


def ledger_lines(note_pitch, sign: str) -> int:
    bottom, top = (pitch.Pitch(p).diatonicNoteNum for p in STAFF_LINES[sign])
    step = note_pitch.diatonicNoteNum
    return max(0, (bottom - step) // 2, (step - top) // 2)


def check_measures_fill_their_bars(score) -> None:
    for part in score.parts:
        for measure in part.getElementsByClass("Measure"):
            for voice in measure.voices or [measure]:
                assert voice.duration.quarterLength == measure.barDuration.quarterLength


def test_piano_range_music_gets_a_grand_staff_with_its_key_and_title(tmp_path):
    # F major: a melody over a bass line, four bars of 4/4
    melody = [(b, 1, p, 80) for b, p in enumerate([72, 70, 69, 67, 65, 67, 69, 70] * 2)]
    bass = [(2 * b, 2, p, 70) for b, p in enumerate([41, 46, 48, 41, 46, 48, 41, 41])]
    score = written(tmp_path, melody + bass, name="In F")
    assert clefs(score) == ["G", "F"]
    assert score.metadata.bestTitle == "In F"
    for part in score.parts:
        first = part.getElementsByClass("Measure").first()
        assert first.keySignature.sharps == -1 and first.timeSignature.ratioString == "4/4"
    notes = [p for n in score.flatten().notes for p in n.pitches]
    assert {p.name for p in notes} <= {"F", "G", "A", "B-", "C", "D", "E"}  # B-flat, not A#
    assert not [p for p in notes if p.accidental and p.accidental.displayStatus]
    check_measures_fill_their_bars(score)


def test_a_melody_in_the_treble_range_keeps_one_staff(tmp_path):
    score = written(tmp_path, [(b, 1, p, 80) for b, p in enumerate([67, 69, 71, 72, 74, 72])])
    assert clefs(score) == ["G"]


def test_four_voices_print_as_a_hymnal_does(tmp_path):
    # soprano, alto, tenor (up to E4), bass: the tenor stays on the bass staff
    chords = [(76, 72, 64, 48), (77, 72, 65, 53), (79, 71, 62, 55), (76, 72, 64, 48)]
    notes = [(2 * b, 2, p, 80) for b, chord in enumerate(chords) for p in chord]
    score = written(tmp_path, notes)
    treble, bass = ([p.midi for n in part.flatten().notes for p in n.pitches]
                    for part in score.parts)  # fmt: skip
    assert sorted(treble) == sorted(p for c in chords for p in c[:2])
    assert sorted(bass) == sorted(p for c in chords for p in c[2:])
    # chords whose notes start and end together share a stem: one chord per staff and beat
    assert [len(n.pitches) for n in score.parts[0].flatten().notes] == [2, 2, 2, 2]


@pytest.mark.slow
def test_a_bach_chorale_reads_cleanly(tmp_path):
    """A chorale from music21's corpus through the midi plugin: two staves, the key music21
    finds as the key signature, no note over three ledger lines off its staff."""
    from music21 import corpus

    from generator.corpora import music21_io

    plugin = get_corpus("midi")
    mid = music21_io.to_midi(corpus.parse("bach/bwv66.6"))
    mid.save(tmp_path / "in.mid")
    out = tmp_path / "chorale.musicxml"
    plugin.write(plugin.encode_file(tmp_path / "in.mid"), out)
    score = converter.parse(out)
    assert clefs(score) == ["G", "F"]
    found = score.analyze("key")
    for part in score.parts:
        assert part.getElementsByClass("Measure").first().keySignature.sharps == found.sharps
        sign = part.flatten().getElementsByClass("Clef").first().sign
        assert max(ledger_lines(p, sign) for n in part.flatten().notes for p in n.pitches) <= 3
    check_measures_fill_their_bars(score)


def test_the_heading_gives_title_subtitle_and_the_key_asked_for(tmp_path):
    from generator.corpora import notation

    plugin = get_corpus("midi")
    tokens = plugin.encode_file(write_midi(tmp_path / "in.mid", [(0, 4, 60, 80), (4, 4, 62, 80)]))
    with notation.heading("Evening", "gen: chorales, seed 3", "Bb major"):
        plugin.write(tokens, tmp_path / "out.musicxml")
    score = converter.parse(tmp_path / "out.musicxml")
    assert score.metadata.bestTitle == "Evening"
    assert score.metadata.movementName == "gen: chorales, seed 3"
    assert score.parts[0].getElementsByClass("Measure").first().keySignature.sharps == -2


def test_every_instrument_gets_its_named_staff_and_drums_a_percussion_staff(tmp_path):
    from test_metrical import band

    plugin = get_corpus("remi")
    plugin.write(plugin.encode_file(band(tmp_path / "band.mid")), tmp_path / "band.musicxml")
    score = converter.parse(tmp_path / "band.musicxml")
    staves = {part.partName: clefs_of(part) for part in score.parts}
    assert staves == {"Acoustic Grand Piano": "G", "Electric Bass (finger)": "F",
                      "Drums": "percussion"}  # fmt: skip
    assert sorted(p.getInstrument().midiProgram for p in score.parts[:2]) == [0, 33]
    check_measures_fill_their_bars(score)


def clefs_of(part) -> str:
    return part.flatten().getElementsByClass("Clef").first().sign


@pytest.mark.parametrize(
    "key, pitches, names",
    [("F major", [65, 71, 63, 72], ["F", "B", "E-", "C"]),  # B natural, E flat: out of key
     ("G major", [67, 63, 70, 74], ["G", "D#", "A#", "D"]),
     ("Eb major", [63, 69, 67, 70], ["E-", "A", "G", "B-"])],
)  # fmt: skip
def test_notes_out_of_the_key_are_spelt_towards_its_side(tmp_path, key, pitches, names):
    from generator.corpora import notation

    plugin = get_corpus("midi")
    song = write_midi(tmp_path / "in.mid", [(b, 1, p, 80) for b, p in enumerate(pitches)])
    with notation.heading("t", None, key):
        plugin.write(plugin.encode_file(song), tmp_path / "out.musicxml")
    score = converter.parse(tmp_path / "out.musicxml")
    assert [n.pitch.name for n in score.flatten().notes] == names


def test_a_note_held_over_the_bar_line_is_tied_not_struck_again(tmp_path):
    # a bass C held for two bars under a melody that moves
    notes = [(0, 8, 48, 70)] + [(b, 1, p, 80) for b, p in enumerate([72, 74, 76, 77] * 2)]
    score = written(tmp_path, notes)
    bass = [n for n in score.parts[1].flatten().notes]
    struck = [n for n in bass if n.tie is None or n.tie.type == "start"]
    assert len(struck) == 1 and struck[0].pitch.midi == 48
    assert sum(n.quarterLength for n in bass) == 8


def test_rests_between_notes_are_printed(tmp_path):
    plugin = get_corpus("midi")
    song = write_midi(tmp_path / "in.mid", [(0, 1, 72, 80), (2, 1, 74, 80), (3.5, 0.5, 76, 80)])
    plugin.write(plugin.encode_file(song), tmp_path / "out.musicxml")
    xml = (tmp_path / "out.musicxml").read_text()
    assert 'print-object="no"' not in xml and xml.count("<rest") >= 2


def test_a_lower_voice_hides_its_gaps_but_not_a_rest_inside_a_triplet():
    from music21 import key, meter

    from generator.corpora import notation

    # a held E over a lower voice that enters on beat 2 with a triplet whose middle is silent
    notes = [(0.0, 4.0, 76), (1.0, 1 / 3, 72), (5 / 3, 1 / 3, 72), (2.0, 2.0, 72)]
    c_major = key.Key("C")
    staff = notation._staff(
        notes, "treble", c_major, notation._spelling(c_major), meter.TimeSignature("4/4"), 4.0
    )
    rests = [(r.quarterLength, r.style.hideObjectOnPrint) for r in staff.voices[1].notesAndRests
             if r.isRest]  # fmt: skip
    # the gap before beat 2 is hidden; the triplet's rest is printed, or its bracket is lost
    assert rests == [(1.0, True), (pytest.approx(1 / 3), False)]
