"""Pictures of what cells track: `gen inspect`'s PNG (the stream above, the chosen cells'
states below) and, for verse, an HTML page of the text coloured by each cell."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from generator.atomic import write_figure, write_text
from generator.vocab import SPECIALS

MAX_TRACES = 4


def plot(path: Path, plugin, tokens: list[str], layers: list[dict], chosen: list[tuple]) -> None:
    """A PNG: for music the notes over time, for verse the line breaks; beneath, the state of
    each chosen (layer, cell, label) over the same steps."""
    from matplotlib.figure import Figure

    chosen = chosen[:MAX_TRACES]
    figure = Figure(figsize=(10, 2.2 + 1.4 * len(chosen)), dpi=100)
    axes = figure.subplots(len(chosen) + 1, 1, sharex=True, squeeze=False)[:, 0]
    steps = np.arange(len(tokens))
    _stream(axes[0], plugin, tokens)
    for ax, (layer, cell, label) in zip(axes[1:], chosen):
        ax.plot(steps, layers[layer - 1]["cell"][:, cell], linewidth=0.8)
        ax.axhline(0, color="grey", linewidth=0.5)
        ax.set_ylabel(f"L{layer} #{cell}", rotation=0, ha="right")
        ax.set_title(label, fontsize=9, loc="left")
    axes[-1].set_xlabel(f"{plugin.token_name}s")
    write_figure(figure, path)


def _stream(ax, plugin, tokens: list[str]) -> None:
    """The stream itself, against the token index: notes as bars, or line breaks."""
    if plugin.kind == "music":
        for step, token in enumerate(tokens):
            pitch = plugin.token_pitch(token) if token not in SPECIALS else None
            if pitch is not None:
                ax.plot([step, step + 1], [pitch, pitch], color="tab:blue", linewidth=2)
        ax.set_ylabel("pitch")
        ax.set_title("note-ons of the stream", fontsize=9, loc="left")
        return
    breaks = [k for k, t in enumerate(tokens) if t == getattr(plugin, "line_break", None)]
    ax.vlines(breaks, 0, 1, color="tab:blue", linewidth=0.6)
    ax.set_yticks([])
    ax.set_title("line breaks of the stream", fontsize=9, loc="left")


def page(path: Path, plugin, tokens: list[str], layers: list[dict], chosen: list[tuple]) -> None:
    """An HTML page of the text once per chosen cell, each character shaded by the cell's
    state after it (red above zero, blue below), as char-rnn's pictures show them."""
    blocks = []
    for layer, cell, label in chosen:
        values = layers[layer - 1]["cell"][:, cell]
        scale = float(np.abs(values).max()) or 1.0
        spans = []
        for token, value in zip(tokens, values):
            if token in SPECIALS:
                continue
            text = plugin.text([token])
            colour = "255,80,60" if value > 0 else "60,120,255"
            alpha = min(1.0, abs(float(value)) / scale)
            title = f"{value:+.3f}"
            spans.append(f'<span style="background:rgba({colour},{alpha:.2f})" '
                         f'title="{title}">{html.escape(text)}</span>')  # fmt: skip
        heading = html.escape(f"layer {layer}, cell {cell}: {label}")
        blocks.append(f"<h2>{heading}</h2>\n<pre>{''.join(spans)}</pre>")
    write_text(Path(path), "<!doctype html>\n<meta charset='utf-8'>\n<title>gen inspect</title>\n"
               "<style>body{font-family:sans-serif} pre{font-size:15px;line-height:1.5;"
               "white-space:pre-wrap}</style>\n" + "\n".join(blocks) + "\n")  # fmt: skip
