"""Keys as control tokens for music: each piece's key, found by music21's analysis, opens its
stream in the token store (`<key:D minor>`) and comes again after every `EVERY` of its tokens,
so that every training window holds it and a model learns to write in the key it is given
(`gen sample --key "D minor"`); without one, a key is drawn as often as the corpus has it.

The sampler never draws a key token itself: it gives it at the start, and again whenever it is
due, as the corpus has it.
"""

from __future__ import annotations

import re

import numpy as np

from generator.errors import GenError

TONICS = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MODES = ("major", "minor")
EVERY = 64  # a piece's key token comes again after this many of its tokens
KEYS = tuple(f"{tonic} {mode}" for mode in MODES for tonic in TONICS)  # 24 names
# semitones above the tonic; minor-key music raises its seventh, so the leading tone is in
SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10, 11)}
SPELLINGS = {"DB": 1, "D#": 3, "GB": 6, "G#": 8, "A#": 10, "CB": 11, "B#": 0, "E#": 5, "FB": 4}


def token(key: str) -> str:
    """The control token of a key name: `<key:D minor>`."""
    return f"<key:{key}>"


TOKENS = tuple(token(key) for key in KEYS)


def key_of_token(text: str) -> str | None:
    """The key a control token names, or None for any other token."""
    match = re.fullmatch(r"<key:(.+)>", text)
    return match.group(1) if match and match.group(1) in KEYS else None


def tonic_class(name: str) -> int | None:
    """The pitch class of a tonic written C, c#, Db, B- (music21's flat) or Bb."""
    name = name.strip().upper().replace("-", "B").replace("♭", "B").replace("♯", "#")
    if len(name) == 2 and name[1] == "B" and name[0] in "ABCDEFG":
        name = name[0] + "B"
    if name in SPELLINGS:
        return SPELLINGS[name]
    upper = [t.upper() for t in TONICS]
    return upper.index(name) if name in upper else None


def parse(text: str) -> str:
    """`--key "D minor"` (also `d minor`, `Dm`, `F#`, `Bb major`, `B- major`) as a key name."""
    match = re.fullmatch(r"\s*([A-Ga-g][#b♯♭-]?)\s*(major|minor|maj|min|m|M)?\s*", text)
    pitch = tonic_class(match.group(1)) if match else None
    if pitch is None:
        raise GenError(f"unknown key '{text}'; give one of {', '.join(KEYS)} (or Dm, F#, Bb)")
    mode = "minor" if match.group(2) in ("minor", "min", "m") else "major"
    return f"{TONICS[pitch]} {mode}"


def scale_classes(key: str) -> set[int]:
    """The pitch classes of a key's scale: major, or natural minor with its leading tone."""
    tonic, mode = key.split()
    return {(TONICS.index(tonic) + step) % 12 for step in SCALES[mode]}


def transposed(key: str, semitones: int) -> str:
    """The key `semitones` above `key`."""
    tonic, mode = key.split()
    return f"{TONICS[(TONICS.index(tonic) + semitones) % 12]} {mode}"


def controls(plugin, piece: list[str]) -> list[str]:
    """The control tokens that open a piece's stream after `<start>` and the lead-in: its key,
    for music; none for other plugins, or for a piece without pitched notes."""
    if plugin.kind != "music":
        return []
    try:
        key = key_of(plugin.notes(piece))
    except GenError:  # tokens the plugin cannot play: no key to find
        return []
    return [token(key)] if key else []


def piece_counts(stream, vocab, lead_in: int) -> dict[str, int]:
    """How many pieces of an id stream (a `data.SegmentedStream` of the store) are in each
    key: the key token that follows each `<start>` and its `lead_in` ids."""
    counts: dict[str, int] = {}
    step = 1 << 20
    for first in range(0, len(stream), step):
        ids = stream.slice(first, min(len(stream), first + step + lead_in + 1))
        for at in np.flatnonzero(ids[:step] == vocab.start_id) + 1 + lead_in:
            key = key_of_token(vocab.tokens[ids[at]]) if at < len(ids) else None
            if key:
                counts[key] = counts.get(key, 0) + 1
    return counts


def without_controls(tokens: list[str]) -> list[str]:
    """The tokens a plugin writes: a stream without its key tokens."""
    return [t for t in tokens if not key_of_token(t)]


def control_ids(vocab) -> list[int]:
    """The ids of the key tokens in `vocab`: given to a model, never scored or drawn."""
    return [i for i, t in enumerate(vocab.tokens) if key_of_token(t)]


def interleaved(control: list[str], tokens: list[str]) -> list[str]:
    """`tokens` with the `control` tokens before them and again after every `EVERY`."""
    if not control:
        return list(tokens)
    out = list(control)
    for first in range(0, len(tokens), EVERY):
        out += (control if first else []) + tokens[first : first + EVERY]
    return out


def since_last(tokens: list[str]) -> int:
    """How many tokens an `interleaved` stream of `tokens` ends with after its last control."""
    return len(tokens) - EVERY * ((len(tokens) - 1) // EVERY) if tokens else 0


def fitted(plugin, candidates: list[list[str]], key: str, fallback: bool = True):
    """Of pieces written in `key`, the first whose mode music21 finds to be the key's (else
    the first, or None without `fallback`), moved to the key's tonic where the plugin can
    transpose: music21 then finds `key` in it whenever its mode matched (the analysis does
    not change under transposition)."""
    tonic, mode = key.split()
    found = [key_of(plugin.notes(c)) for c in candidates]
    pick = next((i for i, f in enumerate(found) if f and f.split()[1] == mode), None)
    if pick is None:
        if not fallback:
            return None
        pick = 0
    if found[pick] is None:
        return candidates[pick]
    shift = (TONICS.index(tonic) - TONICS.index(found[pick].split()[0])) % 12
    moved = plugin.transposed(candidates[pick], shift - 12 if shift > 6 else shift)
    return candidates[pick] if moved is None else moved


def in_key(draw, plugin, key: str, size: int, per: int, rounds: int) -> list[list[str]]:
    """`size` pieces in `key`: each `fitted` from `per` drawn for it, and where none of them
    is in the key's mode, from `per` more, up to `rounds` draws in all (a corpus with few
    pieces in that mode). `draw(n, round)` gives n pieces written in `key`."""
    chosen: list = [None] * size
    for round_ in range(rounds):
        todo = [k for k, piece in enumerate(chosen) if piece is None]
        if not todo:
            break
        pieces = draw(len(todo) * per, round_)
        for j, k in enumerate(todo):
            mine = pieces[j * per : (j + 1) * per]
            chosen[k] = fitted(plugin, mine, key, fallback=round_ == rounds - 1)
    return chosen


# the key profiles of music21's `analyze("key")`: Aarden and Essen's weights
PROFILES = {
    "major": (17.7661, 0.145624, 14.9265, 0.160186, 19.8049, 11.3587, 0.291248, 22.062,
              0.145624, 8.15494, 0.232998, 4.95122),
    "minor": (18.2648, 0.737619, 14.0499, 16.8599, 0.702494, 14.4362, 0.702494, 18.6161,
              4.56621, 1.93186, 7.37619, 1.75623),
}  # fmt: skip


def key_of(notes) -> str | None:
    """The key music21's `analyze("key")` (a Krumhansl-Schmuckler analysis with Aarden and
    Essen's weights) finds for `notes`, or None without pitched notes: `key_of_weights` of
    their pitch classes weighed by duration, as music21 weighs them (in quarter notes at 120
    bpm)."""
    weights = np.zeros(12)
    for n in notes:
        if not n.drum:
            weights[n.pitch % 12] += max(n.end - n.start, 0.01) * 2
    return key_of_weights(weights) if weights.any() else None


def key_of_weights(weights: np.ndarray) -> str:
    """The key whose profile, started on its tonic, correlates best (Pearson) with the
    duration of each pitch class: music21's `analyze("key")` in NumPy, a thousand times
    faster (a test holds it to music21's answers), which matters for 8,514 folk tunes. Exact
    ties (all twelve pitch classes alike) go to the first key, where music21 takes the last."""
    best, name = -np.inf, ""
    centred = weights - weights.mean()
    for mode, profile in PROFILES.items():
        rows = np.array([np.roll(profile, tonic) for tonic in range(12)])  # [t, j] = w[j - t]
        rows -= rows.mean(axis=1, keepdims=True)
        norms = np.sqrt((rows**2).sum(axis=1) * (centred**2).sum())
        scores = np.where(norms > 0, rows @ centred / np.where(norms > 0, norms, 1), 0.0)
        tonic = int(np.argmax(scores))
        if scores[tonic] > best:
            best, name = scores[tonic], f"{TONICS[tonic]} {mode}"
    return name
