"""Encoding speed: MIDI files into a token store as `gen train` does, first run and cached, on
the Bach chorales and on synthetic 4-track files (which the memory section trains on too)."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

from .common import log


def synthetic_midi(folder: Path, files: int, seed: int = 0) -> list[Path]:
    """Type-1 MIDI files of 4 tracks (piano, bass, strings, drums) of random notes, ~30 s."""
    import mido

    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(files):
        mid = mido.MidiFile(type=1, ticks_per_beat=480)
        tempo = mido.MidiTrack(
            [mido.MetaMessage("set_tempo", tempo=rng.choice([400_000, 500_000, 600_000]))]
        )
        mid.tracks.append(tempo)
        for channel, low, high in ((0, 60, 84), (1, 36, 55), (2, 55, 79), (9, 35, 51)):
            track = mido.MidiTrack()
            events, tick = [], 0
            for _ in range(rng.randint(40, 80)):
                tick += rng.choice([0, 120, 240, 480])
                length = rng.choice([120, 240, 480, 960])
                pitch = rng.randint(low, high)
                events.append((tick, 1, pitch, rng.randint(40, 110)))
                events.append((tick + length, 0, pitch, 0))
            events.sort()
            last = 0
            for t, on, pitch, vel in events:
                kind = "note_on" if on else "note_off"
                track.append(
                    mido.Message(kind, note=pitch, velocity=vel, channel=channel, time=t - last)
                )
                last = t
            mid.tracks.append(track)
        path = folder / f"synthetic{n:04d}.mid"
        mid.save(path)
        paths.append(path)
    return paths


def bench_encoding(args, work: Path) -> list[dict]:
    """Files into a token store, as `gen train` does: first run (every file encoded, in
    parallel, then the shards written) and cached run (the store opened as it is)."""
    from generator.cache import cache_dir
    from generator.corpora import bach
    from generator.corpora.midi import MidiCorpus
    from generator.progress import Reporter
    from generator.tokenstore import TokenStore, build

    plugin = MidiCorpus()
    log("encoding: the Bach chorales as MIDI (extracted once into the cache) ...")
    chorales = bach.chorale_midi_files(cache_dir(), args.chorales)
    synthetic = synthetic_midi(work / "synthetic", args.synthetic_files)
    rows = []
    saved = os.environ.get("GEN_CACHE_DIR")
    for name, files in (("Bach chorales", chorales), ("synthetic 4-track", synthetic)):
        os.environ["GEN_CACHE_DIR"] = str(work / f"cache-{len(rows)}")  # an empty cache
        folder = work / f"store-{len(rows)}"
        for run in ("first run", "cached"):
            start = time.perf_counter()
            store = TokenStore(build(plugin, files, folder, log=Reporter(quiet=True))[0])
            events = sum(store.counts().values())
            sec = time.perf_counter() - start
            rows.append(
                {
                    "corpus": name,
                    "run": run,
                    "files": len(files),
                    "events": events,
                    "seconds": sec,
                    "files_per_s": len(files) / sec,
                    "events_per_s": events / sec,
                }
            )
    if saved is None:
        os.environ.pop("GEN_CACHE_DIR", None)
    else:
        os.environ["GEN_CACHE_DIR"] = saved
    return rows
