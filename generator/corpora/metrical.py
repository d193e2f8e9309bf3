"""The `remi` and `tsd` corpus plugins: MIDI on the beat grid, through MidiTok's tokenizers.

REMI writes time as bars and positions in the bar (eighths of a beat, coarser in long
notes), TSD as time shifts in beats; both write each note as its program, pitch, velocity
and duration, with tempo, time-signature and sustain-pedal tokens, and keep every instrument
(programs 0-127) and the drums (program -1, `PitchDrum` tokens), in one stream. MidiTok
(`miditok`, MIT) does the tokenizing; these plugins only bind it to gen's contract. Files are
first read by `midi.read_midi`, so a file MidiTok cannot use is skipped with the same reasons
as for `midi`.
"""

from __future__ import annotations

import io
from functools import cached_property
from pathlib import Path

from generator.corpora import bach, reading
from generator.corpora.base import MusicCorpus, Note, TokenGrammar
from generator.corpora.midi import MAX_NOTE_SECONDS, read_midi
from generator.corpora.midifile import bar_times
from generator.corpora.music21_io import MUSICXML_SUFFIXES, describe, write_musicxml, write_pdf
from generator.errors import GenError

TRANSPOSE_RANGE = range(-3, 4)  # training-time augmentation: up to 3 semitones either way
GRID_DIVISORS = (8,)  # positions and durations: eighths of a beat (fourths past 4 beats)
# the time signatures written as such (others become 4/4): beats per bar, by beat length
TIME_SIGNATURES = {8: [3, 5, 6, 7, 9, 12], 4: [1, 2, 3, 4, 5, 6, 7], 2: [2]}
SECONDS_PER_BEAT = 0.5  # what a token's length is counted in: 120 bpm (the MIDI default)
BEATS_PER_BAR = 4  # and 4/4, for `--seconds` (a sample's written tempo may differ)


class MetricalCorpus(MusicCorpus):
    """A MidiTok tokenizer (named by `tokenizer`) as a music plugin."""

    tokenizer = ""  # MidiTok's class name
    suffix = ".mid"
    input_suffixes = (".mid", ".midi")
    output_suffixes = (".mid", ".midi", *MUSICXML_SUFFIXES, ".pdf")
    default_temperature = 0.8  # as for `midi`
    token_name = "token"
    version = "1"

    def settings(self) -> dict:
        return {
            "tokenizer": self.tokenizer,
            "miditok": 3,
            "beat_res": [[0, 4, 8], [4, 12, 4]],  # eighths of a beat up to 4 beats, then fourths
            "velocities": 32,
            "programs": "all, drums as program -1",
            "tempos": 32,
            "time_signatures": {str(d): n for d, n in TIME_SIGNATURES.items()},
            "sustain_pedal": "tokens",
        }

    @cached_property
    def _tokenizer(self):
        """MidiTok's tokenizer for these settings (made on first use: not pickled with the
        plugin into worker processes)."""
        import miditok

        config = miditok.TokenizerConfig(
            beat_res={(0, 4): 8, (4, 12): 4},
            num_velocities=32,
            use_programs=True,
            one_token_stream_for_programs=True,
            use_tempos=True,
            num_tempos=32,
            use_time_signatures=True,
            time_signature_range=TIME_SIGNATURES,
            use_sustain_pedals=True,
        )
        return getattr(miditok, self.tokenizer)(config)

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "_tokenizer"}

    def default_files(self, cache_dir: Path, log) -> list[Path]:
        return bach.chorale_midi_files(cache_dir, bach.default_limit())

    # -- files <-> tokens -------------------------------------------------------------------
    def encode_file(self, path: Path) -> list[str]:
        from symusic import Score

        mid = read_midi(path)  # files gen cannot use are refused with `midi`'s reasons
        try:
            reading.check_timing(mid)
            reading.check_duration(mid)
        except GenError:
            raise
        except Exception as exc:  # mido failing on a message while merging tracks
            raise GenError(f"cannot decode MIDI ({describe(exc)})") from None
        try:
            score = Score.from_midi(Path(path).read_bytes())
            tokens = self._tokenizer.encode(score).tokens
        except Exception as exc:  # symusic's parser and MidiTok raise their own types
            said = (str(exc).strip().splitlines() or ["no reason given"])[0][:160]
            raise GenError(f"MidiTok cannot read it ({said})") from None
        if not any(t.startswith(("Pitch_", "PitchDrum_")) for t in tokens):
            raise GenError("contains no notes")
        return tokens

    def score(self, tokens: list[str]):
        """The symusic Score that `tokens` decode to (tokens MidiTok does not know, such as
        special tokens, are left out)."""
        known = [t for t in tokens if t in self._tokenizer.vocab]
        try:
            return self._tokenizer.decode(known)
        except Exception as exc:  # a stream MidiTok cannot decode: a bug or a broken grammar
            raise GenError(f"MidiTok cannot decode the tokens ({describe(exc)})") from None

    def midi_bytes(self, tokens: list[str]) -> bytes:
        """A Standard MIDI File of `tokens`: a track per instrument, drums on channel 10."""
        return self.score(tokens).dumps_midi()

    def write(self, tokens: list[str], path: Path) -> None:
        suffix = Path(path).suffix.lower()
        data = self.midi_bytes(tokens)
        if suffix in MUSICXML_SUFFIXES or suffix == ".pdf":
            import mido

            mid = mido.MidiFile(file=io.BytesIO(data))
            # the grid the notes lie on: music21 has nothing left to guess
            (write_musicxml if suffix != ".pdf" else write_pdf)(mid, path, GRID_DIVISORS)
        else:
            Path(path).write_bytes(data)

    def bar_seconds(self, tokens: list[str]) -> list[float]:
        import mido

        return bar_times(mido.MidiFile(file=io.BytesIO(self.midi_bytes(tokens))))

    def beat_seconds(self, tokens: list[str]) -> float:
        tempos = self.score(tokens).tempos
        return tempos[0].mspq / 1e6 if len(tempos) else 0.5  # MIDI's default, 120 bpm

    def notes(self, tokens: list[str]) -> list[Note]:
        score = self.score(tokens).to("second")
        notes = [
            Note(
                n.pitch,
                n.time,
                n.time + min(max(n.duration, 1e-3), MAX_NOTE_SECONDS),
                max(1, min(127, n.velocity)),
                max(0, track.program),
                track.is_drum,
            )
            for track in score.tracks
            for n in track.notes
        ]
        return sorted(notes, key=lambda n: (n.start, n.pitch))

    # -- per-token answers ------------------------------------------------------------------
    def base_vocabulary(self) -> list[str]:
        vocab = self._tokenizer.vocab  # token -> id, MidiTok's specials first
        specials = set(self._tokenizer.special_tokens)
        return [t for t, _ in sorted(vocab.items(), key=lambda item: item[1]) if t not in specials]

    def augmentations(self) -> tuple:
        return tuple(k for k in TRANSPOSE_RANGE if k != 0)

    def augment(self, token: str, how) -> str:
        kind, _, value = token.partition("_")
        if kind != "Pitch":  # drums (`PitchDrum`) name drums, not pitches: never moved
            return token
        return f"Pitch_{int(value) + how}"  # one outside the range is not in the vocabulary

    def transposition(self, how) -> int:
        return how

    def transposed(self, tokens: list[str], semitones: int) -> list[str]:
        moved = [self.augment(t, semitones) for t in tokens]
        vocab = self._tokenizer.vocab
        return [m if m in vocab else t for m, t in zip(moved, tokens)]  # out of range: stays

    def token_kind(self, token: str) -> str | None:
        return token.partition("_")[0] or None

    def token_pitch(self, token: str) -> int | None:
        kind, _, value = token.partition("_")
        return int(value) if kind == "Pitch" else None  # PitchDrum_: a drum, no pitch

    def token_program(self, token: str) -> int | None:
        kind, _, value = token.partition("_")
        return int(value) if kind == "Program" else None  # Program_-1: the drums


class RemiCorpus(MetricalCorpus):
    """MIDI files as REMI tokens: bars, positions on the beat grid, then notes."""

    name = "remi"
    description = (
        "MIDI files as REMI tokens (bars and beat positions, every instrument and drums, "
        "through MidiTok); default: Bach chorales"
    )
    tokenizer = "REMI"

    def token_length(self, token: str, unit: str) -> float:
        if unit != "seconds":
            return super().token_length(token, unit)
        return BEATS_PER_BAR * SECONDS_PER_BEAT if token == "Bar_None" else 0.0

    def grammar(self, token: str) -> TokenGrammar | None:
        """Time never goes back in a bar: position p needs no position at or after p since
        the last bar; a bar starts the count again."""
        kind, _, value = token.partition("_")
        if kind == "Position":
            p = int(value)
            return TokenGrammar(
                needs_off=(f"at {p}",), turns_on=tuple(f"at {q}" for q in range(p + 1))
            )
        if kind == "Bar":
            return TokenGrammar(turns_off=tuple(f"at {q}" for q in range(self.positions)))
        return None

    @cached_property
    def positions(self) -> int:
        """How many positions a bar may have."""
        return sum(t.startswith("Position_") for t in self._tokenizer.vocab)


class TsdCorpus(MetricalCorpus):
    """MIDI files as TSD tokens: time shifts in beats, then notes."""

    name = "tsd"
    description = (
        "MIDI files as TSD tokens (time shifts in beats, every instrument and drums, through "
        "MidiTok); default: Bach chorales"
    )
    tokenizer = "TSD"

    def token_length(self, token: str, unit: str) -> float:
        if unit != "seconds":
            return super().token_length(token, unit)
        kind, _, value = token.partition("_")
        if kind != "TimeShift":
            return 0.0
        beats, fraction, resolution = (int(v) for v in value.split("."))
        return (beats + fraction / resolution) * SECONDS_PER_BEAT
