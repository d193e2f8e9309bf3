"""Loss curves of a run: `loss.csv` and `loss.png` in its checkpoint folder, after every epoch."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from generator.atomic import write_figure, write_text

CSV, PNG = "loss.csv", "loss.png"
COLUMNS = ("epoch", "loss", "val_loss", "seconds")


def write_curves(run_dir: Path, history: list[dict], unit: str) -> None:
    """Write the per-epoch training and validation loss as CSV and as a plot (atomically)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in history:
        writer.writerow([row[c] for c in COLUMNS])
    write_text(Path(run_dir) / CSV, out.getvalue())
    if history:
        _plot(Path(run_dir) / PNG, history, unit)


def _plot(path: Path, history: list[dict], unit: str) -> None:
    from matplotlib.figure import Figure  # a bare Figure draws to files: no window, no pyplot

    figure = Figure(figsize=(6, 3.5), dpi=100)
    axes = figure.add_subplot()
    epochs = [row["epoch"] for row in history]
    axes.plot(epochs, [row["loss"] for row in history], marker=".", label="training")
    axes.plot(epochs, [row["val_loss"] for row in history], marker=".", label="validation")
    best = min(history, key=lambda row: row["val_loss"])
    axes.axvline(best["epoch"], color="grey", linewidth=0.8, linestyle=":")
    axes.set_xlabel("epoch")
    axes.set_ylabel(f"loss ({unit})")
    axes.set_title(f"best validation {best['val_loss']:.4f} at epoch {best['epoch']}")
    axes.legend()
    axes.grid(alpha=0.3)
    write_figure(figure, path)
