"""The `midi` corpus plugin: Standard MIDI Files <-> performance events."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from generator.corpora import bach, performance
from generator.corpora.base import Corpus
from generator.corpora.music21_io import MUSICXML_SUFFIXES, describe, write_musicxml
from generator.errors import GenError

TRANSPOSE_RANGE = range(-3, 4)  # training-time augmentation: up to 3 semitones either way
MAX_NOTE_SECONDS = 5.0  # written notes end after this long (longer than a chorale's fermatas)


def events_of(mid) -> list[str]:
    """Performance events of a parsed MIDI file; a `GenError` for anything that fails."""
    try:
        return performance.midi_to_events(mid)
    except GenError:
        raise
    except Exception as exc:  # e.g. malformed meta messages found while merging tracks
        raise GenError(f"cannot decode MIDI ({describe(exc)})") from None


class MidiCorpus(Corpus):
    """MIDI files as performance events (note on/off, 10 ms time shifts, 32 velocity bins)."""

    name = "midi"
    description = "MIDI files (.mid, .midi) as performance events; default: Bach chorales"
    suffix = ".mid"
    input_suffixes = (".mid", ".midi")
    output_suffixes = (".mid", ".midi", *MUSICXML_SUFFIXES)  # MusicXML: sheet music
    default_temperature = 0.8  # measured: at 1.0 sampled chorales drift into 8-note clusters
    version = "1"
    token_name = "event"

    def settings(self) -> dict:
        return {
            "steps_per_second": performance.STEPS_PER_SECOND,
            "max_shift_steps": performance.MAX_SHIFT_STEPS,
            "velocity_bins": performance.VELOCITY_BINS,
            "drums": "dropped",
        }

    def default_files(self, cache_dir: Path) -> list[Path]:
        return bach.chorale_midi_files(cache_dir, bach.default_limit())

    def encode_file(self, path: Path) -> list[str]:
        import mido

        try:
            mid = mido.MidiFile(path)
        except Exception as exc:  # mido raises many types for broken files
            raise GenError(f"not a readable MIDI file ({describe(exc)})") from None
        return events_of(mid)

    def write(self, tokens: list[str], path: Path) -> None:
        mid = performance.events_to_midi(tokens, MAX_NOTE_SECONDS)
        if Path(path).suffix.lower() in MUSICXML_SUFFIXES:
            write_musicxml(mid, path)
        else:
            mid.save(path)

    def carry_over(self, primer_tokens: list[str]) -> list[str]:
        velocities = [t for t in primer_tokens if t.startswith("vel:")]
        return velocities[-1:]

    def base_vocabulary(self) -> list[str]:
        return performance.event_vocabulary()

    def augmentations(self, tokens: list[str]) -> np.ndarray:
        maps = [performance.transpose_map(tokens, k) for k in TRANSPOSE_RANGE if k != 0]
        return np.array([list(range(len(tokens)))] + maps, dtype=np.int32)

    def token_rules(self, tokens: list[str]) -> dict[str, np.ndarray]:
        """One flag per pitch, set while it sounds: a note-on needs its pitch silent, a
        note-off needs it sounding (a re-strike is an explicit note-off, then note-on)."""
        shape = (len(tokens), performance.NUM_PITCHES)
        rules = {
            k: np.zeros(shape, np.float32) for k in ("needs_set", "needs_clear", "sets", "clears")
        }
        kinds = ["on", "off", "shift", "vel"]
        rules["kinds"] = np.zeros((len(tokens), len(kinds) + 1), np.float32)  # + specials
        for i, token in enumerate(tokens):
            kind, _, value = token.partition(":")
            rules["kinds"][i, kinds.index(kind) if kind in kinds else len(kinds)] = 1
            if kind == "on" and value.isdigit():
                rules["needs_clear"][i, int(value)] = rules["sets"][i, int(value)] = 1
            elif kind == "off" and value.isdigit():
                rules["needs_set"][i, int(value)] = rules["clears"][i, int(value)] = 1
        return rules

    def token_units(self, tokens: list[str], unit: str) -> np.ndarray:
        if unit != "seconds":
            return super().token_units(tokens, unit)
        return np.array([performance.events_seconds(t) for t in tokens], dtype=np.float32)
