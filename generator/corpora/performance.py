"""Performance events in the style of Performance RNN, to and from MIDI (mido).

An event stream is a list of string tokens:

    on:P     note-on of pitch P (0-127)
    off:P    note-off of pitch P
    shift:N  advance time by N steps (N = 1..100, so one event covers up to two beats)
    vel:B    following note-ons get velocity bin B (0-31)
    tempo:T  from here the music plays at T beats a minute (one of `TEMPOS`, 30-240)

Time is counted in beats, 50 steps to the beat: at 120 bpm a step is 10 ms, as in Performance
RNN. A piece at 96 bpm moves on the same grid as one at 120, so the model hears one rhythmic
language, and its tempo tokens say how fast to play it. All tracks and channels are merged into
one stream; drums on MIDI channel 10 are left out.

`parse` reads a token back into an `Event`: the one place that looks inside an event token.

The encoding is canonical: each pitch is either sounding or not, so `midi_to_events` of the file
written by `events_to_midi` gives back the same events (encode -> decode -> encode is identity).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache

import mido

from generator.corpora.base import Note

STEPS_PER_SECOND = 100  # time resolution at 120 bpm: 10 ms
STEPS_PER_BEAT = 50  # the same resolution counted in beats, whatever the tempo
MAX_SHIFT_STEPS = 100  # longest single time shift: two beats (1 s at 120 bpm)
DEFAULT_BPM = 120  # MIDI's tempo where a file sets none
# Tempos a stream can name: semitone-sized steps (2 ** (1/12)) on either side of 120 bpm, so
# that each lies within 3 % of any tempo between 30 and 240 bpm.
TEMPOS = tuple(sorted({round(DEFAULT_BPM * 2 ** (k / 12)) for k in range(-24, 13)}))
VELOCITY_BINS = 32
NUM_PITCHES = 128
DRUM_CHANNEL = 9  # MIDI channel 10, counted from 0
MAX_SECONDS = 4 * 3600  # longer pieces are almost certainly broken delta times

# Output files: 480 ticks per quarter, so a step (1/50 of a beat) is 9.6 ticks; rounding to
# ticks and back to steps is exact.
TICKS_PER_BEAT = 480
TEMPO = 500_000  # microseconds per quarter note at 120 bpm, where a file sets no tempo


# each kind of event and the values it takes
VALUES = {
    "on": range(NUM_PITCHES),
    "off": range(NUM_PITCHES),
    "shift": range(1, MAX_SHIFT_STEPS + 1),
    "vel": range(VELOCITY_BINS),
    "tempo": TEMPOS,
}


@dataclass(frozen=True)
class Event:
    """One performance event; its token is `str(event)`, such as "on:60"."""

    kind: str  # "on", "off", "shift", "vel" or "tempo"
    value: int  # pitch, steps, velocity bin or beats a minute

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


@lru_cache(maxsize=4096)
def parse(token: str) -> Event | None:
    """The event a token names, or None for any other token (a special token, or one that is
    malformed or out of range, which decoding skips)."""
    kind, colon, value = token.partition(":")
    if not colon or kind not in VALUES or not (value.isascii() and value.isdigit()):
        return None
    number = int(value)
    return Event(kind, number) if number in VALUES[kind] else None


def event_vocabulary() -> list[str]:
    """Every event the encoding can produce, in a fixed order."""
    return [str(Event(kind, v)) for kind, values in VALUES.items() for v in values]


def velocity_bin(velocity: int) -> int:
    """Bin (0-31) of a MIDI velocity 1-127."""
    return (velocity - 1) * VELOCITY_BINS // 127


# The velocity written for each bin: the middle of the velocities that fall in it.
_BIN_VELOCITY = [
    (lambda vs: vs[len(vs) // 2])([v for v in range(1, 128) if velocity_bin(v) == b])
    for b in range(VELOCITY_BINS)
]


def bin_velocity(bin_: int) -> int:
    """A MIDI velocity that falls in `bin_` (its middle)."""
    return _BIN_VELOCITY[bin_]


def nearest_tempo(microseconds_per_beat: int) -> int:
    """The one of `TEMPOS` nearest (by ratio) to a MIDI tempo."""
    bpm = 60_000_000 / max(1, microseconds_per_beat)
    return min(TEMPOS, key=lambda t: abs(math.log(t / bpm)))


def midi_tempo(bpm: int) -> int:
    """Microseconds a beat, as MIDI writes a tempo, for `bpm` beats a minute."""
    return round(60_000_000 / bpm)


class Clock:
    """Seconds from the start at each step, under the tempo events read so far."""

    def __init__(self):
        self.steps, self.seconds = [0], [0.0]  # where each tempo starts, and its second
        self.rates = [1 / STEPS_PER_SECOND]  # seconds a step at each tempo

    def change(self, step: int, bpm: int) -> None:
        self.seconds.append(self.at(step))
        self.steps.append(step)
        self.rates.append(60 / bpm / STEPS_PER_BEAT)

    def at(self, step: int) -> float:
        i = bisect_right(self.steps, step) - 1
        return self.seconds[i] + (step - self.steps[i]) * self.rates[i]


def events_to_midi(events: list[str], max_note_seconds: float | None = None) -> mido.MidiFile:
    """A type-0 MIDI file playing `events`; every note that is turned on is turned off.

    Tokens that are not events (special tokens) are ignored, so any model output decodes.
    With `max_note_seconds` (counted at 120 bpm: two beats to the second), a note still
    sounding after that long is ended there (a sampled note whose note-off the model forgot
    does not hang on); its later note-off is ignored.
    """
    max_steps = round(max_note_seconds * STEPS_PER_SECOND) if max_note_seconds else None
    ticks_per_step = TICKS_PER_BEAT / STEPS_PER_BEAT  # 9.6, whatever the tempo
    timed = []  # (tick, message) in order
    step, velocity = 0, 64
    sounding = [False] * NUM_PITCHES
    started = [0] * NUM_PITCHES  # step at which each sounding pitch began

    def emit(kind: str, pitch: int, at: int | None = None) -> None:
        vel = velocity if kind == "note_on" else 0
        tick = round((step if at is None else at) * ticks_per_step)
        timed.append((tick, mido.Message(kind, note=pitch, velocity=vel)))

    for event in filter(None, map(parse, events)):
        n = event.value
        if event.kind == "shift":
            if max_steps:  # end overlong notes, earliest first, at their time limit
                for end, pitch in sorted(
                    (started[p] + max_steps, p) for p in range(NUM_PITCHES) if sounding[p]
                ):
                    if end <= step + n:
                        emit("note_off", pitch, at=end)
                        sounding[pitch] = False
            step += n
        elif event.kind == "vel":
            velocity = bin_velocity(n)
        elif event.kind == "tempo":
            tempo = mido.MetaMessage("set_tempo", tempo=midi_tempo(n))
            timed.append((round(step * ticks_per_step), tempo))
        elif event.kind == "on":
            if sounding[n]:
                emit("note_off", n)
            emit("note_on", n)
            sounding[n], started[n] = True, step
        elif sounding[n]:  # a note-off of a sounding pitch
            emit("note_off", n)
            sounding[n] = False
    for pitch in range(NUM_PITCHES):
        if sounding[pitch]:
            emit("note_off", pitch)
    return _midi_file(timed, round(step * ticks_per_step))


def _midi_file(timed: list, end: int) -> mido.MidiFile:
    """A type-0 MIDI file for the piano of (tick, message) pairs in order, ending at tick
    `end`; at 120 bpm unless a tempo is set at its start."""
    track = mido.MidiTrack()
    if not any(tick == 0 and msg.type == "set_tempo" for tick, msg in timed):
        track.append(mido.MetaMessage("set_tempo", tempo=midi_tempo(DEFAULT_BPM), time=0))
    track.append(mido.Message("program_change", program=0, time=0))
    last = 0
    for tick, msg in timed:
        track.append(msg.copy(time=tick - last))
        last = tick
    track.append(mido.MetaMessage("end_of_track", time=max(0, end - last)))
    mid = mido.MidiFile(type=0, ticks_per_beat=TICKS_PER_BEAT)
    mid.tracks.append(track)
    return mid


def transpose(token: str, semitones: int) -> str:
    """`token` moved by `semitones` if it is a note event whose pitch stays in 0-127, else
    the token itself."""
    event = parse(token)
    if event is None or event.kind not in ("on", "off"):
        return token
    pitch = event.value + semitones
    return str(Event(event.kind, pitch)) if 0 <= pitch < NUM_PITCHES else token


def event_seconds(token: str) -> float:
    """Seconds of music that one token adds at 120 bpm (only time shifts add any): what
    `--seconds` and the note limit count, as no token can know the tempo it plays at."""
    event = parse(token)
    return event.value / STEPS_PER_SECOND if event and event.kind == "shift" else 0.0


def events_to_notes(events: list[str], max_note_seconds: float | None = None) -> list[Note]:
    """The notes an event stream plays, by start, as `events_to_midi` writes them: a note
    still sounding at the end of the stream ends there, and with `max_note_seconds` (at 120
    bpm) one sounding longer than that ends at that length. Times are in seconds at the
    stream's tempos."""
    limit = round(max_note_seconds * STEPS_PER_SECOND) if max_note_seconds else None
    step, velocity = 0, 64  # MIDI velocity until a "vel" event, as `events_to_midi` writes
    started: dict[int, tuple[int, int]] = {}  # pitch -> (start step, MIDI velocity)
    notes, clock = [], Clock()

    def end(pitch: int, at: int) -> None:
        start, vel = started.pop(pitch)
        at = min(at, start + limit) if limit else at
        notes.append(Note(pitch, clock.at(start), clock.at(at), vel))

    for event in filter(None, map(parse, events)):
        if event.kind == "shift":
            step += event.value
            if limit:  # notes past their limit end there, and their note-offs are ignored
                for pitch in [p for p, (start, _) in started.items() if start + limit <= step]:
                    end(pitch, step)
        elif event.kind == "vel":
            velocity = bin_velocity(event.value)
        elif event.kind == "tempo":
            clock.change(step, event.value)
        elif event.kind == "on":
            if event.value in started:
                end(event.value, step)
            started[event.value] = (step, velocity)
        elif event.value in started:
            end(event.value, step)
    for pitch in list(started):
        end(pitch, step)
    return sorted(notes, key=lambda note: (note.start, note.pitch))
