"""Where `gen sample` writes: output names checked before any sampling, and safe writes.

Output goes through a temporary file beside the target and a rename, so a crash never leaves a
half-written file, and an existing file is only replaced with `force`.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from generator.atomic import atomic_path
from generator.errors import GenError

PIANO_ROLL = ".png"  # music written as this suffix is drawn, not played


def output_path(out: Path, num: int, suffix: str, k: int) -> Path:
    """The path of output `k` (0-based) of `num`: `song.mid` for one output, `song-1.mid` ...
    `song-N.mid` for several (the plugin's `suffix` where `out` has none)."""
    out = Path(out)
    if not out.suffix:
        out = out.with_suffix(suffix)
    return out if num == 1 else out.with_name(f"{out.stem}-{k + 1}{out.suffix}")


def piano_roll_path(path: Path) -> Path:
    """Where `--plot` draws the piano roll of the output at `path`: beside it, as .png."""
    return path.with_suffix(PIANO_ROLL)


def draws_piano_roll(plugin, path: Path | None) -> bool:
    """Whether `path` asks for a piano roll of music, rather than the plugin's own writer."""
    return path is not None and plugin.kind == "music" and path.suffix.lower() == PIANO_ROLL


def check_targets(out: str, num: int, plugin, force: bool, plot: bool = False) -> None:
    """Refuse, before any sampling, outputs that cannot be written: a bad name, a suffix the
    plugin cannot write, existing files without `force`, a missing or read-only folder."""
    if plot and plugin.kind != "music":
        raise GenError(
            f"--plot draws piano rolls of music; this checkpoint's corpus '{plugin.name}' is "
            "not music (drop --plot)"
        )
    if plot and out == "-":
        raise GenError("--plot writes NAME.png beside each output; give --out NAME, not '-'")
    if out == "-":
        if num > 1 and plugin.binary_output:
            raise GenError(
                f"several {plugin.suffix} files cannot share standard output; give --out NAME"
            )
        return
    if not out.strip() or Path(out).name in ("", ".", "..") or out.endswith(("/", os.sep)):
        raise GenError(f"--out '{out}' is not a file name")
    if Path(out).is_dir():
        raise GenError(f"--out '{out}' is a folder; give a file name")
    _check_suffix(Path(out).suffix.lower(), plugin)
    _check_free(out, num, plugin, force, plot)


def _check_suffix(suffix: str, plugin) -> None:
    writable = plugin.output_suffixes
    if plugin.kind == "music" and writable:
        writable = (*writable, PIANO_ROLL)
    if suffix and writable and suffix not in writable:
        raise GenError(
            f"this checkpoint's corpus '{plugin.name}' writes {', '.join(writable)} files, "
            f"not {suffix}; change --out or pick another run with --checkpoint"
        )
    if suffix == ".pdf":  # no engraver: say so now, not after minutes of sampling
        from generator.corpora.music21_io import pdf_engine

        pdf_engine()


def _check_free(out: str, num: int, plugin, force: bool, plot: bool) -> None:
    """Refuse existing outputs (unless `force`) and a folder that cannot be written."""
    if not force:
        for k in range(num):  # one path at a time: -n may be large
            path = output_path(Path(out), num, plugin.suffix, k)
            roll = piano_roll_path(path) if plot else None
            for taken in (path, roll):
                if taken is not None and taken.exists():
                    raise GenError(f"{taken} already exists; use --force to overwrite")
    folder = output_path(Path(out), num, plugin.suffix, 0).parent
    if not folder.is_dir():
        raise GenError(f"output folder '{folder}' does not exist")
    if not os.access(folder, os.W_OK):
        raise GenError(f"output folder '{folder}' is not writable")


def write_output(
    plugin, tokens: list[str], path: Path | None, gap: bytes = b"", heading=(None, None, None)
) -> bytes:
    """Write through a temporary file beside `path`; None: standard output, after `gap`.
    Returns the last byte written (for the gap before the next output on standard output).
    Sheet music is headed by `heading`: (title, default `path`'s name; subtitle; key)."""
    from generator.corpora import notation

    title, subtitle, key = heading
    with notation.heading(title or (Path(path).stem if path else None), subtitle, key):
        return _write_output(plugin, tokens, path, gap)


def _write_output(plugin, tokens: list[str], path: Path | None, gap: bytes) -> bytes:
    if path is None:
        with tempfile.TemporaryDirectory() as folder:
            tmp = Path(folder) / f"out{plugin.suffix}"
            plugin.write(tokens, tmp)
            data = gap + tmp.read_bytes()
            try:
                sys.stdout.buffer.write(data)
                sys.stdout.flush()
            except BrokenPipeError:  # e.g. `gen sample --out - | head`: the reader left
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return data[-1:]
    try:
        with atomic_path(path) as tmp:
            plugin.write(tokens, tmp)
    except OSError as exc:
        raise GenError(f"cannot write '{path}': {exc.strerror or exc}") from None
    return b""
