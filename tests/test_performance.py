"""MIDI <-> performance events: exact encodings, tempo, channels, running status, round trips."""

from __future__ import annotations

import io

import mido
import pytest
from conftest import write_midi
from hypothesis import given, settings
from hypothesis import strategies as st

from generator.corpora import performance as perf
from generator.corpora import reading
from generator.corpora.midi import MidiCorpus
from generator.errors import GenError


def roundtrip(events):
    """Decode events to MIDI bytes, parse them back and encode again."""
    buffer = io.BytesIO()
    perf.events_to_midi(events).save(file=buffer)
    buffer.seek(0)
    return reading.midi_to_events(mido.MidiFile(file=buffer))


def test_vocabulary_is_performance_rnn_sized_with_37_tempos():
    vocab = perf.event_vocabulary()
    assert len(vocab) == 128 + 128 + 100 + 32 + 37 == len(set(vocab))
    assert "tempo:120" in vocab and "tempo:30" in vocab and "tempo:240" in vocab


def test_each_tempo_is_read_as_the_nearest_tempo_event():
    assert perf.nearest_tempo(500_000) == 120
    assert perf.nearest_tempo(625_000) == 95  # 96 bpm, as many chorales in music21 are
    assert perf.nearest_tempo(60_000_000 // 300) == 240  # past the ends: the last one
    assert perf.nearest_tempo(60_000_000 // 10) == 30
    assert all(perf.nearest_tempo(perf.midi_tempo(t)) == t for t in perf.TEMPOS)


def test_velocity_bins_round_trip_and_cover_all_velocities():
    assert [perf.velocity_bin(perf.bin_velocity(b)) for b in range(32)] == list(range(32))
    assert perf.velocity_bin(1) == 0 and perf.velocity_bin(127) == 31


def test_two_notes_encode_exactly(tmp_path):
    # quarter = 0.5 s at 120 bpm: C4 for one beat, then E4 for half a beat, louder.
    path = write_midi(tmp_path / "two.mid", [(0, 1, 60, 64), (1, 0.5, 64, 100)])
    assert MidiCorpus().encode_file(path) == [
        "tempo:120",
        "vel:15",
        "on:60",
        "shift:50",
        "off:60",
        "vel:24",
        "on:64",
        "shift:25",
        "off:64",
    ]


def test_time_is_counted_in_beats_and_each_tempo_is_an_event():
    track = mido.MidiTrack(
        [
            mido.MetaMessage("set_tempo", tempo=500_000, time=0),
            mido.Message("note_on", note=60, velocity=64, time=0),
            mido.Message("note_off", note=60, time=480),  # a beat: 0.5 s at 120 bpm
            mido.MetaMessage("set_tempo", tempo=1_000_000, time=0),
            mido.Message("note_on", note=62, velocity=64, time=480),  # a beat: 1 s at 60 bpm
            mido.Message("note_off", note=62, time=480),
        ]
    )
    mid = mido.MidiFile(type=0, ticks_per_beat=480, tracks=[track])
    events = reading.midi_to_events(mid)
    assert events == [
        "tempo:120",
        "vel:15",
        "on:60",
        "shift:50",
        "off:60",
        "shift:50",
        "tempo:60",  # where the next note is heard
        "on:62",
        "shift:50",
        "off:62",
    ]
    assert roundtrip(events) == events
    notes = MidiCorpus().notes(events)  # in seconds at each tempo
    assert [(n.pitch, n.start, n.end) for n in notes] == [(60, 0.0, 0.5), (62, 1.0, 2.0)]


def test_a_piece_at_96_bpm_moves_on_the_same_steps_as_one_at_120(tmp_path):
    def piece(bpm):
        msgs = [mido.MetaMessage("set_tempo", tempo=round(60e6 / bpm), time=0)]
        for pitch in (60, 62, 64):  # three eighth notes
            msgs += [mido.Message("note_on", note=pitch, velocity=64, time=0)]
            msgs += [mido.Message("note_off", note=pitch, time=240)]
        return reading.midi_to_events(mido.MidiFile(tracks=[mido.MidiTrack(msgs)]))

    slow, fast = piece(96), piece(120)
    assert slow[0] == "tempo:95" and fast[0] == "tempo:120" and slow[1:] == fast[1:]
    assert "shift:25" in slow  # an eighth is 25 steps at any tempo
    path = tmp_path / "slow.mid"
    MidiCorpus().write(slow, path)
    tempos = [m.tempo for m in mido.MidiFile(path).tracks[0] if m.type == "set_tempo"]
    assert tempos == [perf.midi_tempo(95)]  # the file plays at its own tempo, and only that


def test_tracks_and_channels_merge_and_drums_are_dropped():
    def track(channel, note):
        return mido.MidiTrack(
            [
                mido.Message("note_on", channel=channel, note=note, velocity=64, time=0),
                mido.Message("note_off", channel=channel, note=note, time=960),
            ]
        )

    mid = mido.MidiFile(
        type=1, ticks_per_beat=480, tracks=[track(0, 60), track(3, 67), track(9, 36)]
    )
    assert reading.midi_to_events(mid) == [
        "tempo:120",
        "vel:15",
        "on:60",
        "on:67",
        "shift:100",
        "off:60",
        "off:67",
    ]


def test_running_status_bytes_parse_like_explicit_status(tmp_path):
    # note-on ch0 60, then running status note 60 velocity 0 (a note-off), then 62 on/off.
    body = bytes(
        [
            0x00,
            0x90,
            60,
            64,
            0x83,
            0x60,
            60,
            0,
            0x00,
            62,
            64,
            0x83,
            0x60,
            62,
            0,
            0x00,
            0xFF,
            0x2F,
            0x00,
        ]
    )
    data = b"MThd" + (6).to_bytes(4, "big") + bytes([0, 0, 0, 1, 0x01, 0xE0])
    data += b"MTrk" + len(body).to_bytes(4, "big") + body
    (tmp_path / "rs.mid").write_bytes(data)
    assert MidiCorpus().encode_file(tmp_path / "rs.mid") == [
        "tempo:120",
        "vel:15",
        "on:60",
        "shift:50",
        "off:60",
        "on:62",
        "shift:50",
        "off:62",
    ]


def test_each_voice_moves_by_its_note_off_then_its_note_on_in_the_files_part_order():
    def part(first, second):  # a half note, then another
        return mido.MidiTrack(
            [
                mido.Message("note_on", note=first, velocity=64, time=0),
                mido.Message("note_off", note=first, time=960),
                mido.Message("note_on", note=second, velocity=64, time=0),
                mido.Message("note_off", note=second, time=960),
            ]
        )

    soprano, alto, tenor, bass = part(72, 71), part(67, 67), part(64, 62), part(48, 55)
    mid = mido.MidiFile(type=1, ticks_per_beat=480, tracks=[soprano, alto, tenor, bass])
    events = reading.midi_to_events(mid)
    # so the stream keeps count of the voices: grouped note-offs gave worse samples
    assert events[events.index("shift:100") + 1 :][:8] == [
        "off:72", "on:71", "off:67", "on:67", "off:64", "on:62", "off:48", "on:55",
    ]  # fmt: skip
    assert roundtrip(events) == events


def test_doubled_and_repeated_notes_are_canonical():
    msgs = [
        mido.Message("note_on", channel=0, note=60, velocity=64, time=0),
        mido.Message("note_on", channel=1, note=60, velocity=64, time=0),  # doubled
        mido.Message("note_off", channel=0, note=60, time=480),  # still held on channel 1
        mido.Message("note_off", channel=1, note=60, time=480),
        mido.Message("note_off", channel=1, note=61, time=0),  # stray: ignored
    ]
    events = reading.midi_to_events(mido.MidiFile(type=0, tracks=[mido.MidiTrack(msgs)]))
    assert events == ["tempo:120", "vel:15", "on:60", "off:60", "on:60", "shift:100", "off:60"]
    assert roundtrip(events) == events


def test_repeated_note_on_one_channel_is_ended_by_one_note_off():
    msgs = [
        mido.Message("note_on", note=60, velocity=64, time=0),
        mido.Message("note_on", note=60, velocity=64, time=240),  # re-strike, same channel
        mido.Message("note_off", note=60, time=240),  # ends the note
        mido.Message("note_on", note=62, velocity=64, time=480),
        mido.Message("note_off", note=62, time=480),
    ]
    events = reading.midi_to_events(mido.MidiFile(type=0, tracks=[mido.MidiTrack(msgs)]))
    assert events == [
        "tempo:120",
        "vel:15",
        "on:60",
        "shift:25",
        "off:60",
        "on:60",
        "shift:25",
        "off:60",
        "shift:50",
        "on:62",
        "shift:50",
        "off:62",
    ]


def test_bad_files_raise_gen_error(tmp_path):
    (tmp_path / "junk.mid").write_bytes(b"this is not midi")
    with pytest.raises(GenError, match="not a MIDI file: it is text"):
        MidiCorpus().encode_file(tmp_path / "junk.mid")
    empty = mido.MidiFile(type=0, tracks=[mido.MidiTrack()])
    with pytest.raises(GenError, match="no notes"):
        reading.midi_to_events(empty)
    with pytest.raises(GenError, match="type-2"):
        reading.midi_to_events(mido.MidiFile(type=2, tracks=[mido.MidiTrack()]))


def test_decoder_turns_every_note_off_and_ignores_non_events():
    mid = perf.events_to_midi(["<start>", "on:60", "on:60", "shift:10", "off:61", "on:64"])
    ons = offs = 0
    for msg in mid.tracks[0]:
        if msg.type == "note_on" and msg.velocity > 0:
            ons += 1
        elif msg.type in ("note_on", "note_off"):
            offs += 1
    assert ons == 3 and offs == 3


def test_transposition_moves_notes_only_within_range():
    assert [perf.transpose(t, 2) for t in ["on:60", "off:126", "shift:5", "<unk>"]] == [
        "on:62",
        "off:126",  # 128 is out of range: kept
        "shift:5",
        "<unk>",
    ]
    from generator.tokenmaps import augmentation_maps
    from generator.vocab import Vocab

    vocab = Vocab(["<unk>", "<start>", "on:60", "on:62", "off:126", "shift:5"])
    maps = augmentation_maps(MidiCorpus(), vocab)  # rows: identity, then -3 ... +3 but 0
    assert maps.shape == (7, 6) and maps[0].tolist() == [0, 1, 2, 3, 4, 5]
    assert maps[5].tolist() == [0, 1, 3, 3, 4, 5]  # +2: on:60 -> on:62; on:62 -> on:64 unknown


def test_the_event_parser_reads_only_events():
    assert perf.parse("on:60") == perf.Event("on", 60) and str(perf.Event("vel", 3)) == "vel:3"
    for other in ("on:128", "shift:0", "shift:101", "vel:32", "on:6O", "on:²", "<start>", "on"):
        assert perf.parse(other) is None


note_messages = st.lists(
    st.tuples(
        st.integers(0, 2000),  # delta ticks
        st.booleans(),  # on or off
        st.integers(0, 3),  # channel
        st.integers(20, 100),  # pitch
        st.integers(0, 127),  # velocity (0 means off)
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(note_messages, st.sampled_from([96, 480, 1000]), st.integers(300_000, 1_500_000))
def test_encode_decode_encode_is_identity(messages, ticks_per_beat, tempo):
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=tempo, time=0)])
    for delta, on, channel, pitch, velocity in messages:
        kind = "note_on" if on else "note_off"
        track.append(mido.Message(kind, channel=channel, note=pitch, velocity=velocity, time=delta))
    mid = mido.MidiFile(type=0, ticks_per_beat=ticks_per_beat, tracks=[track])
    try:
        events = reading.midi_to_events(mid)
    except GenError:
        return  # no notes at all
    assert roundtrip(events) == events


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(perf.event_vocabulary()), max_size=200))
def test_any_event_stream_decodes_to_a_canonical_stream(events):
    try:
        canonical = roundtrip(events)
    except GenError:
        return  # the stream had no note-on
    assert roundtrip(canonical) == canonical


def test_real_chorales_round_trip():
    pytest.importorskip("music21")
    from generator.cache import cache_dir
    from generator.corpora import bach

    files = bach.chorale_midi_files(cache_dir(), limit=3)
    assert len(files) == 3
    for path in files:
        events = MidiCorpus().encode_file(path)
        assert len(events) > 100
        assert roundtrip(events) == events


def test_overlong_notes_end_at_the_limit_only_when_asked():
    events = ["on:60", "shift:100", "on:64", "shift:100"] + ["shift:100"] * 5 + ["off:60"]
    capped = perf.events_to_midi(events, max_note_seconds=2.5)
    ends, t = {}, 0.0
    for msg in mido.MidiFile(file=_saved(capped)):
        t += msg.time
        if msg.type in ("note_on", "note_off") and not (msg.type == "note_on" and msg.velocity):
            ends[msg.note] = round(t, 2)
    assert ends == {60: 2.5, 64: 3.5}  # each ended 2.5 s after it began
    assert roundtrip(events)[-2:] == ["off:60", "off:64"]  # uncapped: notes last to their end


def _saved(mid):
    buffer = io.BytesIO()
    mid.save(file=buffer)
    buffer.seek(0)
    return buffer


def test_the_sustain_pedal_holds_released_notes_until_it_rises():
    beat = 480
    msgs = [
        mido.Message("control_change", control=64, value=127, time=0),  # pedal down
        mido.Message("note_on", note=60, velocity=64, time=0),
        mido.Message("note_off", note=60, time=beat),  # released at 0.5 s: held on
        mido.Message("note_on", note=64, velocity=64, time=0),
        mido.Message("note_off", note=64, time=beat),
        mido.Message("control_change", control=64, value=0, time=beat),  # up at 1.5 s
    ]
    events = reading.midi_to_events(mido.MidiFile(type=0, tracks=[mido.MidiTrack(msgs)]))
    notes = [(n.pitch, n.start, n.end) for n in MidiCorpus().notes(events)]
    assert notes == [(60, 0.0, 1.5), (64, 0.5, 1.5)]  # both sound until the pedal rises
    struck_again = [
        mido.Message("control_change", control=64, value=127, time=0),
        mido.Message("note_on", note=60, velocity=64, time=0),
        mido.Message("note_off", note=60, time=beat),
        mido.Message("note_on", note=60, velocity=64, time=beat),  # a re-strike ends it
        mido.Message("note_off", note=60, time=beat),
        mido.Message("control_change", control=64, value=0, time=beat),
    ]
    events = reading.midi_to_events(mido.MidiFile(type=0, tracks=[mido.MidiTrack(struck_again)]))
    notes = [(n.pitch, n.start, n.end) for n in MidiCorpus().notes(events)]
    assert notes == [(60, 0.0, 1.0), (60, 1.0, 2.0)]


def test_runs_of_the_midi_plugin_before_the_pedal_and_the_tempo_still_sample(tmp_path):
    import json

    from conftest import run, scale_corpus, tiny

    corpus = scale_corpus(tmp_path / "midi", files=4)
    assert run("train", "--path", corpus, "--run", "old", *tiny(epochs=1)).exit_code == 0
    config_path = tmp_path / "work" / "checkpoints" / "old" / "config.json"
    config = json.loads(config_path.read_text())
    for setting in ("steps_per_beat", "tempos"):  # as version 2 wrote it: time in seconds
        del config["corpus"]["settings"][setting]
    for version in ("2", "1"):
        config["corpus"]["version"] = version
        if version == "1":  # the pedal ignored
            del config["corpus"]["settings"]["sustain_pedal"]
        config_path.write_text(json.dumps(config))
        out = f"s{version}.mid"
        result = run("sample", "--checkpoint", "checkpoints/old", "--out", out, "--length", 20)
        assert result.exit_code == 0, result.output
    config["corpus"]["settings"]["velocity_bins"] = 16  # other tokens: refused
    config_path.write_text(json.dumps(config))
    result = run("sample", "--checkpoint", "checkpoints/old", "--out", "t.mid", "--length", 20)
    assert result.exit_code == 1 and "version 1 with other settings" in result.output


def test_a_corpus_note_limit_is_where_nearly_all_its_notes_end():
    from generator import stats
    from generator.corpora.text import TextCorpus

    plugin = MidiCorpus()
    held = ["on:60", "shift:30", "off:60"]  # 0.3 s
    assert stats.note_limit(plugin, [held * 50, held * 50]) == 0.3
    assert stats.note_limit(plugin, [["shift:30"]]) is None  # no notes
    assert stats.note_limit(TextCorpus(), [list("the cat")]) is None


def test_a_plugin_with_a_note_limit_ends_longer_notes_there(tmp_path):
    stuck = ["on:60", "shift:100", "shift:100", "off:60", "on:62", "shift:20", "off:62"]
    plugin = MidiCorpus()
    assert [round(n.end - n.start, 2) for n in plugin.notes(stuck)] == [2.0, 0.2]
    plugin.note_seconds = 0.5
    assert [round(n.end - n.start, 2) for n in plugin.notes(stuck)] == [0.5, 0.2]
    plugin.write(stuck, tmp_path / "s.mid")
    written = MidiCorpus().notes(MidiCorpus().encode_file(tmp_path / "s.mid"))
    assert [round(n.end - n.start, 2) for n in written] == [0.5, 0.2]


def test_a_run_records_its_corpus_note_limit_and_its_samples_keep_to_it(tmp_path):
    import json

    from conftest import run, scale_corpus, tiny

    from generator.checkpoint import load_checkpoint, plugin_of

    root = tmp_path / "checkpoints"
    args = ("--path", scale_corpus(tmp_path / "midi"), "--checkpoint-dir", root, "--run", "r")
    assert run("train", *args, *tiny()).exit_code == 0
    config = json.loads((root / "r" / "config.json").read_text())
    assert config["note_seconds"] == 0.5  # the chords' beat at 120 bpm; the scales' are 0.25
    out = tmp_path / "s.mid"
    sampled = run("sample", "--checkpoint", root / "r", "--out", out, "--seconds", 20, "-n", 4)
    assert sampled.exit_code == 0, sampled.output
    for k in range(1, 5):  # the limit is counted in beats, at 120 bpm
        tokens = MidiCorpus().encode_file(tmp_path / f"s-{k}.mid")
        notes = MidiCorpus().notes([t for t in tokens if not t.startswith("tempo:")])
        assert notes and max(n.end - n.start for n in notes) <= 0.5 + 0.011
    del config["note_seconds"]  # as runs stored before the limit
    (root / "r" / "config.json").write_text(json.dumps(config))
    assert plugin_of(load_checkpoint(root / "r")).note_seconds is None


def test_a_continuation_without_its_primer_keeps_the_primers_tempo_and_velocity():
    primer = ["tempo:95", "vel:3", "on:60", "shift:10", "tempo:60", "vel:5", "off:60"]
    assert MidiCorpus().carry_over(primer) == ["tempo:60", "vel:5"]
    assert MidiCorpus().carry_over(["on:60", "shift:10"]) == []


def test_the_grid_is_measured_at_the_streams_own_tempo():
    from generator import stats

    eighths = ["tempo:95", "vel:15"] + ["on:60", "shift:25", "off:60"] * 8  # 0.316 s each
    plugin = MidiCorpus()
    assert plugin.beat_seconds(eighths) == 60 / 95
    assert plugin.beat_seconds(eighths[1:]) == 0.5  # no tempo: 120 bpm
    assert stats.measure(plugin, [eighths])["on_grid_share"] == 1.0
    assert stats.on_grid_share(plugin.notes(eighths), 0.5) < 0.5  # off a 120-bpm grid
