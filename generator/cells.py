"""What an LSTM's cells track: their activity over a stream, and the cells that follow simple
features of it.

`activity` runs the model's LSTM layers over a stream in NumPy, one token at a time, and keeps
each layer's cell state and forget gate at every step: a plain forward pass whose output a test
holds to Keras' step model. `features` gives, per token, what a reader would count: for verse
the position in the line, words and syllables so far in it, whether inside quotation marks or
brackets, and how many lines up the line's rhyme partner is; for music the position in the bar,
seconds since the last note began, the notes sounding and the last note's distance from the
key's tonic. `tracking` finds, for each layer and feature, the cell whose state follows it best
(Pearson's r), and `holding` turns each layer's forget gates into how many tokens a cell keeps
half of what it holds.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from generator import keys
from generator.vocab import SPECIALS

VERSE_FEATURES = ("position in line", "words in line", "syllables in line",
                  "inside quotes or brackets", "lines up to the rhyme partner")  # fmt: skip
MUSIC_FEATURES = ("position in bar", "seconds since a note began", "notes sounding",
                  "semitones above the tonic")  # fmt: skip
OPEN, CLOSE = "“([", "”)]"  # and a straight quote, which opens or closes by turns


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def activity(model, ids) -> list[dict]:
    """Per layer: {"cell", "forget", "hidden"}, each (steps, units): the cell state, forget
    gate and output after each id of `ids`, run from a zero state."""
    from generator.model import lstm_cells

    x = np.asarray(model.get_layer("embed").embeddings)[np.asarray(ids)]  # (steps, embed)
    layers = []
    for cell in lstm_cells(model):
        kernel, recurrent = np.asarray(cell.kernel), np.asarray(cell.recurrent_kernel)
        inputs = x @ kernel + np.asarray(cell.bias)  # every step's input product at once
        units = recurrent.shape[0]
        h, c = np.zeros(units, np.float32), np.zeros(units, np.float32)
        found = {name: np.zeros((len(x), units), np.float32) for name in ("cell", "forget")}
        found["hidden"] = np.zeros((len(x), units), np.float32)
        for t in range(len(x)):
            i, f, g, o = np.split(inputs[t] + h @ recurrent, 4)  # Keras' gate order
            f = _sigmoid(f)
            c = f * c + _sigmoid(i) * np.tanh(g)
            h = _sigmoid(o) * np.tanh(c)
            found["cell"][t], found["forget"][t], found["hidden"][t] = c, f, h
        layers.append(found)
        x = found["hidden"]
    return layers


def features(plugin, tokens: list[str]) -> dict[str, np.ndarray]:
    """Per token, the features its plugin's kind of stream has, as they stand after it."""
    if plugin.kind == "verse":
        return verse_features(plugin, tokens)
    if plugin.kind == "music":
        return music_features(plugin, tokens)
    return {}


def verse_features(plugin, tokens: list[str]) -> dict[str, np.ndarray]:
    from generator.verse import prosody

    found = {name: np.zeros(len(tokens), np.float32) for name in VERSE_FEATURES}
    length = depth = words = syllables = 0
    word, quoted = "", False  # the word being spelt; inside straight quotes
    for t, token in enumerate(tokens):
        for char in "" if token in SPECIALS else plugin.text([token]):
            if char.isalpha() or (char == "'" and word):
                word += char
                length += 1
                continue
            if word:  # a word ends: counted, with its syllables
                words, syllables, word = words + 1, syllables + prosody.rule_syllables(word), ""
            if char == "\n":
                length = words = syllables = 0
                continue
            length += 1
            quoted ^= char == '"'
            depth = max(0, depth + (char in OPEN) - (char in CLOSE))
        found["position in line"][t] = length
        found["words in line"][t] = words + bool(word)
        found["syllables in line"][t] = syllables
        found["inside quotes or brackets"][t] = depth > 0 or quoted
    found["lines up to the rhyme partner"] = _partner_lines(plugin, tokens)
    return found


def _partner_lines(plugin, tokens: list[str]) -> np.ndarray:
    """Per token, how many lines up its line's rhyme partner is (the nearest line, up to
    `partners.LOOKBACK` up, whose last word rhymes with this line's; 0 for none)."""
    from generator.verse import prosody
    from generator.verse.partners import distances

    texts = ["" if t in SPECIALS else plugin.text([t]) for t in tokens]
    distance = distances([prosody.last_word(line) for line in "".join(texts).split("\n")])
    found, line = np.zeros(len(tokens), np.float32), 0
    for t, text in enumerate(texts):
        found[t] = distance[line]  # a line break belongs to the line it ends
        line += text.count("\n")
    return found


def music_features(plugin, tokens: list[str]) -> dict[str, np.ndarray]:
    plain = [not (t in SPECIALS or keys.key_of_token(t)) for t in tokens]
    steps = [plugin.token_length(t, "seconds") if p else 0.0 for t, p in zip(tokens, plain)]
    times = np.cumsum(steps)
    played = [t for t, p in zip(tokens, plain) if p]
    notes = [n for n in plugin.notes(played) if not n.drum]
    # a note has begun once its token is read, not when the time it starts at is reached
    onsets = np.array([p and plugin.token_pitch(t) is not None for t, p in zip(tokens, plain)])
    found = {}
    if _timed(times[onsets], notes):
        found = _timing(times, onsets, notes, np.array([0.0, *plugin.bar_seconds(played)]))
    key = next(filter(None, map(keys.key_of_token, tokens)), None)
    if key is not None:
        tonic = keys.TONICS.index(key.split()[0])
        last, above = None, []
        for token in tokens:
            pitch = plugin.token_pitch(token) if token not in SPECIALS else None
            last = pitch if pitch is not None else last
            above.append(0 if last is None else (last - tonic) % 12)
        found["semitones above the tonic"] = np.array(above)
    return {name: np.asarray(value, np.float32) for name, value in found.items()}


def _timed(onset_times: np.ndarray, notes) -> bool:
    """Whether the tokens' own lengths place each note where the plugin's decoder does: true of
    streams timed in seconds (`midi`); not of those timed by bar, position and tempo (`remi`,
    `tsd`), whose timing features are then left out rather than measured wrong."""
    starts = np.sort([n.start for n in notes])
    return bool(len(starts)) and _near(starts, onset_times) and _near(onset_times, starts)


def _near(these: np.ndarray, those: np.ndarray, within: float = 0.02) -> bool:
    """Whether every one of `these` times lies within `within` of one of `those`."""
    those = np.sort(those)
    if not len(those):
        return not len(these)
    after = np.clip(np.searchsorted(those, these), 0, len(those) - 1)
    before = np.clip(after - 1, 0, len(those) - 1)
    gaps = np.minimum(np.abs(these - those[after]), np.abs(these - those[before]))
    return bool((gaps <= within).all())


def _timing(times: np.ndarray, onsets: np.ndarray, notes, bars: np.ndarray) -> dict:
    """Position in the bar, seconds since a note began and notes sounding, after each token."""
    bar = np.diff(bars).mean() if len(bars) > 1 else 2.0
    found = {"position in bar": (times - bars[np.searchsorted(bars, times, "right") - 1]) / bar}
    starts, ends = np.array([n.start for n in notes]), np.array([n.end for n in notes])
    since, sounding, began, now_on = [], [], None, 0
    for k, (time, onset) in enumerate(zip(times, onsets)):
        now_on = (now_on if k and time == times[k - 1] else 0) + onset
        began = time if onset else began
        since.append(time - began if began is not None else time)
        sounding.append(int(((starts < time) & (ends > time)).sum()) + now_on)
    found["seconds since a note began"], found["notes sounding"] = since, sounding
    return found


def correlations(states: np.ndarray, feature: np.ndarray) -> np.ndarray:
    """Pearson's r of each column of `states` (steps, units) with `feature` (steps,); 0 for
    a column that does not vary."""
    s = states - states.mean(axis=0)
    f = feature - feature.mean()
    norms = np.sqrt((s**2).sum(axis=0) * (f**2).sum())
    return np.divide(s.T @ f, norms, out=np.zeros(states.shape[1]), where=norms > 0)


def tracking(layers: list[dict], found: dict[str, np.ndarray], skip: int = 0) -> list[dict]:
    """For each layer and feature, the cell whose state follows the feature best over the
    steps after the first `skip`: {"layer" (1-based), "feature", "cell", "r", "half_life"}."""
    rows = []
    for number, layer in enumerate(layers, 1):
        for name, feature in found.items():
            feature = feature[skip:]
            if feature.std() == 0:
                continue
            r = correlations(layer["cell"][skip:], feature)
            best = int(np.argmax(np.abs(r)))
            forget = float(layer["forget"][skip:, best].mean())
            rows.append({"layer": number, "feature": name, "cell": best, "r": float(r[best]),
                         "half_life": half_life(forget)})  # fmt: skip
    return rows


def chosen(rows: list[dict]) -> list[tuple[int, int, str]]:
    """The cells worth drawing, strongest first: the best cell of each feature over the layers
    (one cell may follow several features: drawn once), as (layer, cell, label)."""
    best = {}
    for row in sorted(rows, key=lambda r: abs(r["r"])):
        best[row["feature"]] = row
    found, seen = [], set()
    for row in sorted(best.values(), key=lambda r: -abs(r["r"])):
        if (row["layer"], row["cell"]) not in seen:
            seen.add((row["layer"], row["cell"]))
            found.append((row["layer"], row["cell"], f"{row['feature']}: r {row['r']:+.2f}"))
    return found


def half_life(forget: float) -> float | None:
    """Steps a cell with this forget gate keeps half of what it holds (None: for ever)."""
    if forget >= 1.0:
        return None
    return math.log(0.5) / math.log(forget) if forget > 0 else 0.0


def holding(layers: list[dict]) -> list[dict]:
    """Per layer: the median forget gate, and the share of cells that keep half for over 100
    steps."""
    out = []
    for number, layer in enumerate(layers, 1):
        per_cell = layer["forget"].mean(axis=0)
        lives = [half_life(float(f)) for f in per_cell]
        long = float(np.mean([life is None or life > 100 for life in lives]))
        out.append({"layer": number, "median_forget": float(np.median(per_cell)),
                    "half_life": half_life(float(np.median(per_cell))),
                    "long_memory_cells": long})  # fmt: skip
    return out


def stream_of(ckpt, path=None, length: int = 600, seed: int = 0, which: str = "best"):
    """The ids a model is inspected on, with their tokens and how many of them are the given
    head (`<start>`, lead-in, key): a piece drawn from the model (`length` tokens, `seed`), or
    the file at `path` read by the run's plugin."""
    from generator import checkpoint as ckpt_io
    from generator.config import SampleConfig
    from generator.sample import Sampler

    sampler = Sampler(ckpt, which)
    if path is not None:
        tokens = _read(ckpt_io.plugin_of(ckpt), Path(path))
        head = sampler.start([])
        ids = np.concatenate([head, ckpt.vocab.encode(tokens)]).astype(np.int32)
    else:
        key = sampler.keys(1, None, seed)
        head = sampler.start([], key[0])
        config = SampleConfig(seed=seed, max_tokens=length)
        controls = sampler.controls(key, [], 0.0)
        rows, _, _ = sampler.draw(head[None], config, want_logp=False, controls=controls)
        ids = np.concatenate([head, rows[0]]).astype(np.int32)
    return ids, [ckpt.vocab.tokens[i] for i in ids], len(head)


def _read(plugin, path: Path) -> list[str]:
    """The tokens of the file at `path` as the run's plugin reads a corpus file."""
    from generator.errors import GenError

    if not path.is_file():
        raise GenError(f"--path '{path}' is not a file")
    try:
        return plugin.encode_file(path)
    except (GenError, OSError) as exc:
        raise GenError(f"'{path}': {exc}") from None


def report(rows: list[dict], held: list[dict], steps: int, unit: str) -> list[str]:
    """The lines `gen inspect` prints."""
    lines = [f"over {steps:,} {unit}s; for each layer, the cell whose state follows each "
             "feature best (Pearson's r) and how long it keeps half of what it holds"]  # fmt: skip
    for layer in held:
        life = layer["half_life"]
        lines.append(
            f"layer {layer['layer']}: median forget gate {layer['median_forget']:.3f} (half "
            f"kept for {'ever' if life is None else f'{life:.1f} {unit}s'}); "
            f"{100 * layer['long_memory_cells']:.0f} % of cells keep half for over 100"
        )
        for row in (r for r in rows if r["layer"] == layer["layer"]):
            kept = "ever" if row["half_life"] is None else f"{row['half_life']:.1f}"
            lines.append(f"  {row['feature']:<30} cell {row['cell']:>4}  r {row['r']:+.2f}  "
                         f"half-life {kept}")  # fmt: skip
    return lines
