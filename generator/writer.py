"""Writing the outputs of `gen sample` one at a time as they are drawn: each file (or standard
output), its piano roll, and a summary of it (length, key, copy rate)."""

from __future__ import annotations

from pathlib import Path

from generator import tokenmaps
from generator.targets import draws_piano_roll, output_path, piano_roll_path, write_output


class Writer:
    """Writes outputs one at a time as they are drawn, and keeps a summary of each."""

    def __init__(self, ckpt, plugin, request, *, log, primer, seed: int, keep: bool = True):
        self.ckpt, self.plugin, self.request, self.log = ckpt, plugin, request, log
        self.seed, self.keep = seed, keep  # keep: the summaries, for `finish` to return
        self.written = 0  # outputs written so far
        self.head = primer if request.primer_in_output else plugin.carry_over(primer)
        self.summaries: list[dict] = []
        self.last_byte = b""  # of the previous output on standard output
        self.copies = None

    def count_copies(self) -> None:
        """Measure each output's copy rate from now on, if the request asks for it."""
        if self.request.report:
            from generator.copies import CopyCounter

            self.copies = CopyCounter.for_checkpoint(self.ckpt, self.plugin, self.log)

    def write(self, tokens: list[str], key: str | None = None) -> dict:
        """Write one output (with the primer or what it carries over) and its piano roll;
        its summary (with the `key` it was written in, for music with keys), kept."""
        k, request, plugin = self.written, self.request, self.plugin
        target = None
        if request.out != "-":
            target = output_path(Path(request.out), request.num, plugin.suffix, k)
        summary = {"path": str(target) if target else "-", "checkpoint": str(self.ckpt.path)}
        summary |= {"seed": self.seed, "index": k + 1, "tokens": len(tokens)}
        summary |= {"key": key} if key else {}
        summary |= output_length(plugin, tokens)
        if draws_piano_roll(plugin, target):
            write_piano_roll(plugin, self.head, tokens, target)
        else:
            gap = b"" if not k or target else (b"\n" if self.last_byte == b"\n" else b"\n\n")
            heading = self.heading(k, key)
            self.last_byte = write_output(plugin, self.head + tokens, target, gap, heading)
        if target:
            self.log(f"wrote {target} ({len(tokens)} {plugin.token_name}s)")
        if request.plot and not draws_piano_roll(plugin, target):
            roll = piano_roll_path(target)
            write_piano_roll(plugin, self.head, tokens, roll)
            summary["piano_roll"] = str(roll)
            self.log(f"wrote {roll} (piano roll)")
        summary["copy_rate"] = self.copies.add(tokens) if self.copies else None
        self.written += 1
        if self.keep:
            self.summaries.append(summary)
        return summary

    def heading(self, k: int, key: str | None) -> tuple:
        """(title, subtitle, key) of output `k` as sheet music: --title (numbered with -n),
        where it came from, and the key it was drawn in."""
        title, num = self.request.title, self.request.num
        origin = f"gen: {Path(self.ckpt.path).name}, seed {self.seed}"
        origin += f", output {k + 1}" if num > 1 else ""
        return (f"{title} {k + 1}" if title and num > 1 else title), origin, key

    def finish(self) -> list[dict]:
        """The summaries; logs where the outputs came from and the copy rate."""
        self.log(f"from {self.ckpt.path} with seed {self.seed}")
        if self.copies:
            self.log(self.copies.report_line())
        return self.summaries


def write_piano_roll(plugin, head: list[str], tokens: list[str], path: Path) -> None:
    """Draw the notes of `head + tokens` as a piano roll PNG, the head's notes as the primer.
    matplotlib is imported only here, when a roll is wanted."""
    from generator import pianoroll

    stream = head + tokens
    primer_notes = len(plugin.notes(head)) if head else 0
    notes, bars = plugin.notes(stream), plugin.bar_seconds(stream)
    pianoroll.plot_notes(notes, path, bars, primer_notes, title=Path(path).name)


def output_length(plugin, tokens: list[str]) -> dict:
    """{"seconds": ...} of music or {"lines": ...} of verse, in the first unit the plugin
    measures; {} for a plugin that measures none."""
    for unit in plugin.length_units[:1]:
        return {unit: round(tokenmaps.stream_length(plugin, tokens, unit), 3)}
    return {}
