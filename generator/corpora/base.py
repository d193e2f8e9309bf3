"""The corpus plugin contract: files <-> token streams, and per-token answers; nothing about
tensors.

A plugin is a subclass of `Corpus`. It turns one input file into a list of string tokens, turns
a list of tokens back into an output file, and answers questions about one token at a time
(what it transposes to, how much time or how many lines it adds, which grammar flags it needs
and sets). The pipeline (`generator.tokenmaps`) turns those answers into the id-indexed tables
the model and the sampler use; training and sampling never look inside a token.

A plugin also declares its `kind`, which says what more it promises:

- `"music"` (subclass `MusicCorpus`): `notes(tokens)` gives the notes a stream plays, which the
  pipeline draws as piano rolls and measures in `gen evaluate --samples`;
- `"verse"` (subclass `VerseCorpus`): tokens join into text with lines, so verse forms, rhyme
  and syllable targets work, and `gen evaluate --samples` measures the lines;
- `""`: neither; the pipeline trains, samples and measures copying only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from generator.errors import GenError

CONTRACT_VERSION = 2  # bump when the members below change incompatibly
DRUMS = -1  # the program of drums, in `Note` and `MusicCorpus.token_program`
GM_FAMILIES = (  # General MIDI's instrument families, 8 programs each
    "piano", "chromatic percussion", "organ", "guitar", "bass", "strings", "ensemble",
    "brass", "reed", "pipe", "synth lead", "synth pad", "synth effects", "ethnic",
    "percussive", "sound effects",
)  # fmt: skip


@dataclass(frozen=True)
class Note:
    """One note as a music plugin hands it to the pipeline."""

    pitch: int  # MIDI pitch, 0-127
    start: float  # seconds from the start of the stream
    end: float  # seconds; end > start
    velocity: int = 64  # MIDI velocity, 1-127
    program: int = 0  # General MIDI program, 0-127 (0: piano)
    drum: bool = False  # a percussion note (MIDI channel 10): `pitch` names the drum


@dataclass(frozen=True)
class TokenGrammar:
    """What one token needs and does under a plugin's grammar. Flags are any names the plugin
    chooses (music: one per pitch, on while it sounds). A token is allowed only where all of
    `needs_on` are on and all of `needs_off` are off; after it, `turns_on` are on and
    `turns_off` off. The probability the model gives to forbidden tokens goes to the allowed
    tokens of the same `group`."""

    needs_on: tuple = ()
    needs_off: tuple = ()
    turns_on: tuple = ()
    turns_off: tuple = ()
    group: str = ""


class Corpus:
    """Base class for corpus plugins; subclasses override the class attributes and methods."""

    name: str = ""  # what `--corpus NAME` picks
    description: str = ""  # one line, shown by `gen corpora`
    kind: str = ""  # "music", "verse" or "": what more the plugin promises (module docstring)
    suffix: str = ""  # default output file suffix, e.g. ".mid"
    input_suffixes: tuple[str, ...] = ()  # files picked up when a folder is given
    output_suffixes: tuple[str, ...] | None = None  # suffixes `write` can produce; None: any
    contract: int = CONTRACT_VERSION  # the contract version the plugin was written for
    version: str = "1"  # encoder version; part of the cache key, bump when tokens change
    token_name: str = "token"  # what one token is called in reports ("event", "character")
    min_token_count: int = 1  # tokens seen fewer times in a corpus map to <unk>
    copy_ngram: int = 16  # run length whose reuse from the corpus counts as copying
    parallel_min_files: int = 16  # encode in worker processes from this many files on
    binary_output: bool = True  # outputs cannot be concatenated on standard output
    lead_in: tuple[str, ...] = ()  # follows <start> in training and sampling, never written
    default_temperature: float = 1.0  # sampling temperature when --temperature is not given
    length_units: tuple[str, ...] = ()  # units `token_length` measures ("seconds", "lines")

    # -- identity ---------------------------------------------------------------------------
    def settings(self) -> dict:
        """Encoder settings as JSON-able values; stored in checkpoints and part of cache keys."""
        return {}

    def identity(self) -> dict:
        """What identifies the tokens this plugin makes: name, version and settings. Token
        caches are keyed by it, token stores and checkpoints record it and compare it."""
        return {"name": self.name, "version": self.version, "settings": self.settings()}

    def reads(self, identity: dict) -> bool:
        """Whether this plugin can still write and read the tokens of a run an older version
        of it trained (`identity` as the run recorded it): tokens that mean the same, though
        files are now encoded otherwise. Default: only its own identity."""
        return False

    # -- reading ----------------------------------------------------------------------------
    def find_files(self, path: Path) -> list[Path]:
        """Input files under `path` (a file, or a folder searched recursively), sorted."""
        path = Path(path)
        if not path.exists():
            raise GenError(f"corpus path '{path}' does not exist")
        if path.is_file():
            return [path]
        files = sorted(
            p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in self.input_suffixes
        )
        if not files:
            kinds = ", ".join(self.input_suffixes)
            raise GenError(f"no {kinds} files found under '{path}'")
        return files

    def default_files(self, cache_dir: Path, log) -> list[Path]:
        """Files of the plugin's embedded default corpus (used when no path is given), made
        under `cache_dir` if they must be; `log` is a `progress.Reporter` for long work."""
        raise GenError(f"corpus '{self.name}' has no default corpus; give --path")

    def encode_file(self, path: Path) -> list[str]:
        """Tokens of one input file; raise `GenError` with the reason if it cannot be read.
        For a file of several pieces, the first piece's."""
        raise NotImplementedError

    def encode_pieces(self, path: Path) -> list[list[str]]:
        """Token streams of the pieces in one input file: one, unless the format collects
        several (an ABC book of tunes). Each piece starts its own stream in training."""
        return [self.encode_file(path)]

    def read_pieces(self, path: Path) -> tuple[list[list[str]], list[str]]:
        """The pieces of one input file that could be read, and the reason for each that
        could not (a book of tunes may keep most and lose a few): what the cache stores, so a
        cached run reports the same. By default all of `encode_pieces`, none skipped."""
        return self.encode_pieces(path), []

    # -- writing ----------------------------------------------------------------------------
    def write(self, tokens: list[str], path: Path) -> None:
        """Write a token stream (special tokens already removed) to `path`."""
        raise NotImplementedError

    def encode_primer(self, primer: str) -> list[str]:
        """Tokens that start a sample, from the `--primer` argument (a file path by default)."""
        try:
            return self.encode_file(Path(primer))
        except (GenError, OSError) as exc:
            raise GenError(f"primer '{primer}': {exc}") from None

    def carry_over(self, primer_tokens: list[str]) -> list[str]:
        """Tokens of the primer that a continuation written without it still needs (MIDI:
        the tempo and velocity in effect)."""
        return []

    # -- per-token answers, which the pipeline turns into tables ----------------------------
    def base_vocabulary(self) -> list[str] | None:
        """Every token the encoding can produce, if fixed; None to build it from the corpus."""
        return None

    def augmentations(self) -> tuple:
        """The training-time augmentations, as values `augment` takes (music: semitones of
        transposition); () for none."""
        return ()

    def augment(self, token: str, how) -> str:
        """`token` under augmentation `how` (itself where it does not change)."""
        return token

    def token_length(self, token: str, unit: str) -> float:
        """How much of `unit` (one of `length_units`) `token` adds to a stream."""
        raise GenError(f"corpus '{self.name}' cannot measure length in {unit}")

    def grammar(self, token: str) -> TokenGrammar | None:
        """The grammar rule of `token`, or None where it has none (see `TokenGrammar`). A
        plugin whose tokens all answer None has no grammar."""
        return None

    def token_kind(self, token: str) -> str | None:
        """The kind of `token` ("Pitch", "Bar"), or None. Where a plugin names kinds, training
        records which kind followed which in the corpus, and sampling allows only those
        successions: a grammar learned from the corpus."""
        return None


class MusicCorpus(Corpus):
    """A plugin whose streams are music: it can say which notes a stream plays."""

    kind = "music"
    token_name = "event"
    length_units = ("seconds",)
    default_temperature = 0.8
    note_seconds: float | None = None  # notes that may hang on end after this (set by a run)

    def notes(self, tokens: list[str]) -> list[Note]:
        """The notes `tokens` play, by start time, as `write` would write them."""
        raise NotImplementedError

    def transposition(self, how) -> int:
        """The semitones augmentation `how` moves pitches by (0: it is no transposition); the
        key a piece is tagged with moves with it."""
        return 0

    def transposed(self, tokens: list[str], semitones: int) -> list[str] | None:
        """`tokens` moved by `semitones` (pitches out of range may stay), or None where the
        plugin cannot transpose: `gen sample --key` then keeps what the model wrote."""
        return None

    def token_pitch(self, token: str) -> int | None:
        """The MIDI pitch of the note a token starts, or None (drums and other tokens): notes
        outside a stream's key are held back by `gen sample --key-bias`."""
        return None

    def token_program(self, token: str) -> int | None:
        """The instrument a token picks (a General MIDI program, or `DRUMS`), or None: tokens
        of excluded instruments are never drawn (`gen sample --programs`)."""
        return None

    def bar_seconds(self, tokens: list[str]) -> list[float]:
        """When bars begin (after the first), for drawing; default: 4/4 at 120 bpm."""
        end = max((n.end for n in self.notes(tokens)), default=0.0)
        return [2.0 * k for k in range(1, int(end / 2.0) + 1) if 2.0 * k < end]

    def beat_seconds(self, tokens: list[str]) -> float:
        """How long a quarter note lasts in the stream, for measuring onsets against the beat
        grid; default: 120 bpm, the tempo performance streams are written at."""
        return 0.5


class VerseCorpus(Corpus):
    """A plugin whose streams are text in lines: tokens join into text and a `line_break`
    token ends each line, so verse forms, rhyme and syllable targets apply."""

    kind = "verse"
    suffix = ".txt"
    output_suffixes = (".txt", ".md")
    binary_output = False
    line_break = "\n"  # the token that ends a line (a blank line is two)
    length_units = ("lines",)

    def encode_text(self, text: str) -> list[str]:
        """Tokens of a piece of text (a primer, a line the decoder tries)."""
        raise NotImplementedError

    def text(self, tokens: list[str]) -> str:
        """The text of a token stream."""
        return "".join(tokens)

    def encode_primer(self, primer: str) -> list[str]:
        """The primer is the text itself; "\\n" in it stands for a line break."""
        return self.encode_text(primer.replace("\\n", "\n"))

    def token_length(self, token: str, unit: str) -> float:
        if unit == "lines":
            return float(token == self.line_break)
        return super().token_length(token, unit)

    def write(self, tokens: list[str], path: Path) -> None:
        Path(path).write_text(self.text(tokens), encoding="utf-8")


def recorded_identity(plugin: Corpus) -> dict:
    """The plugin's identity as a JSON file records it (tuples become lists), for comparing
    with what a token store or checkpoint recorded."""
    return json.loads(json.dumps(plugin.identity()))
