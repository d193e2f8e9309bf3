"""Statistics of pieces, for comparing generated output with its training corpus.

Music (the notes a music plugin reads in a stream): pitch-class histogram, note density, pitch
range, note length, polyphony, the share of notes in the key music21's key analysis finds and
the share of onsets on a sixteenth-note grid.
Verse (the text a verse plugin makes of a stream): line lengths, distinct word n-grams,
syllables per line and rhyme between nearby lines. `measure` asks the plugin's kind which
applies; each returns named figures averaged over the pieces.
"""

from __future__ import annotations

import numpy as np


def _mean(values) -> float | None:
    values = list(values)
    return float(np.mean(values)) if values else None


def measure(plugin, streams: list[list[str]]) -> dict:
    """The statistics of token streams for the plugin's kind (music or verse)."""
    if plugin.kind == "music":
        return music([plugin.notes(s) for s in streams], [plugin.beat_seconds(s) for s in streams])
    return verse([plugin.text(s) for s in streams])


NOTE_SHARE = 99.9  # percent of a corpus's notes that end within its note limit


def note_limit(plugin, streams: list[list[str]]) -> float | None:
    """The length (seconds) within which `NOTE_SHARE` % of the notes of `streams` end, for a
    music plugin; None for verse or streams without notes. A sample's written notes end
    there: a note whose end the model never writes does not sound on for seconds."""
    if plugin.kind != "music":
        return None
    lengths = [n.end - n.start for s in streams for n in plugin.notes(s)]
    return round(float(np.percentile(lengths, NOTE_SHARE)), 2) if lengths else None


def pitch_class_histogram(pieces: list[list]) -> np.ndarray:
    """Share of sounding time in each of the 12 pitch classes (C = 0), shape (12,); drums,
    which have no pitch class, are left out."""
    hist = np.zeros(12)
    for notes in pieces:
        for n in notes:
            if not n.drum:
                hist[n.pitch % 12] += max(n.end - n.start, 1e-3)
    return hist / hist.sum() if hist.sum() else hist


def in_key_share(notes) -> tuple[float | None, str | None]:
    """Share of notes (by count) whose pitch class belongs to the key music21 finds for them
    (`analyze("key")`), and that key's name."""
    if not notes:
        return None, None
    from music21 import note, stream

    part = stream.Stream()
    for n in notes:
        part.insert(n.start * 2, note.Note(n.pitch, quarterLength=max(n.end - n.start, 0.01) * 2))
    key = part.analyze("key")  # offsets in quarter notes at 120 bpm
    scale = {p.pitchClass for p in key.getScale().getPitches()}
    return sum(n.pitch % 12 in scale for n in notes) / len(notes), str(key)


GRID_TOLERANCE = 0.011  # seconds: a performance's time shifts are 10 ms steps


def on_grid_share(notes, beat_seconds: float) -> float | None:
    """Share of onsets within `GRID_TOLERANCE` of a sixteenth-note grid (a quarter note
    lasting `beat_seconds`), pitched notes only; None without any."""
    onsets = np.array([n.start for n in notes if not n.drum])
    if not len(onsets):
        return None
    sixteenth = beat_seconds / 4
    off = np.abs(onsets / sixteenth - np.round(onsets / sixteenth)) * sixteenth
    return float((off <= GRID_TOLERANCE).mean())


def music(pieces: list[list], beats: list[float] | None = None) -> dict:
    """Music statistics over pieces, each a list of `Note`s (averaged over the pieces); with
    each piece's quarter-note length in `beats`, also the share of onsets on the grid."""
    per_piece = []
    for notes, beat in zip(pieces, beats or [None] * len(pieces)):
        notes = [n for n in notes if not n.drum]  # pitch statistics: pitched notes only
        if not notes:
            continue
        seconds = max(n.end for n in notes)
        pitches = [n.pitch for n in notes]
        # polyphony: mean number of notes sounding, over the time when any sounds
        edges = sorted([(n.start, 1) for n in notes] + [(n.end, -1) for n in notes])
        sounding, last, weighted, busy = 0, 0.0, 0.0, 0.0
        for t, change in edges:
            if sounding:
                weighted += sounding * (t - last)
                busy += t - last
            sounding, last = sounding + change, t
        share, _ = in_key_share(notes)
        per_piece.append(
            {
                "notes_per_second": len(notes) / seconds if seconds else None,
                "pitch_range": max(pitches) - min(pitches),
                "mean_note_seconds": _mean(n.end - n.start for n in notes),
                "polyphony": weighted / busy if busy else 1.0,
                "in_key_share": share,
                "on_grid_share": on_grid_share(notes, beat) if beat else None,
            }
        )
    keys = ("notes_per_second", "pitch_range", "mean_note_seconds", "polyphony", "in_key_share")
    keys += ("on_grid_share",) if beats else ()
    out = {k: _mean(p[k] for p in per_piece if p[k] is not None) for k in keys}
    out["pieces"] = len(per_piece)
    out["pitch_classes"] = pitch_class_histogram(pieces).round(4).tolist()
    return out


DISTINCT_CHUNK = 100  # words per chunk for distinct-n


def verse(texts: list[str]) -> dict:
    """Verse statistics over pieces of text."""
    from generator.verse import prosody

    lines = [line for text in texts for line in text.split("\n") if line.strip()]
    lengths = [len(line) for line in lines]
    words = [w.lower() for line in lines for w in prosody.words(line)]
    out = {
        "lines": len(lines),
        "mean_line_chars": _mean(lengths),
        "line_chars_sd": float(np.std(lengths)) if lengths else None,
        "line_chars_p10_p90": (
            [float(np.percentile(lengths, 10)), float(np.percentile(lengths, 90))]
            if lengths
            else None
        ),
    }
    chunks = [words[i : i + DISTINCT_CHUNK] for i in range(0, len(words), DISTINCT_CHUNK)]
    for n in (1, 2):  # per chunk of equal length, so a corpus and a few samples compare
        shares = []
        for chunk in chunks:
            grams = [tuple(chunk[i : i + n]) for i in range(len(chunk) - n + 1)]
            if len(grams) >= min(len(words) - n + 1, DISTINCT_CHUNK // 2):
                shares.append(len(set(grams)) / len(grams))
        out[f"distinct_{n}"] = _mean(shares)
    syllables = [min(prosody.line_syllables(line)) for line in lines]
    out["mean_syllables"] = _mean(syllables)
    ends = [prosody.last_word(line) for line in lines]
    rhymed = [  # a line rhymes if one of the 3 lines before or after it ends in a rhyme
        any(
            prosody.rhymes(ends[i], ends[j]) and ends[i] != ends[j]
            for j in range(max(0, i - 3), min(len(ends), i + 4))
            if j != i
        )
        for i in range(len(ends))
    ]
    out["rhymed_line_share"] = _mean(rhymed)
    return out


def histogram_distance(a, b) -> float:
    """Total variation distance between two distributions: 0 identical, 1 disjoint."""
    return 0.5 * float(np.abs(np.asarray(a) - np.asarray(b)).sum())
