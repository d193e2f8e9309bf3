"""Statistics of token streams, for comparing generated output with its training corpus.

Music (performance events): pitch-class histogram, note density, pitch range, note length,
polyphony and the share of notes in the key music21's key analysis finds. Verse (characters):
line lengths, distinct word n-grams, syllables per line and rhyme between nearby lines. Each
function takes a list of token streams and returns named figures; `compare` puts a sample's
figures beside the corpus's.
"""

from __future__ import annotations

import numpy as np

from generator.corpora import performance


def _mean(values) -> float | None:
    values = list(values)
    return float(np.mean(values)) if values else None


def pitch_class_histogram(streams: list[list[str]]) -> np.ndarray:
    """Share of sounding time in each of the 12 pitch classes (C = 0), shape (12,)."""
    hist = np.zeros(12)
    for stream in streams:
        for pitch, start, end, _ in performance.events_to_notes(stream):
            hist[pitch % 12] += max(end - start, 1e-3)
    return hist / hist.sum() if hist.sum() else hist


def in_key_share(notes) -> tuple[float | None, str | None]:
    """Share of notes (by count) whose pitch class belongs to the key music21 finds for them
    (Krumhansl-Schmuckler), and that key's name."""
    if not notes:
        return None, None
    from music21 import note, stream

    part = stream.Stream()
    for pitch, start, end, _ in notes:
        n = note.Note(pitch, quarterLength=max(end - start, 0.01) * 2)  # 120 bpm
        part.insert(start * 2, n)
    key = part.analyze("key")
    scale = {p.pitchClass for p in key.getScale().getPitches()}
    return sum(pitch % 12 in scale for pitch, *_ in notes) / len(notes), str(key)


def music(streams: list[list[str]]) -> dict:
    """Music statistics over streams of performance events (averaged over the streams)."""
    per_piece = []
    for stream in streams:
        notes = performance.events_to_notes(stream)
        if not notes:
            continue
        seconds = max(end for _, _, end, _ in notes)
        pitches = [p for p, *_ in notes]
        # polyphony: mean number of notes sounding, over the time when any sounds
        edges = sorted([(s, 1) for _, s, _, _ in notes] + [(e, -1) for _, _, e, _ in notes])
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
                "mean_note_seconds": _mean(e - s for _, s, e, _ in notes),
                "polyphony": weighted / busy if busy else 1.0,
                "in_key_share": share,
            }
        )
    keys = ("notes_per_second", "pitch_range", "mean_note_seconds", "polyphony", "in_key_share")
    out = {k: _mean(p[k] for p in per_piece if p[k] is not None) for k in keys}
    out["pieces"] = len(per_piece)
    out["pitch_classes"] = pitch_class_histogram(streams).round(4).tolist()
    return out


DISTINCT_CHUNK = 100  # words per chunk for distinct-n


def _lines(streams: list[list[str]]) -> list[str]:
    return [line for s in streams for line in "".join(s).split("\n") if line.strip()]


def verse(streams: list[list[str]]) -> dict:
    """Verse statistics over streams of characters."""
    from generator.corpora import prosody

    lines = _lines(streams)
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
