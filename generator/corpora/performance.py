"""Performance events in the style of Performance RNN, to and from MIDI (mido).

An event stream is a list of string tokens:

    on:P     note-on of pitch P (0-127)
    off:P    note-off of pitch P
    shift:N  advance time by N steps of 10 ms (N = 1..100, so one event covers up to 1 s)
    vel:B    following note-ons get velocity bin B (0-31)

128 + 128 + 100 + 32 = 388 events. All tracks and channels are merged into one stream; drums on
MIDI channel 10 are left out. Tempo changes are honoured (times are converted to seconds first).

The encoding is canonical: each pitch is either sounding or not, so `midi_to_events` of the file
written by `events_to_midi` gives back the same events (encode -> decode -> encode is identity).
"""

from __future__ import annotations

from collections import Counter

import mido

from generator.errors import GenError

STEPS_PER_SECOND = 100  # time resolution: 10 ms
MAX_SHIFT_STEPS = 100  # longest single time shift: 1 s
VELOCITY_BINS = 32
NUM_PITCHES = 128
DRUM_CHANNEL = 9  # MIDI channel 10, counted from 0
MAX_SECONDS = 4 * 3600  # longer pieces are almost certainly broken delta times

# Output files: 480 ticks per quarter at 120 bpm, so one tick is 1/960 s and a 10 ms step is
# 9.6 ticks; rounding to ticks and back to steps is exact.
TICKS_PER_BEAT = 480
TEMPO = 500_000  # microseconds per quarter note (120 bpm)


def event_vocabulary() -> list[str]:
    """Every event the encoding can produce, in a fixed order."""
    return (
        [f"on:{p}" for p in range(NUM_PITCHES)]
        + [f"off:{p}" for p in range(NUM_PITCHES)]
        + [f"shift:{n}" for n in range(1, MAX_SHIFT_STEPS + 1)]
        + [f"vel:{b}" for b in range(VELOCITY_BINS)]
    )


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


class _EventWriter:
    """Appends events, emitting time shifts only when an event actually happens."""

    def __init__(self):
        self.events: list[str] = []
        self.step = 0  # time of the last emitted event, in steps
        self.velocity_bin: int | None = None
        self.sounding = [False] * NUM_PITCHES

    def advance(self, step: int) -> None:
        gap = step - self.step
        while gap > 0:
            n = min(gap, MAX_SHIFT_STEPS)
            self.events.append(f"shift:{n}")
            gap -= n
        self.step = max(self.step, step)

    def note_on(self, step: int, pitch: int, velocity: int) -> None:
        self.advance(step)
        if self.sounding[pitch]:  # re-strike: end the sounding note first
            self.events.append(f"off:{pitch}")
        b = velocity_bin(velocity)
        if b != self.velocity_bin:
            self.events.append(f"vel:{b}")
            self.velocity_bin = b
        self.events.append(f"on:{pitch}")
        self.sounding[pitch] = True

    def note_off(self, step: int, pitch: int) -> None:
        if self.sounding[pitch]:
            self.advance(step)
            self.events.append(f"off:{pitch}")
            self.sounding[pitch] = False

    def close(self) -> list[str]:
        for pitch in range(NUM_PITCHES):
            self.note_off(self.step, pitch)
        return self.events


def midi_to_events(mid: mido.MidiFile) -> list[str]:
    """Performance events of a parsed MIDI file (all tracks and channels but drums merged)."""
    if not mid.tracks:
        raise GenError("no tracks")
    if mid.type == 2:
        raise GenError("type-2 MIDI (independent sequences) is not supported")
    division = mid.ticks_per_beat  # 16 bits: mido reads them signed, a MidiFile made in code
    if division >= 0x8000:  # may hold them unsigned
        division -= 0x10000
    if division < 0:  # top bit set: -frames per second, then ticks per frame
        raise GenError(
            f"SMPTE time division ({-(division >> 8)} frames/s, {division & 0xFF} ticks a frame)"
            " is not supported; save it with ticks per beat"
        )
    if division == 0:
        raise GenError("the header gives 0 ticks per beat")
    writer = _EventWriter()
    held = Counter()  # (channel, pitch) -> 1 while that channel holds the pitch
    per_pitch = Counter()  # pitch -> held notes over all channels
    seconds = 0.0
    for msg in mid:  # merged tracks, msg.time in seconds with tempo changes applied
        seconds += msg.time
        if seconds > MAX_SECONDS:  # refused here, before any time shift for it is written
            raise GenError(
                f"an event comes {seconds / 3600:,.1f} hours in, past the "
                f"{MAX_SECONDS // 3600}-hour limit: a corrupt delta time or tempo?"
            )
        if msg.type not in ("note_on", "note_off") or msg.channel == DRUM_CHANNEL:
            continue
        step = round(seconds * STEPS_PER_SECOND)
        key = (msg.channel, msg.note)
        if msg.type == "note_on" and msg.velocity > 0:
            if not held[key]:  # a repeated note-on on one channel re-strikes, not doubles
                held[key] = 1
                per_pitch[msg.note] += 1
            writer.note_on(step, msg.note, msg.velocity)
        elif held[key]:  # a note-off with no matching note-on is ignored
            held[key] = 0
            per_pitch[msg.note] -= 1
            if per_pitch[msg.note] == 0:  # doubled notes sound until their last note-off
                writer.note_off(step, msg.note)
    events = writer.close()
    if not any(e.startswith("on:") for e in events):
        raise GenError("contains no notes")
    return events


def events_to_midi(events: list[str], max_note_seconds: float | None = None) -> mido.MidiFile:
    """A type-0 MIDI file playing `events`; every note that is turned on is turned off.

    Tokens that are not events (special tokens) are ignored, so any model output decodes.
    With `max_note_seconds`, a note still sounding after that long is ended there (a sampled
    note whose note-off the model forgot does not hang on); its later note-off is ignored.
    """
    max_steps = round(max_note_seconds * STEPS_PER_SECOND) if max_note_seconds else None
    ticks_per_step = TICKS_PER_BEAT * 1_000_000 / TEMPO / STEPS_PER_SECOND  # 9.6
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=TEMPO, time=0))
    track.append(mido.Message("program_change", program=0, time=0))
    timed = []  # (tick, message) in order
    step, velocity = 0, 64
    sounding = [False] * NUM_PITCHES
    started = [0] * NUM_PITCHES  # step at which each sounding pitch began

    def emit(kind: str, pitch: int, at: int | None = None) -> None:
        vel = velocity if kind == "note_on" else 0
        tick = round((step if at is None else at) * ticks_per_step)
        timed.append((tick, mido.Message(kind, note=pitch, velocity=vel)))

    for event in events:
        kind, _, value = event.partition(":")
        if not value.isdigit():
            continue
        n = int(value)
        if kind == "shift" and 1 <= n <= MAX_SHIFT_STEPS:
            if max_steps:  # end overlong notes, earliest first, at their time limit
                for end, pitch in sorted(
                    (started[p] + max_steps, p) for p in range(NUM_PITCHES) if sounding[p]
                ):
                    if end <= step + n:
                        emit("note_off", pitch, at=end)
                        sounding[pitch] = False
            step += n
        elif kind == "vel" and n < VELOCITY_BINS:
            velocity = bin_velocity(n)
        elif kind == "on" and n < NUM_PITCHES:
            if sounding[n]:
                emit("note_off", n)
            emit("note_on", n)
            sounding[n], started[n] = True, step
        elif kind == "off" and n < NUM_PITCHES and sounding[n]:
            emit("note_off", n)
            sounding[n] = False
    for pitch in range(NUM_PITCHES):
        if sounding[pitch]:
            emit("note_off", pitch)
    last = 0
    for tick, msg in timed:
        track.append(msg.copy(time=tick - last))
        last = tick
    end = round(step * ticks_per_step)
    track.append(mido.MetaMessage("end_of_track", time=max(0, end - last)))
    mid = mido.MidiFile(type=0, ticks_per_beat=TICKS_PER_BEAT)
    mid.tracks.append(track)
    return mid


def transpose_map(tokens: list[str], semitones: int) -> list[int]:
    """For each token id, the id of the token transposed by `semitones` (itself if not a note
    or if the transposed pitch would leave 0-127)."""
    index = {t: i for i, t in enumerate(tokens)}
    out = []
    for i, token in enumerate(tokens):
        kind, _, value = token.partition(":")
        if kind in ("on", "off") and value.isdigit():
            moved = f"{kind}:{int(value) + semitones}"
            out.append(index.get(moved, i))
        else:
            out.append(i)
    return out


def events_seconds(token: str) -> float:
    """Seconds of music that one token adds (only time shifts add any)."""
    kind, _, value = token.partition(":")
    return int(value) / STEPS_PER_SECOND if kind == "shift" and value.isdigit() else 0.0


def events_to_notes(events: list[str]) -> list[tuple[int, float, float, int]]:
    """The notes an event stream plays: (pitch, start s, end s, velocity bin), by start.
    A note still sounding at the end of the stream ends there."""
    step, velocity = 0, VELOCITY_BINS // 2
    started: dict[int, tuple[int, int]] = {}  # pitch -> (start step, velocity bin)
    notes = []

    def end(pitch: int) -> None:
        start, vel = started.pop(pitch)
        notes.append((pitch, start / STEPS_PER_SECOND, step / STEPS_PER_SECOND, vel))

    for event in events:
        kind, _, value = event.partition(":")
        if not value.isdigit():
            continue
        n = int(value)
        if kind == "shift":
            step += n
        elif kind == "vel":
            velocity = n
        elif kind == "on" and n < NUM_PITCHES:
            if n in started:
                end(n)
            started[n] = (step, velocity)
        elif kind == "off" and n in started:
            end(n)
    for pitch in list(started):
        end(pitch)
    return sorted(notes, key=lambda note: (note[1], note[0]))
