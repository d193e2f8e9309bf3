"""What a parsed MIDI file plays: its notes in seconds, and when its bars begin."""

from __future__ import annotations

import mido

from generator.corpora.base import Note

DRUM_CHANNEL = 9  # MIDI channel 10, counted from 0: its notes name drums, not pitches


def midi_notes(mid: mido.MidiFile) -> list[Note]:
    """The notes of a parsed MIDI file, all tracks and channels, with each channel's program;
    drums (channel 10) are marked so; a note still sounding at the end ends there."""
    seconds = 0.0
    programs = [0] * 16
    started: dict[tuple[int, int], tuple[float, int]] = {}  # (channel, pitch) -> start, velocity
    notes = []

    def end(key):
        start, velocity = started.pop(key)
        drum = key[0] == DRUM_CHANNEL
        notes.append(Note(key[1], start, seconds, velocity, programs[key[0]], drum))

    for msg in mid:  # merged tracks, msg.time in seconds with tempo changes applied
        seconds += msg.time
        if msg.type == "program_change":
            programs[msg.channel] = msg.program
        if msg.type not in ("note_on", "note_off"):
            continue
        key = (msg.channel, msg.note)
        if key in started:  # a note-off, or a re-strike that ends the sounding note
            end(key)
        if msg.type == "note_on" and msg.velocity > 0:
            started[key] = (seconds, msg.velocity)
    for key in list(started):
        end(key)
    return sorted(notes, key=lambda n: (n.start, n.pitch))


def bar_times(mid: mido.MidiFile) -> list[float]:
    """Seconds at which bars begin (after the first), from the file's tempo and time signature
    changes; none for a file timed in SMPTE frames, which has no beats."""
    division = mid.ticks_per_beat
    if division <= 0 or division >= 0x8000 or mid.type == 2:  # no beats to count bars in
        return []
    tempos, signatures, last = [(0, 500_000)], [(0, 4, 4)], 0  # MIDI's defaults
    for track in mid.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "set_tempo":
                tempos.append((tick, msg.tempo))
            elif msg.type == "time_signature":
                signatures.append((tick, msg.numerator, msg.denominator))
        last = max(last, tick)
    tempos.sort(key=lambda t: t[0])  # stable: a change at tick 0 overrides the default
    signatures.sort(key=lambda s: s[0])

    def seconds(tick: float) -> float:
        total, at, tempo = 0.0, 0, tempos[0][1]
        for change, new in tempos:
            if change > tick:
                break
            total += (change - at) * tempo / 1e6 / division
            at, tempo = change, new
        return total + (tick - at) * tempo / 1e6 / division

    bars, tick, i = [], 0.0, 0
    while tick < last:
        while i + 1 < len(signatures) and signatures[i + 1][0] <= tick:
            i += 1
        numerator, denominator = signatures[i][1:]
        following = tick + numerator * division * 4 / denominator
        if i + 1 < len(signatures) and signatures[i + 1][0] < following:
            following = signatures[i + 1][0]  # a change inside a bar starts a new one
        tick = following
        if tick < last:
            bars.append(seconds(tick))
    return bars
