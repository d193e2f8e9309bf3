"""The `frames` corpus plugin: MIDI as sixteenth-note frames of the pitches that sound.

Each sixteenth note of a piece is one frame: the pitches sounding in it, highest first, each
written `n:P` where it is struck in that frame and `h:P` where it is held from the frame
before, then `|` to end the frame (a frame of silence is `|` alone). This is BachBot's
encoding of the chorales: every frame restates the whole chord, so a model sees the harmony
at each step and cannot lose a voice it no longer hears about, where the performance events
of `midi` name a note once and must remember it until its note-off.

Time is counted in the file's beats, so onsets land on the sixteenth grid whatever the
tempo; outputs are written at 120 bpm. One instrument: drums are dropped, channels and tracks
merged, velocities and the sustain pedal not kept (every note is written at `VELOCITY`).
"""

from __future__ import annotations

from pathlib import Path

import mido

from generator.corpora import bach, music21_io, reading
from generator.corpora.base import MusicCorpus, Note
from generator.corpora.midi import read_midi
from generator.corpora.midifile import DRUM_CHANNEL
from generator.corpora.music21_io import MUSICXML_SUFFIXES, describe
from generator.corpora.performance import TEMPO, TICKS_PER_BEAT
from generator.errors import GenError

FRAMES_PER_BEAT = 4  # sixteenth notes
SECONDS_PER_FRAME = TEMPO / 1_000_000 / FRAMES_PER_BEAT  # as written: 120 bpm, 0.125 s
END = "|"  # ends a frame
MAX_FRAMES = 4 * 3600 * 8  # four hours at 120 bpm: longer is a corrupt file
TRANSPOSE_RANGE = range(-3, 4)  # training-time augmentation, as for `midi`
VELOCITY = 80


def parse(token: str) -> tuple[str, int] | None:
    """("n", pitch) or ("h", pitch) for a note token, None for any other."""
    kind, colon, value = token.partition(":")
    if kind not in ("n", "h") or not colon or not (value.isascii() and value.isdigit()):
        return None
    pitch = int(value)
    return (kind, pitch) if pitch < 128 else None


def vocabulary() -> list[str]:
    return [f"{k}:{p}" for k in "nh" for p in range(128)] + [END]


def spans(mid: mido.MidiFile) -> list[tuple[int, int, int]]:
    """(pitch, first frame, frame after the last) of each note of a parsed file, drums left
    out, quantised to the sixteenth grid; a note keeps at least one frame."""
    reading.check_timing(mid)
    reading.check_duration(mid)
    per_frame = mid.ticks_per_beat / FRAMES_PER_BEAT
    tick, started, found = 0, {}, []
    for msg in mido.merge_tracks(mid.tracks):
        tick += msg.time
        if tick > MAX_FRAMES * per_frame:  # checked before a frame list that long is made
            raise GenError(f"longer than {MAX_FRAMES:,} sixteenth notes: a corrupt delta time?")
        if msg.type not in ("note_on", "note_off") or msg.channel == DRUM_CHANNEL:
            continue
        frame = round(tick / per_frame)
        if msg.note in started:  # a note-off, or a re-strike that ends the sounding note
            found.append((msg.note, started.pop(msg.note), frame))
        if msg.type == "note_on" and msg.velocity > 0:
            started[msg.note] = frame
    last = round(tick / per_frame)
    found += [(pitch, start, last) for pitch, start in started.items()]
    return [(p, s, max(e, s + 1)) for p, s, e in found]


def frames_of(spans_: list[tuple[int, int, int]]) -> list[str]:
    """The frame tokens of note spans; of two spans of one pitch the later start wins."""
    if not spans_:
        raise GenError("contains no notes")
    length = max(e for _, _, e in spans_)
    frames: list[dict[int, str]] = [{} for _ in range(length)]
    for pitch, start, end in sorted(spans_, key=lambda s: (s[1], -s[2])):
        frames[start][pitch] = "n"
        for f in range(start + 1, end):
            frames[f].setdefault(pitch, "h")
    tokens = []
    for frame in frames:
        tokens += [f"{frame[p]}:{p}" for p in sorted(frame, reverse=True)] + [END]
    return tokens


def notes_of(tokens: list[str]) -> list[Note]:
    """The notes a frame stream plays, by start: a held pitch that did not sound in the frame
    before starts there, a pitch not listed in a frame has ended."""
    frame, sounding, notes = 0, {}, []  # sounding: pitch -> first frame
    listed: dict[int, str] = {}

    def end(pitch: int) -> None:
        start = sounding.pop(pitch)
        notes.append(Note(pitch, start * SECONDS_PER_FRAME, frame * SECONDS_PER_FRAME, VELOCITY))

    def close_frame() -> None:
        for pitch in [p for p in sounding if p not in listed or listed[p] == "n"]:
            end(pitch)
        for pitch in listed:
            sounding.setdefault(pitch, frame)
        listed.clear()

    for token in tokens:
        if token == END:
            close_frame()
            frame += 1
        elif (note := parse(token)) is not None and listed.get(note[1]) != "n":
            listed[note[1]] = note[0]
    if listed:  # a last frame without its `|`
        close_frame()
        frame += 1
    close_frame()  # nothing listed: every note still sounding ends
    return sorted(notes, key=lambda n: (n.start, n.pitch))


def to_midi(notes: list[Note]) -> mido.MidiFile:
    """A type-0 file of `notes` at 120 bpm, one piano."""
    ticks = TICKS_PER_BEAT * 1_000_000 / TEMPO  # a second at the written tempo
    timed = [(round(n.start * ticks), 1, n.pitch) for n in notes]
    timed += [(round(n.end * ticks), 0, n.pitch) for n in notes]  # offs before ons at a tick
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=TEMPO, time=0)])
    track.append(mido.Message("program_change", program=0, time=0))
    last = 0
    for tick, on, pitch in sorted(timed):
        track.append(mido.Message("note_on", note=pitch, velocity=VELOCITY * on, time=tick - last))
        last = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    mid = mido.MidiFile(type=0, ticks_per_beat=TICKS_PER_BEAT)
    mid.tracks.append(track)
    return mid


class FramesCorpus(MusicCorpus):
    """MIDI files as sixteenth-note frames of the sounding pitches (module docstring)."""

    name = "frames"
    description = (
        "MIDI files as sixteenth-note frames of the pitches sounding (part music, BachBot's "
        "encoding); default: Bach chorales"
    )
    suffix = ".mid"
    input_suffixes = (".mid", ".midi")
    output_suffixes = (".mid", ".midi", *MUSICXML_SUFFIXES, ".pdf")
    default_temperature = 1.0  # lower ones hold notes too long (BENCHMARKS.md)
    copy_ngram = 64  # three beats of four voices: shorter runs are the chorales' common stock
    token_name = "token"

    def settings(self) -> dict:
        return {"frames_per_beat": FRAMES_PER_BEAT, "drums": "dropped", "velocity": VELOCITY}

    def default_files(self, cache_dir: Path, log) -> list[Path]:
        return bach.chorale_midi_files(cache_dir, bach.default_limit())

    def encode_file(self, path: Path) -> list[str]:
        mid = read_midi(path)
        try:
            return frames_of(spans(mid))
        except GenError:
            raise
        except Exception as exc:  # malformed messages found while merging tracks
            raise GenError(f"cannot decode MIDI ({describe(exc)})") from None

    def write(self, tokens: list[str], path: Path) -> None:
        music21_io.save(to_midi(self.notes(tokens)), path, (FRAMES_PER_BEAT,))  # on the grid

    def notes(self, tokens: list[str]) -> list[Note]:
        return notes_of(tokens)

    def base_vocabulary(self) -> list[str]:
        return vocabulary()

    def augmentations(self) -> tuple:
        return tuple(k for k in TRANSPOSE_RANGE if k != 0)

    def augment(self, token: str, how) -> str:
        note = parse(token)
        if note is None or not 0 <= note[1] + how < 128:
            return token
        return f"{note[0]}:{note[1] + how}"

    def transposition(self, how) -> int:
        return how

    def transposed(self, tokens: list[str], semitones: int) -> list[str]:
        return [self.augment(t, semitones) for t in tokens]

    def token_pitch(self, token: str) -> int | None:
        note = parse(token)
        return note[1] if note and note[0] == "n" else None

    def token_length(self, token: str, unit: str) -> float:
        if unit != "seconds":
            return super().token_length(token, unit)
        return SECONDS_PER_FRAME if token == END else 0.0

    def token_kind(self, token: str) -> str | None:
        note = parse(token)
        return note[0] if note else ("end" if token == END else None)
