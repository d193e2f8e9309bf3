"""The corpus plugin contract: files <-> token streams, nothing about tensors.

A plugin is a subclass of `Corpus`. It turns one input file into a list of string tokens, turns a
list of tokens back into an output file, and says which vocabulary, augmentations and length units
its tokens have. Training and sampling never look inside a token; that is what lets music and
verse share one pipeline.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from generator.errors import GenError

CONTRACT_VERSION = 1  # bump when the methods below change incompatibly


class Corpus:
    """Base class for corpus plugins; subclasses override the class attributes and methods."""

    name: str = ""  # what `--corpus NAME` picks
    description: str = ""  # one line, shown by `gen corpora`
    suffix: str = ""  # default output file suffix, e.g. ".mid"
    input_suffixes: tuple[str, ...] = ()  # files picked up when a folder is given
    contract: int = CONTRACT_VERSION  # the contract version the plugin was written for
    version: str = "1"  # encoder version; part of the cache key, bump when tokens change
    token_name: str = "token"  # what one token is called in reports ("event", "character")
    min_token_count: int = 1  # tokens seen fewer times in a corpus map to <unk>
    copy_ngram: int = 16  # run length whose reuse from the corpus counts as copying

    # -- settings -------------------------------------------------------------------------
    def settings(self) -> dict:
        """Encoder settings as JSON-able values; stored in checkpoints and part of cache keys."""
        return {}

    # -- reading --------------------------------------------------------------------------
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

    def default_files(self, cache_dir: Path) -> list[Path]:
        """Files of the plugin's embedded default corpus (used when no path is given)."""
        raise GenError(f"corpus '{self.name}' has no default corpus; give --path")

    def encode_file(self, path: Path) -> list[str]:
        """Tokens of one input file; raise `GenError` with the reason if it cannot be read.
        For a file of several pieces, the first piece's."""
        raise NotImplementedError

    def encode_pieces(self, path: Path) -> list[list[str]]:
        """Token streams of the pieces in one input file: one, unless the format collects
        several (an ABC book of tunes). Each piece starts its own stream in training."""
        return [self.encode_file(path)]

    parallel_min_files: int = 16  # encode in worker processes from this many files on

    # -- writing --------------------------------------------------------------------------
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
        the current velocity)."""
        return []

    binary_output: bool = True  # outputs cannot be concatenated on standard output
    output_suffixes: tuple[str, ...] | None = None  # suffixes `write` can produce; None: any
    lead_in: tuple[str, ...] = ()  # follows <start> in training and sampling, never written
    default_temperature: float = 1.0  # sampling temperature when --temperature is not given

    # -- what the model needs to know about tokens ----------------------------------------
    def base_vocabulary(self) -> list[str] | None:
        """Every token the encoding can produce, if fixed; None to build it from the corpus."""
        return None

    def augmentations(self, tokens: list[str]) -> np.ndarray:
        """Id maps for training-time augmentation, shape (n_maps, vocab); row 0 is identity.

        `tokens` is the vocabulary in id order. A plugin with no augmentation returns one row.
        """
        return np.arange(len(tokens), dtype=np.int32)[None, :]

    def token_rules(self, tokens: list[str]) -> dict[str, np.ndarray] | None:
        """The grammar of a token stream as on/off flags, so the sampler never writes a token
        that makes no sense where it stands; None for no rules.

        Arrays of shape (vocab, flags): `needs_set` / `needs_clear` say which flags must be
        on / off for a token to be allowed, `sets` / `clears` which flags it turns on / off.
        An optional `kinds` (vocab, kinds), one-hot, groups tokens: the probability the model
        gives to forbidden tokens goes to the allowed tokens of their kind.
        """
        return None

    def token_units(self, tokens: list[str], unit: str) -> np.ndarray:
        """How much of `unit` each token adds, shape (vocab,), for length limits in sampling.

        MIDI measures "seconds", text "lines"; an unknown unit is a `GenError`.
        """
        raise GenError(f"corpus '{self.name}' cannot measure length in {unit}")
