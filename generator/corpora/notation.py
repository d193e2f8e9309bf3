"""A performance as sheet music a musician can read: staves by range and instrument, the key
signature of the piece's key with its pitches spelt in that key, and a title.

music21 reads the MIDI file and quantises it (`music21_io.write_musicxml`); this module lays
the notes out as a person would print them. Each instrument gets one staff when its notes fit
one clef, else a grand staff (treble and bass, braced). A note goes to the staff its pitch
calls for where that is clear, and where it is not (between `TREBLE_LOWEST` and
`BASS_HIGHEST`), by its place among the notes sounding with it: the upper half on the treble
staff, the lower half on the bass, as hymnals print soprano and alto above tenor and bass.
Within a staff, notes that start and end together share a stem; the rest go in voices of their
own (music21's `makeVoices`). Drums keep their own part with a percussion clef.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np

TREBLE_LOWEST = 55  # G3: three ledger lines below the treble staff (F3) is as far as it goes
BASS_HIGHEST = 65  # F4: a bass-staff note above this would need more than three ledger lines
MIDDLE_C = 60  # where a note with no neighbours to tell by goes up
ONE_TREBLE, ONE_BASS = 57, 62  # one staff only where no note needs over two ledger lines
# (title, subtitle, key) of the score being written: set by whoever knows the output's name,
# origin and key (`gen sample`), so that a plugin's `write(tokens, path)` needs no more arguments
HEADING: ContextVar[tuple] = ContextVar("heading", default=(None, None, None))


@contextmanager
def heading(title: str | None, subtitle: str | None = None, key: str | None = None):
    """Scores written inside are titled `title`, with `subtitle` beneath, and in `key` ("Bb
    major", as `gen` names keys) where given, rather than the key music21 finds."""
    token = HEADING.set((title, subtitle, key))
    try:
        yield
    finally:
        HEADING.reset(token)


def readable(score, title: str):
    """A new music21 Score of `score`'s notes laid out for reading, titled `title` and in the
    key music21 finds, unless a `heading` gives others."""
    from music21 import layout, metadata, stream

    named, subtitle, asked = HEADING.get()
    key = _key(asked) if asked else _analysed(score)
    spelling = _spelling(key)
    sheet = stream.Score()
    sheet.metadata = metadata.Metadata()
    sheet.metadata.title = named or title
    sheet.metadata.movementName = subtitle or named or title
    sheet.metadata.composer = "gen"
    meter, tempo = _meter_and_tempo(score)
    end = float(score.highestTime)
    for part in score.parts:
        staves = _staves(part, key, spelling, meter, end)
        if staves and tempo is not None and not sheet.parts:  # once, above the first staff
            staves[0].insert(0, tempo)
        for staff in staves:
            sheet.insert(0, staff)
        if len(staves) == 2:
            sheet.insert(0, layout.StaffGroup(staves, symbol="brace", barTogether=True))
    sheet = sheet.makeNotation()
    sheet.splitAtDurations(recurse=True)  # durations no single note value writes: tied notes
    return sheet


def _staves(part, key, spelling: dict, meter, end: float) -> list:
    """The staves of one part: drums on a percussion staff; other notes on one staff or a
    grand staff, named once, with the part's instrument."""
    if _is_drums(part):
        return [_drums(part, meter)]
    notes = _notes(part)
    if not notes:
        return []
    staves = [_staff(group, clef, key, spelling, meter, end) for group, clef in _split(notes)]
    instrument, name = _instrument(part)
    for staff, label in zip(staves, (name, "")):  # a grand staff is named once
        if instrument is not None:  # its General MIDI program, for notation programs
            own = copy.deepcopy(instrument)
            if not label:  # the lower staff of a grand staff: no name of its own
                own.instrumentName = own.instrumentAbbreviation = None
            staff.insert(0, own)
        staff.partName = label
    return staves


def _notes(part) -> list[tuple[float, float, int]]:
    """(offset, quarter length, MIDI pitch) of every note of `part`, chords broken up, and a
    note music21 split at a bar line (tied halves) whole again: the layout ties it anew."""
    found, held = set(), {}  # held: MIDI pitch -> [offset, length] of a note tied onwards
    for element in part.flatten().notes:
        start, length = float(element.offset), float(element.quarterLength)
        for head in element.notes if element.isChord else [element]:
            tie, midi = head.tie or element.tie, head.pitch.midi
            kind = tie.type if tie is not None else None
            if kind in ("stop", "continue") and midi in held and sum(held[midi]) == start:
                held[midi][1] += length
                if kind == "stop":
                    found.add((*held.pop(midi), midi))
            elif kind == "start":
                held[midi] = [start, length]
            else:
                found.add((start, length, midi))
    found |= {(offset, length, midi) for midi, (offset, length) in held.items()}
    return sorted(n for n in found if n[1] > 0)


def _split(notes) -> list[tuple[list, str]]:
    """The notes as one staff ([(notes, clef)]) when they fit one clef, else two: treble
    and bass."""
    pitches = np.array([n[2] for n in notes])
    if pitches.min() >= ONE_TREBLE:
        return [(notes, "treble")]
    if pitches.max() <= ONE_BASS:
        return [(notes, "bass")]
    upper = _upper(notes)
    return [([n for n, u in zip(notes, upper) if u], "treble"),
            ([n for n, u in zip(notes, upper) if not u], "bass")]  # fmt: skip


def _upper(notes) -> list[bool]:
    """Whether each note goes on the treble staff of a grand staff."""
    starts = np.array([n[0] for n in notes])
    ends = starts + np.array([n[1] for n in notes])
    pitches = np.array([n[2] for n in notes])
    upper = []
    for onset, _, pitch in notes:
        if pitch < TREBLE_LOWEST or pitch > BASS_HIGHEST:
            upper.append(pitch > BASS_HIGHEST)
            continue
        sounding = np.unique(pitches[(starts <= onset) & (onset < ends)])[::-1]  # high first
        rank, count = int(np.flatnonzero(sounding == pitch)[0]), len(sounding)
        middle = count % 2 == 1 and rank == count // 2
        upper.append(pitch >= MIDDLE_C if count < 2 or middle else rank < count / 2)
    return upper


def _staff(notes, clef_name: str, key, spelling: dict, meter, end: float):
    """One staff of `notes`: clef, key signature, metre; chords where notes share their
    start and length, voices where they overlap, rests to the end of the piece."""
    from music21 import chord, clef, note, stream

    staff = stream.Part()  # one <part> per staff: engravers read joined staves poorly
    staff.insert(0, clef.TrebleClef() if clef_name == "treble" else clef.BassClef())
    staff.insert(0, key.__class__(key.tonic, key.mode))
    staff.insert(0, meter.__class__(meter.ratioString))
    together = defaultdict(list)
    for offset, length, pitch in notes:
        together[offset, length].append(pitch)
    for (offset, length), pitches in sorted(together.items()):
        spelt = [_spelt(p, spelling) for p in sorted(set(pitches))]
        element = note.Note(spelt[0]) if len(spelt) == 1 else chord.Chord(spelt)
        element.quarterLength = length
        staff.insert(offset, element)
    last = max(o + n for o, n, _ in notes)
    if last < end:
        staff.insert(last, note.Rest(quarterLength=end - last))
    staff.makeVoices(inPlace=True, fillGaps=True)
    if not staff.hasVoices():  # makeVoices leaves a staff without overlaps as it was
        staff.makeRests(refStreamOrTimeRange=(0.0, end), fillGaps=True, inPlace=True)
    for voice in staff.voices[1:]:  # a lower voice's gaps are silent, not printed rests
        for rest in voice.getElementsByClass("Rest"):
            # a rest inside a tuplet stays: engravers lose the bracket of a hidden one
            rest.style.hideObjectOnPrint = not rest.duration.tuplets
    return staff


def _analysed(score):
    """The key music21 finds in `score`; C major where it finds none (drums alone)."""
    from music21 import key
    from music21.analysis.discrete import DiscreteAnalysisException

    try:
        return score.analyze("key")
    except DiscreteAnalysisException:
        return key.Key("C")


def _key(name: str):
    """The music21 Key of a key as `gen` names it ("Bb major", "F# minor")."""
    from music21 import key

    tonic, mode = name.split()
    return key.Key(tonic[0] + tonic[1:].replace("b", "-"), mode)


def _spelling(key) -> dict[int, str]:
    """Pitch class -> note name in `key`: its scale (and in minor, the raised sixth and
    seventh), then sharps in sharp keys and flats in flat keys."""
    from music21 import pitch

    names = {p.pitchClass: p.name for p in key.getScale().getPitches()}
    if key.mode == "minor":
        for step in ("M6", "M7"):
            raised = key.tonic.transpose(step)
            names.setdefault(raised.pitchClass, raised.name)
    for pc in range(12):
        plain = pitch.Pitch(pc)  # music21's own name: naturals, sharps and two flats
        if key.sharps and plain.alter and (plain.alter > 0) == (key.sharps < 0):
            plain = plain.getEnharmonic()  # a black key, spelt towards the key's side
        names.setdefault(pc, plain.name)
    return names


def _spelt(midi: int, spelling: dict[int, str]):
    """The Pitch of `midi` spelt as `spelling` names its pitch class."""
    from music21 import pitch

    spelt = pitch.Pitch(spelling[midi % 12])
    spelt.octave = 4
    spelt.octave += (midi - spelt.midi) // 12
    return spelt


def _meter_and_tempo(score):
    """The piece's first time signature (4/4 without one) and tempo mark (or None)."""
    from music21 import meter

    flat = score.flatten()
    found = flat.getElementsByClass("TimeSignature").first()
    tempo = flat.getElementsByClass("MetronomeMark").first()
    return found or meter.TimeSignature("4/4"), tempo


def _is_drums(part) -> bool:
    """Whether `part` is MIDI channel 10's: music21 reads its notes as unpitched."""
    return bool(part.flatten().getElementsByClass(("Unpitched", "PercussionChord")))


def _drums(part, meter):
    """The drum part on a percussion staff in the piece's metre, named."""
    from music21 import clef, stream

    flat, drums = part.flatten(), stream.Part()
    for element in flat.notesAndRests:
        drums.insert(flat.elementOffset(element), element)
    drums.insert(0, clef.PercussionClef())
    drums.insert(0, meter.__class__(meter.ratioString))
    drums.partName = "Drums"
    return drums


def _instrument(part):
    """(the instrument music21 read for `part` or None, the name its staff shows)."""
    found = part.flatten().getElementsByClass("Instrument").first()
    name = (found.instrumentName if found else None) or part.partName or "Piano"
    return found, name
