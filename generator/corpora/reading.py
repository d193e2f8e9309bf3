"""Reading a MIDI performance: the checks every plugin that reads MIDI makes, and MIDI ->
performance events, with the sustain pedal applied and time counted in beats."""

from __future__ import annotations

from collections import Counter

import mido

from generator.corpora.performance import (
    DEFAULT_BPM,
    DRUM_CHANNEL,
    MAX_SECONDS,
    MAX_SHIFT_STEPS,
    NUM_PITCHES,
    STEPS_PER_BEAT,
    Event,
    nearest_tempo,
    parse,
    velocity_bin,
)
from generator.errors import GenError

SUSTAIN_PEDAL = 64  # the MIDI controller of the sustain (damper) pedal
MAX_BEATS = MAX_SECONDS * DEFAULT_BPM // 60  # time shifts count beats: bounded as seconds are


class _EventWriter:
    """Appends events, emitting time shifts only when an event actually happens."""

    def __init__(self):
        self.events: list[str] = []
        self.step = 0  # time of the last emitted event, in steps
        self.velocity_bin: int | None = None
        self.sounding = [False] * NUM_PITCHES
        self.tempo, self.written_tempo = DEFAULT_BPM, None  # bpm: in effect, last written

    def advance(self, step: int) -> None:
        gap = step - self.step
        while gap > 0:
            n = min(gap, MAX_SHIFT_STEPS)
            self.events.append(str(Event("shift", n)))
            gap -= n
        self.step = max(self.step, step)

    def note_on(self, step: int, pitch: int, velocity: int) -> None:
        self.advance(step)
        if self.tempo != self.written_tempo:  # written where it is first heard: canonical
            self.events.append(str(Event("tempo", self.tempo)))
            self.written_tempo = self.tempo
        if self.sounding[pitch]:  # re-strike: end the sounding note first
            self.events.append(str(Event("off", pitch)))
        b = velocity_bin(velocity)
        if b != self.velocity_bin:
            self.events.append(str(Event("vel", b)))
            self.velocity_bin = b
        self.events.append(str(Event("on", pitch)))
        self.sounding[pitch] = True

    def note_off(self, step: int, pitch: int) -> None:
        if self.sounding[pitch]:
            self.advance(step)
            self.events.append(str(Event("off", pitch)))
            self.sounding[pitch] = False

    def close(self) -> list[str]:
        for pitch in range(NUM_PITCHES):
            self.note_off(self.step, pitch)
        return self.events


def check_timing(mid: mido.MidiFile) -> None:
    """A `GenError` for a parsed MIDI file whose time gen cannot follow: no tracks, type 2
    (independent sequences), SMPTE frames, 0 ticks per beat."""
    if not mid.tracks:
        raise GenError("no tracks")
    if mid.type not in (0, 1, 2):
        raise GenError(f"corrupt MIDI file (the header gives format {mid.type}: 0, 1 or 2)")
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


def past_the_limit(seconds: float) -> GenError:
    """The error of an event that comes after `MAX_SECONDS`."""
    return GenError(
        f"an event comes {seconds / 3600:,.1f} hours in, past the {MAX_SECONDS // 3600}-hour "
        "limit: a corrupt delta time or tempo?"
    )


def past_the_beat_limit(beats: float) -> GenError:
    """The error of an event that comes after `MAX_BEATS`."""
    return GenError(
        f"an event comes {beats:,.0f} beats in, past the {MAX_BEATS:,}-beat limit (4 hours at "
        "120 bpm): a corrupt delta time or tempo?"
    )


def check_duration(mid: mido.MidiFile) -> None:
    """A `GenError` for a file with an event past `MAX_SECONDS` (a corrupt delta time)."""
    seconds = 0.0
    for msg in mid:  # merged tracks, msg.time in seconds with tempo changes applied
        seconds += msg.time
        if seconds > MAX_SECONDS:
            raise past_the_limit(seconds)


class _Keys:
    """Which (channel, pitch) keys are held, with the sustain pedal applied as Performance RNN
    does: a key released while its channel's pedal is down sounds on until the pedal rises
    (or the key is struck again)."""

    def __init__(self, writer: _EventWriter):
        self.writer = writer
        self.held = Counter()  # (channel, pitch) -> 1 while that channel holds the pitch
        self.per_pitch = Counter()  # pitch -> held notes over all channels
        self.pedal = [False] * 16  # per channel: the sustain pedal is down
        self.sustained: set[tuple[int, int]] = set()  # released, held by the pedal

    def strike(self, step: int, key: tuple[int, int], velocity: int) -> None:
        self.sustained.discard(key)
        if not self.held[key]:  # a repeated note-on on one channel re-strikes, not doubles
            self.held[key] = 1
            self.per_pitch[key[1]] += 1
        self.writer.note_on(step, key[1], velocity)

    def release(self, step: int, key: tuple[int, int]) -> None:
        if not self.held[key]:  # a note-off with no matching note-on is ignored
            return
        if self.pedal[key[0]]:
            self.sustained.add(key)
            return
        self.held[key] = 0
        self.per_pitch[key[1]] -= 1
        if self.per_pitch[key[1]] == 0:  # doubled notes sound until their last note-off
            self.writer.note_off(step, key[1])

    def sustain(self, step: int, channel: int, down: bool) -> None:
        self.pedal[channel] = down
        if not down:
            for key in sorted(k for k in self.sustained if k[0] == channel):
                self.sustained.discard(key)
                self.release(step, key)


def timed(mid: mido.MidiFile):
    """Each message of the merged tracks with its time in steps (counted in beats); an error
    for one past `MAX_SECONDS` (with the tempo changes applied) or `MAX_BEATS`."""
    tempo, seconds, ticks = 500_000, 0.0, 0  # MIDI's default tempo: 120 bpm
    for msg in mido.merge_tracks(mid.tracks):
        ticks += msg.time
        seconds += msg.time * tempo / 1e6 / mid.ticks_per_beat
        if seconds > MAX_SECONDS:  # refused here, before any time shift for it is written
            raise past_the_limit(seconds)
        if ticks > MAX_BEATS * mid.ticks_per_beat:  # a tiny tempo: few seconds, many beats
            raise past_the_beat_limit(ticks / mid.ticks_per_beat)
        yield msg, round(ticks * STEPS_PER_BEAT / mid.ticks_per_beat)
        if msg.type == "set_tempo":
            tempo = msg.tempo


def midi_to_events(mid: mido.MidiFile) -> list[str]:
    """Performance events of a parsed MIDI file (all tracks and channels but drums merged,
    the sustain pedal applied, time in beats and the tempo as tempo events)."""
    check_timing(mid)
    writer = _EventWriter()
    keys = _Keys(writer)
    for msg, step in timed(mid):
        if msg.type == "set_tempo":
            writer.tempo = nearest_tempo(msg.tempo)
        if getattr(msg, "channel", DRUM_CHANNEL) == DRUM_CHANNEL:
            continue
        if msg.type == "control_change" and msg.control == SUSTAIN_PEDAL:
            keys.sustain(step, msg.channel, msg.value >= 64)
        elif msg.type == "note_on" and msg.velocity > 0:
            keys.strike(step, (msg.channel, msg.note), msg.velocity)
        elif msg.type in ("note_on", "note_off"):
            keys.release(step, (msg.channel, msg.note))
    events = writer.close()
    if not any(parse(e).kind == "on" for e in events):
        raise GenError("contains no notes")
    return events
