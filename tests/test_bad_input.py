"""Bad input files: each is skipped with a reason a user can act on, and the rest is used.

MIDI: corrupt, truncated, empty, zero-track, SMPTE-timed, type-2, huge delta times and files
that are not MIDI at all, one by one, fuzzed, and through a corpus's token store. Text: UTF-16,
blank files and one enormous line.
"""

from __future__ import annotations

import io
import re
import tracemalloc

import mido
import numpy as np
import pytest
from conftest import write_midi
from hypothesis import given, settings
from hypothesis import strategies as st

from generator import data
from generator.corpora import performance as perf
from generator.corpora.frames import FramesCorpus
from generator.corpora.metrical import RemiCorpus, TsdCorpus
from generator.corpora.midi import MidiCorpus
from generator.corpora.text import TextCorpus
from generator.errors import GenError
from generator.splits import open_corpus
from generator.vocab import Vocab

VOCABULARY = set(perf.event_vocabulary())


def midi_bytes(mid: mido.MidiFile) -> bytes:
    buffer = io.BytesIO()
    mid.save(file=buffer)
    return buffer.getvalue()


def header(fmt: int, tracks: int, division: int) -> bytes:
    """An MThd chunk: format, number of tracks, time division (ticks per beat, or SMPTE)."""
    return (
        b"MThd"
        + (6).to_bytes(4, "big")
        + b"".join(n.to_bytes(2, "big") for n in (fmt, tracks, division))
    )


def track(body: bytes) -> bytes:
    return b"MTrk" + len(body).to_bytes(4, "big") + body


def delta(ticks: int) -> bytes:
    """A MIDI variable-length number: 7 bits a byte, the top bit set on all but the last."""
    out = [ticks & 0x7F]
    while ticks := ticks >> 7:
        out.append(0x80 | (ticks & 0x7F))
    return bytes(reversed(out))


NOTE_ON, NOTE_OFF, END = b"\x90\x3c\x40", b"\x80\x3c\x00", b"\x00\xff\x2f\x00"  # C4, end of track


def tempo(microseconds: int) -> bytes:
    return b"\x00\xff\x51\x03" + microseconds.to_bytes(3, "big")


def two_tracks(fmt: int = 1) -> bytes:
    """A small real file: two tracks, a tempo change, a program change, a pitch bend."""
    melody = mido.MidiTrack(
        [
            mido.MetaMessage("set_tempo", tempo=500_000, time=0),
            mido.Message("note_on", note=60, velocity=64, time=0),
            mido.Message("note_off", note=60, time=96),
            mido.MetaMessage("set_tempo", tempo=300_000, time=0),
            mido.Message("note_on", note=62, velocity=100, time=10),
            mido.Message("note_off", note=62, time=48),
        ]
    )
    bass = mido.MidiTrack(
        [
            mido.Message("program_change", channel=1, program=32, time=0),
            mido.Message("note_on", channel=1, note=43, velocity=80, time=0),
            mido.Message("pitchwheel", channel=1, pitch=512, time=48),
            mido.Message("note_off", channel=1, note=43, time=96),
        ]
    )
    tracks = [melody, bass] if fmt else [mido.merge_tracks([melody, bass])]  # type 0: one
    return midi_bytes(mido.MidiFile(type=fmt, ticks_per_beat=96, tracks=tracks))


GOOD = two_tracks()
ONE_TRACK = header(0, 1, 480) + track(tempo(400_000) + b"\x00" + NOTE_ON + b"\x60" + NOTE_OFF + END)

# (name, bytes, the whole reason given)
BAD_FILES = [
    ("empty", b"", "empty file"),
    (
        "truncated",
        GOOD[: len(GOOD) // 2],
        "truncated MIDI file (it ends early; the header lists 2 tracks)",
    ),
    ("truncated-header", GOOD[:10], "truncated MIDI file (it ends inside its header)"),
    (
        "corrupt-chunk",
        GOOD.replace(b"MTrk", b"XXXX"),
        "corrupt MIDI file (no MTrk header at start of track)",
    ),
    (
        "corrupt-status",
        header(0, 1, 480) + track(b"\x00\xf4\x00" + END),
        "corrupt MIDI file (undefined status byte 0xf4)",
    ),
    ("zero-track", header(1, 0, 480), "no tracks"),
    (
        "smpte",
        header(0, 1, 0xE728) + track(b"\x00" + NOTE_ON + b"\x28" + NOTE_OFF + END),  # -25 fps, 40
        "SMPTE time division (25 frames/s, 40 ticks a frame) is not supported; "
        "save it with ticks per beat",
    ),
    ("type-2", two_tracks(fmt=2), "type-2 MIDI (independent sequences) is not supported"),
    (
        "huge-delta",  # 0x0FFFFFFF ticks at 120 bpm: 77.7 hours
        header(0, 1, 480) + track(b"\x00" + NOTE_ON + delta(0x0FFFFFFF) + NOTE_OFF + END),
        "an event comes 77.7 hours in, past the 4-hour limit: a corrupt delta time or tempo?",
    ),
    ("png", b"\x89PNG\r\n\x1a\n" + bytes(32), "not a MIDI file: it is a PNG image"),
    ("text", b"Title: my song\nC D E F G\n", "not a MIDI file: it is text"),
    ("no-notes", header(0, 1, 480) + track(tempo(500_000) + END), "contains no notes"),
]


# every plugin that reads MIDI files
MIDI_PLUGINS = [MidiCorpus(), RemiCorpus(), TsdCorpus(), FramesCorpus()]


@pytest.mark.parametrize("plugin", MIDI_PLUGINS, ids=lambda p: p.name)
@pytest.mark.parametrize("name, content, reason", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_each_bad_midi_file_has_its_own_reason(tmp_path, name, content, reason, plugin):
    (tmp_path / f"{name}.mid").write_bytes(content)
    with pytest.raises(GenError) as info:
        plugin.encode_file(tmp_path / f"{name}.mid")
    assert str(info.value) == reason


def test_huge_deltas_at_a_tiny_tempo_are_refused_by_their_beats(tmp_path):
    # At 1 us a beat and 1 tick a beat, 0x0FFFFFFF ticks are 268.4 s but 268 million beats:
    # time shifts count beats, so the file is refused before any shift is written.
    rest = header(0, 1, 1) + track(
        tempo(1) + b"\x00" + NOTE_ON + delta(0x0FFFFFFF) + NOTE_OFF + END
    )
    (tmp_path / "rest.mid").write_bytes(rest)
    with pytest.raises(GenError) as info:
        MidiCorpus().encode_file(tmp_path / "rest.mid")
    assert str(info.value) == (
        "an event comes 268,435,455 beats in, past the 28,800-beat limit (4 hours at 120 bpm): "
        "a corrupt delta time or tempo?"
    )
    # 1,000 beats at 240 bpm (a rest of 250 s) is music, written as two-beat shifts
    notes = tempo(250_000) + b"\x00" + NOTE_ON + delta(1000) + NOTE_OFF + END
    (tmp_path / "long.mid").write_bytes(header(0, 1, 1) + track(notes))
    events = MidiCorpus().encode_file(tmp_path / "long.mid")
    assert events == ["tempo:240", "vel:15", "on:60"] + ["shift:100"] * 500 + ["off:60"]


def test_an_overlong_delta_time_is_refused_at_once(tmp_path):
    # A run of bytes with the top bit set reads as one ever-growing number: mido alone took
    # minutes over 1 MB of 0xFF. Zero padding (0x80 bytes) is harmless and still reads.
    from generator.corpora.midi import _read_variable_int

    run = io.BytesIO(b"\xff" * 1_000_000)
    with pytest.raises(GenError):
        _read_variable_int(run)
    assert run.tell() == 5  # stopped at the fifth byte, not at the end of the run
    for fill, reason in (
        (b"\xff", "corrupt MIDI file (a delta time or length over 4 bytes)"),
        (b"\x80", None),
    ):
        body = b"\x00" + NOTE_ON + fill * 1_000_000 + b"\x00" + NOTE_OFF + END
        (tmp_path / "run.mid").write_bytes(header(0, 1, 480) + track(body))
        if reason:
            with pytest.raises(GenError) as info:
                MidiCorpus().encode_file(tmp_path / "run.mid")
            assert str(info.value) == reason
        else:
            tokens = ["tempo:120", "vel:15", "on:60", "off:60"]
            assert MidiCorpus().encode_file(tmp_path / "run.mid") == tokens


def test_a_corpus_with_bad_files_reports_each_and_uses_the_good_one(tmp_path):
    folder = tmp_path / "midi"
    folder.mkdir()
    write_midi(folder / "good.mid", [(0, 1, 60, 64), (1, 1, 64, 64)])
    for name, content, _ in BAD_FILES:
        (folder / f"{name}.mid").write_bytes(content)
    lines = []
    _, _, store = open_corpus("midi", folder, None, lines.append)
    assert [p.rsplit("/", 1)[-1] for p in (store.paths[i] for i in store.usable)] == ["good.mid"]
    skipped = sorted(line for line in lines if line.startswith("skipped "))
    assert skipped == sorted(
        f"skipped {folder / f'{name}.mid'}: {reason}" for name, _, reason in BAD_FILES
    )  # one line per bad file, with its own reason
    assert f"1 files used, {len(BAD_FILES)} skipped, 9 tokens" in lines[-1]  # 7 events, tempo, key


# -- fuzzing: whatever the bytes, a reason or a stream that decodes ---------------------------


@pytest.fixture(scope="module")
def fuzz_file(tmp_path_factory):
    """One path that every example overwrites (hypothesis runs many examples per test call)."""
    return tmp_path_factory.mktemp("fuzz") / "fuzz.mid"


def encodes_or_says_why(path, content: bytes, plugin) -> None:
    """Encoding gives a non-empty stream of the plugin's vocabulary that writes back as MIDI,
    or a `GenError` whose reason is no Python exception text."""
    path.write_bytes(content)
    try:
        tokens = plugin.encode_file(path)
    except GenError as exc:
        assert str(exc) and not re.search(r"Error\b|Exception\b|index out of range", str(exc))
        return
    assert tokens and set(tokens) <= set(plugin.base_vocabulary())
    plugin.write(tokens, path.with_name("written.mid"))


REAL_FILES = st.sampled_from([GOOD, two_tracks(fmt=0), ONE_TRACK])


@pytest.mark.parametrize("plugin", MIDI_PLUGINS, ids=lambda p: p.name)
@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.binary(max_size=300).map(lambda b: b"MThd" + b)))
def test_random_bytes_never_crash(fuzz_file, plugin, content):
    encodes_or_says_why(fuzz_file, content, plugin)


@pytest.mark.parametrize("plugin", MIDI_PLUGINS, ids=lambda p: p.name)
@settings(max_examples=150, deadline=None)
@given(REAL_FILES, st.floats(0, 1))
def test_truncated_real_files_never_crash(fuzz_file, plugin, content, fraction):
    encodes_or_says_why(fuzz_file, content[: int(len(content) * fraction)], plugin)


@pytest.mark.parametrize("plugin", MIDI_PLUGINS, ids=lambda p: p.name)
@settings(max_examples=500, deadline=None)
@given(
    REAL_FILES,
    st.lists(
        st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 7)), min_size=1, max_size=4
    ),
)
def test_bit_flipped_real_files_never_crash(fuzz_file, plugin, content, flips):
    flipped = bytearray(content)
    for where, bit in flips:
        flipped[int(where * len(content))] ^= 1 << bit
    encodes_or_says_why(fuzz_file, bytes(flipped), plugin)


# -- text --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, reason",
    [
        ("a verse\nand more\n".encode("utf-16"), "UTF-16 text; save it as UTF-8"),  # with a BOM
        ("a verse\n".encode("utf-16-be"), "UTF-16 text (no byte-order mark); save it as UTF-8"),
        ("a verse\n".encode("utf-16-le"), "UTF-16 text (no byte-order mark); save it as UTF-8"),
        ("a verse\n".encode("utf-32"), "UTF-32 text; save it as UTF-8"),
        (b" \r\n\t\n\n", "empty file"),  # blank lines only
        (b"\x01\x00\x02\x00\x03\x00", "binary file (NUL byte at offset 1)"),  # not UTF-16 text
    ],
)
def test_wide_and_blank_text_files_are_clear_errors(tmp_path, content, reason):
    (tmp_path / "bad.txt").write_bytes(content)
    with pytest.raises(GenError) as info:
        TextCorpus().encode_file(tmp_path / "bad.txt")
    assert str(info.value) == reason


def test_one_enormous_line_encodes_in_linear_memory_and_gives_windows(tmp_path):
    text = ("the cat sat on the mat, " * 210_000)[:5_000_000]  # 5 MB, no newline
    (tmp_path / "line.txt").write_text(text)
    tracemalloc.start()
    tokens = TextCorpus().encode_file(tmp_path / "line.txt")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(tokens) == 5_000_000 and peak < 20 * len(tokens)  # measured: 10 bytes a char
    plugin, _, store = open_corpus("text", tmp_path / "line.txt", None, lambda line: None)
    assert sum(store.counts().values()) == 5_000_000
    vocab = Vocab.from_counts(store.counts(), plugin.min_token_count)
    train, _ = data.split_stream(store.stream(store.usable, vocab), 0.1)
    inputs, targets = next(iter(data.WindowBatches(train, seq_len=64, batch_size=8)))
    assert inputs.shape == targets.shape == (8, 64)
    assert np.array_equal(inputs[:, 1:], targets[:, :-1])
    assert "".join(vocab.decode(inputs[0])) in text  # a window is a piece of the line
