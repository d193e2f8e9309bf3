"""The `midi` corpus plugin: Standard MIDI Files <-> performance events."""

from __future__ import annotations

import io
from contextlib import contextmanager
from pathlib import Path

import mido
from mido.midifiles import midifiles as smf

from generator.corpora import bach, music21_io, performance, reading
from generator.corpora.base import MusicCorpus, Note, TokenGrammar
from generator.corpora.music21_io import MUSICXML_SUFFIXES, describe
from generator.errors import GenError

TRANSPOSE_RANGE = range(-3, 4)  # training-time augmentation: up to 3 semitones either way
MAX_NOTE_SECONDS = 5.0  # written notes end after this long (longer than a chorale's fermatas)
MAX_VARIABLE_INT = 0x0FFFFFFF  # the largest delta time or length a MIDI file can hold (4 bytes)

# The first bytes of files that end up named .mid by mistake, and what to call them.
SIGNATURES = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (compressed MusicXML?)"),
    (b"RIFF", "a RIFF file (WAV audio, or MIDI wrapped as .rmi)"),
    (b"ID3", "an MP3 file"),
    (b"OggS", "an Ogg file"),
    (b"fLaC", "a FLAC file"),
    (b"<", "XML or HTML (MusicXML?)"),
)


def _read_variable_int(infile) -> int:
    """mido's reader of a variable-length number, refusing one over `MAX_VARIABLE_INT`."""
    value = 0
    while True:
        byte = smf.read_byte(infile)
        value = (value << 7) | (byte & 0x7F)
        if value > MAX_VARIABLE_INT:
            raise GenError("corrupt MIDI file (a delta time or length over 4 bytes)")
        if byte < 0x80:
            return value


@contextmanager
def _bounded_numbers():
    """While parsing, mido refuses a delta time or length longer than the format allows.

    Its own reader takes every byte with the top bit set into one big integer: a corrupt run
    of such bytes takes time quadratic in its length, and an integer too large for a float
    broke the conversion to seconds later. Leading 0x80 bytes
    (zero padding, seen in some writers) are still accepted.
    """
    original = smf.read_variable_int
    smf.read_variable_int = _read_variable_int
    try:
        yield
    finally:
        smf.read_variable_int = original


def not_midi_reason(data: bytes) -> str:
    """Why bytes that do not start with "MThd" are not a MIDI file, naming what they look like."""
    for magic, kind in SIGNATURES:
        if data.startswith(magic):
            return f"not a MIDI file: it is {kind}"
    if all(32 <= b < 127 or b in b"\t\n\r" for b in data[:256]):
        return "not a MIDI file: it is text"
    return "not a MIDI file (it does not start with 'MThd')"


def read_midi(path: Path) -> mido.MidiFile:
    """A parsed MIDI file; a `GenError` that says what is wrong with one that cannot be read."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise GenError(f"cannot read: {exc.strerror or exc}") from None
    if not data:
        raise GenError("empty file")
    if len(data) < 4 and b"MThd".startswith(data):  # "MTh": cut off in its first word
        raise GenError("truncated MIDI file (it ends inside its header)")
    if not data.startswith(b"MThd"):
        raise GenError(not_midi_reason(data))
    try:
        with _bounded_numbers():
            return mido.MidiFile(file=io.BytesIO(data))
    except GenError:
        raise
    except EOFError:
        if len(data) < 14:  # "MThd", its length and 6 bytes: format, tracks, time division
            raise GenError("truncated MIDI file (it ends inside its header)") from None
        tracks = int.from_bytes(data[10:12], "big")
        raise GenError(
            f"truncated MIDI file (it ends early; the header lists {tracks} track"
            f"{'s' * (tracks != 1)})"
        ) from None
    except IndexError:  # mido decoding a meta message shorter than its type needs
        raise GenError("corrupt MIDI file (a meta message too short for its type)") from None
    except Exception as exc:  # mido's messages say what is wrong: "undefined status byte 0xf4"
        raise GenError(f"corrupt MIDI file ({str(exc) or describe(exc)})") from None


def events_of(mid) -> list[str]:
    """Performance events of a parsed MIDI file; a `GenError` for anything that fails."""
    try:
        return reading.midi_to_events(mid)
    except GenError:
        raise
    except Exception as exc:  # e.g. malformed meta messages found while merging tracks
        raise GenError(f"cannot decode MIDI ({describe(exc)})") from None


class MidiCorpus(MusicCorpus):
    """MIDI files as performance events (note on/off, time shifts of 1/50 beat, 32 velocity
    bins, the tempo)."""

    name = "midi"
    description = "MIDI files (.mid, .midi) as performance events; default: Bach chorales"
    suffix = ".mid"
    input_suffixes = (".mid", ".midi")
    output_suffixes = (".mid", ".midi", *MUSICXML_SUFFIXES, ".pdf")  # and .png: a piano roll
    default_temperature = 0.7  # 1.0 drifts into clusters, 0.8 off the beat (BENCHMARKS.md)
    version = "3"  # 2: the sustain pedal applied; 3: time in beats, with tempo events
    token_name = "event"

    def settings(self) -> dict:
        return self._settings_of_version(2) | {
            "steps_per_beat": performance.STEPS_PER_BEAT,
            "tempos": list(performance.TEMPOS),
        }

    def _settings_of_version(self, version: int) -> dict:
        settings = {
            "steps_per_second": performance.STEPS_PER_SECOND,
            "max_shift_steps": performance.MAX_SHIFT_STEPS,
            "velocity_bins": performance.VELOCITY_BINS,
            "drums": "dropped",
        }
        return settings | {"sustain_pedal": "applied"} if version >= 2 else settings

    def reads(self, identity: dict) -> bool:
        """Runs of versions 1 and 2 (time in seconds, no tempo) wrote the events this
        version writes at 120 bpm: they still sample, and their files come out the same."""
        return any(
            identity
            == {"name": self.name, "version": str(v), "settings": self._settings_of_version(v)}
            for v in (1, 2)
        )

    def default_files(self, cache_dir: Path, log) -> list[Path]:
        return bach.chorale_midi_files(cache_dir, bach.default_limit())

    def encode_file(self, path: Path) -> list[str]:
        return events_of(read_midi(path))

    def write(self, tokens: list[str], path: Path) -> None:
        mid = performance.events_to_midi(tokens, self.note_seconds or MAX_NOTE_SECONDS)
        music21_io.save(mid, path)

    def notes(self, tokens: list[str]) -> list[Note]:
        return performance.events_to_notes(tokens, self.note_seconds or MAX_NOTE_SECONDS)

    def beat_seconds(self, tokens: list[str]) -> float:
        """A quarter note at the stream's first tempo (120 bpm where it names none)."""
        tempos = (e.value for e in map(performance.parse, tokens) if e and e.kind == "tempo")
        return 60 / next(tempos, performance.DEFAULT_BPM)

    def carry_over(self, primer_tokens: list[str]) -> list[str]:
        """The primer's last tempo and velocity, which the continuation plays at."""
        kinds = [getattr(performance.parse(t), "kind", "") for t in primer_tokens]
        last = {kind: token for kind, token in zip(kinds, primer_tokens)}
        return [last[kind] for kind in ("tempo", "vel") if kind in last]

    def base_vocabulary(self) -> list[str]:
        return performance.event_vocabulary()

    def augmentations(self) -> tuple:
        return tuple(k for k in TRANSPOSE_RANGE if k != 0)

    def augment(self, token: str, how) -> str:
        return performance.transpose(token, how)

    def transposition(self, how) -> int:
        return how

    def transposed(self, tokens: list[str], semitones: int) -> list[str]:
        return [performance.transpose(t, semitones) for t in tokens]

    def token_pitch(self, token: str) -> int | None:
        event = performance.parse(token)
        return event.value if event and event.kind == "on" else None

    def token_length(self, token: str, unit: str) -> float:
        if unit != "seconds":
            return super().token_length(token, unit)
        return performance.event_seconds(token)

    def grammar(self, token: str) -> TokenGrammar | None:
        """One flag per pitch, on while it sounds: a note-on needs its pitch silent, a
        note-off needs it sounding (a re-strike is an explicit note-off, then note-on).
        Forbidden probability stays within its kind of event."""
        event = performance.parse(token)
        if event is None:
            return None
        if event.kind == "on":
            return TokenGrammar(needs_off=(event.value,), turns_on=(event.value,), group="on")
        if event.kind == "off":
            return TokenGrammar(needs_on=(event.value,), turns_off=(event.value,), group="off")
        return TokenGrammar(group=event.kind)
