"""What an LSTM's cells track: their activity over a stream, and the cells that follow simple
features of it.

`activity` runs the model's LSTM layers over a stream in NumPy, one token at a time, and keeps
each layer's cell state and forget gate at every step: a plain forward pass whose output a test
holds to Keras' step model. `features` gives, per token, what a reader would count: for verse
the position in the line, words and syllables so far in it, and whether inside quotation marks
or brackets; for music the position in the bar, seconds since the last
note began, the notes sounding and the last note's distance from the key's tonic. `tracking`
finds, for each layer and feature, the cell whose state follows it best (Pearson's r), and
`holding` turns each layer's forget gates into how many tokens a cell keeps half of what it
holds.
"""

from __future__ import annotations

import math

import numpy as np

from generator import keys
from generator.vocab import SPECIALS

VERSE_FEATURES = ("position in line", "words in line", "syllables in line",
                  "inside quotes or brackets")  # fmt: skip
MUSIC_FEATURES = ("position in bar", "seconds since a note began", "notes sounding",
                  "semitones above the tonic")  # fmt: skip
OPEN, CLOSE = '"“([', '"”)]'  # a straight quote opens or closes, by what came before


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
    line, depth = "", 0
    for t, token in enumerate(tokens):
        for char in "" if token in SPECIALS else plugin.text([token]):
            if char == "\n":
                line = ""
                continue
            line += char
            if char in CLOSE and depth:
                depth -= 1
            elif char in OPEN:
                depth += 1
        words = prosody.words(line)
        done = words[:-1] if line[-1:].isalpha() else words  # a word still being spelt
        found["position in line"][t] = len(line)
        found["words in line"][t] = len(words)
        found["syllables in line"][t] = sum(prosody.rule_syllables(w) for w in done)
        found["inside quotes or brackets"][t] = depth > 0
    return found


def music_features(plugin, tokens: list[str]) -> dict[str, np.ndarray]:
    plain = [not (t in SPECIALS or keys.key_of_token(t)) for t in tokens]
    steps = [plugin.token_length(t, "seconds") if p else 0.0 for t, p in zip(tokens, plain)]
    times = np.cumsum(steps)
    played = [t for t, p in zip(tokens, plain) if p]
    notes = [n for n in plugin.notes(played) if not n.drum]
    bars = np.array([0.0, *plugin.bar_seconds(played)])
    bar = np.diff(bars).mean() if len(bars) > 1 else 2.0
    last_bar = bars[np.searchsorted(bars, times, side="right") - 1]
    found = {"position in bar": (times - last_bar) / bar}
    # a note has begun once its token is read, not when the time it starts at is reached
    onsets = [p and plugin.token_pitch(t) is not None for t, p in zip(tokens, plain)]
    since, sounding, began, now_on = [], [], None, 0
    for k, (time, onset) in enumerate(zip(times, onsets)):
        now_on = (now_on if k and time == times[k - 1] else 0) + onset
        began = time if onset else began
        since.append(time - began if began is not None else time)
        sounding.append(sum(n.start < time < n.end for n in notes) + now_on)
    found["seconds since a note began"], found["notes sounding"] = since, sounding
    key = next((keys.key_of_token(t) for t in tokens if keys.key_of_token(t)), None)
    if key is not None:
        tonic = keys.TONICS.index(key.split()[0])
        last, above = None, []
        for token in tokens:
            pitch = plugin.token_pitch(token) if token not in SPECIALS else None
            last = pitch if pitch is not None else last
            above.append(0 if last is None else (last - tonic) % 12)
        found["semitones above the tonic"] = np.array(above)
    return {name: np.asarray(value, np.float32) for name, value in found.items()}


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
        long = float(np.mean([(half_life(f) or math.inf) > 100 for f in per_cell]))
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
        tokens = ckpt_io.plugin_of(ckpt).encode_primer(str(path))
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
            lines.append(f"  {row['feature']:<28} cell {row['cell']:>4}  r {row['r']:+.2f}  "
                         f"half-life {kept}")  # fmt: skip
    return lines
