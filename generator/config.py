"""The settings of training and sampling, validated where they are made, so the library
refuses exactly what the command line refuses, with the valid range in the message.

Every number a user can type has a range here (or in `ModelConfig`); values outside it, NaN and
infinities are one `GenError` before any model is built or file written. What a range cannot
catch (a batch larger than the corpus's windows, a model too big for the memory) is checked
when the corpus and the machine are known (`generator.budget`).
"""

from __future__ import annotations

import difflib
import functools
import importlib.util
import math
from dataclasses import asdict, dataclass, fields, replace

from generator.errors import GenError

SEED_MAX = 2**31 - 1  # seeds are int32 in the sampler's stateless draws
MAX_TOKENS = 10_000_000  # tokens per output of `gen sample`
MAX_OUTPUTS = 1_000_000  # outputs of one `gen sample`
MAX_NGRAM_ORDER = 10  # longest n-gram baseline of `gen evaluate`: its counts grow with it
STRATEGIES = ("auto", "one-device", "mirrored", "multi-worker")
PRECISIONS = ("float32", "mixed")
WORDS = ("any", "real", "corpus")  # gen sample --words; index 0 draws any word
KEY_BIAS = 1.0  # nats less likely for a note outside its output's key (2 overshoots: BENCHMARKS.md)
MAX_KEY_BIAS = 100.0
# what a sample's length may be given in, and the largest length in each
UNIT_LIMITS = {"seconds": 24 * 3600.0, "lines": 100_000, "stanzas": 10_000}


def _number(x) -> str:
    """A bound as a user reads it: 1,000,000 and 100, not 1000000.0."""
    if isinstance(x, float) and x.is_integer():
        x = int(x)
    return f"{x:,}" if isinstance(x, int) else f"{x:g}"


def check_range(name: str, value, low, high, *, above: bool = False) -> None:
    """A `GenError` unless `low <= value <= high` (`low < value` with `above`); NaN and
    infinities are refused too. `name` is the option as the user types it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise GenError(f"{name} must be a number, got {value!r}")
    if isinstance(low, int) and isinstance(high, int) and not isinstance(value, int):
        raise GenError(f"{name} must be a whole number, got {value}")
    ok = math.isfinite(value) and (value > low if above else value >= low) and value <= high
    if not ok:
        bracket = "(" if above else "["
        raise GenError(f"{name} must be in {bracket}{_number(low)}, {_number(high)}], got {value}")


def check_choice(name: str, value, choices) -> None:
    """A `GenError` unless `value` is one of `choices`."""
    if value not in choices:
        raise GenError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


# settings that runs made before they were stored had, where the default has changed since
LEGACY = {
    "lr_floor": 0.05,
    "val_len": None,
    "ema": 0.0,
    "adam_beta2": 0.999,
    "weight_decay": 0.0,
    "warmup_steps": 100,
}
VAL_LEN = 128  # validation windows are at least this long, whatever the training windows


@dataclass(frozen=True)
class TrainConfig:
    """Training settings; stored in the checkpoint beside the model config."""

    seq_len: int = 128  # tokens per training window (truncated back-propagation length)
    batch_size: int = 16  # windows per step (more small steps learn faster: BENCHMARKS.md)
    epochs: int | None = None  # passes over the training split; None: `budget.fit_epochs`
    learning_rate: float = 1e-2  # peak Adam learning rate (after warm-up, then cosine decay)
    lr_floor: float = 0.4  # the learning rate at the end, as a share of the peak
    warmup_steps: int = 20  # linear warm-up of the rate; Adam's squared-gradient mean is
    # then settled (about 1 / (1 - adam_beta2) steps), and a longer one only idles
    clip_norm: float = 1.0  # gradients are clipped to this global norm
    ema: float = 0.99  # momentum of the weights' moving average, validated and saved (0: off)
    adam_beta2: float = 0.95  # Adam's squared-gradient decay; Keras' 0.999 learns slower here
    weight_decay: float = 0.3  # each step, a weight loses this x the learning rate of its value
    val_fraction: float = 0.1  # share of files held out for validation
    val_len: int | None = None  # tokens per validation window; None: see `resolved`
    augment: bool = True  # use the plugin's augmentations (transposition for music)
    seed: int = 0  # seeds the split, window order, augmentation and initial weights
    max_minutes: float | None = None  # stop after the epoch that passes this budget
    patience: int | None = None  # stop after this many epochs without a better validation loss
    epoch_steps: int | None = None  # steps per epoch; None: one pass over the training split
    save_minutes: float | None = 10.0  # also write resume.h5 this often during an epoch
    strategy: str = "auto"  # tf.distribute strategy (see generator/distribute.py)
    precision: str = "float32"  # or "mixed": float16 compute on a GPU
    cache: str | None = None  # a token store made by `gen encode` to train from
    tensorboard: bool = False  # also write TensorBoard logs into the run folder

    def __post_init__(self):
        check_range("seq-len", self.seq_len, 1, 1_000_000)
        check_range("batch-size", self.batch_size, 1, 1_000_000)
        if self.epochs is not None:
            check_range("epochs", self.epochs, 1, 1_000_000)
        check_range("learning-rate", self.learning_rate, 0, 1.0, above=True)
        check_range("lr-floor", self.lr_floor, 0.0, 1.0)
        check_range("warmup-steps", self.warmup_steps, 0, 10**9)
        check_range("clip-norm", self.clip_norm, 0, 1e6, above=True)
        check_range("ema", self.ema, 0.0, 0.9999)
        check_range("adam-beta2", self.adam_beta2, 0.0, 0.99999)
        check_range("weight-decay", self.weight_decay, 0.0, 1.0)
        check_range("val-fraction", self.val_fraction, 0.0, 0.99)
        check_range("seed", self.seed, 0, SEED_MAX)
        if self.max_minutes is not None:
            check_range("max-minutes", self.max_minutes, 0, 1e7)  # 0: stop after one epoch
        if self.patience is not None:
            check_range("patience", self.patience, 1, 1_000_000)
        if self.epoch_steps is not None:
            check_range("epoch-steps", self.epoch_steps, 1, 10**9)
        if self.save_minutes is not None:
            check_range("save-minutes", self.save_minutes, 0, 1e7)
        check_choice("strategy", self.strategy, STRATEGIES)
        check_choice("precision", self.precision, PRECISIONS)

    def resolved(self) -> TrainConfig:
        """These settings with validation windows as long as the training windows, but no
        shorter than `VAL_LEN`, where none were given: the held-out loss of runs with
        different windows then reads the same."""
        return replace(self, val_len=self.val_len or max(self.seq_len, VAL_LEN))

    @property
    def scored_len(self) -> int:
        """The validation windows' length (a run stored before `val_len`: its training's)."""
        return self.val_len or self.seq_len

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        """The settings a checkpoint stored, as stored (keys this version does not know are
        ignored): they were checked when the run began, and a range narrowed since must not
        lock a finished run out of sampling, evaluation and `gen info`."""
        config = object.__new__(cls)
        for field in fields(cls):
            default = LEGACY.get(field.name, field.default)
            object.__setattr__(config, field.name, data.get(field.name, default))
        return config

    def check_tools(self) -> None:
        """Refuse settings that need a package this machine lacks (before training starts)."""
        if self.tensorboard and importlib.util.find_spec("tensorboard") is None:
            raise GenError("--tensorboard needs the tensorboard package: pip install tensorboard")


def parse_programs(text: str | None) -> tuple[int, ...] | None:
    """`--programs 0,33,drums`, `piano,bass,drums` or `violin,cello`: General MIDI programs
    (0-127), `drums`, instrument families (each its 8 programs) or General MIDI's instrument
    names, as sorted programs (-1 for drums)."""
    from generator.corpora.base import DRUMS, GM_FAMILIES

    if text is None:
        return None
    programs: set[int] = set()
    for item in (" ".join(part.split()).lower() for part in text.split(",")):
        if item.lstrip("-").isdigit() and -1 <= int(item) <= 127:
            programs.add(int(item))
        elif item == "drums":
            programs.add(DRUMS)
        elif item in GM_FAMILIES:
            first = 8 * GM_FAMILIES.index(item)
            programs.update(range(first, first + 8))
        elif item in _gm_names():
            programs.add(_gm_names()[item])
        else:
            known = ["drums", *GM_FAMILIES, *_gm_names()]
            close = difflib.get_close_matches(item, known, n=1, cutoff=0.75)  # typos, not guesses
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise GenError(
                f"unknown instrument '{item}' in --programs{hint}; give programs 0-127, drums, "
                "General MIDI names (violin, acoustic grand piano, ...), or families: "
                f"{', '.join(GM_FAMILIES)}"
            )
    if not programs:
        raise GenError("--programs names no instrument")
    return tuple(sorted(programs))


@functools.cache  # read only for a name: MidiTok takes a second or two to import
def _gm_names() -> dict[str, int]:
    """General MIDI's 128 instrument names, lower case, each to its program (MidiTok's
    table of them; of a sound effect's list, `gunshot, machine gun, ...`, the first)."""
    from miditok.constants import MIDI_INSTRUMENTS

    names = (inst["name"].split(",")[0].lower() for inst in MIDI_INSTRUMENTS)
    return {name: program for program, name in enumerate(names)}


# what `gen train --resume` may change: the result stays the same
RESUME_OVERRIDES = ("max_minutes", "save_minutes", "strategy")


@dataclass(frozen=True)
class SampleConfig:
    """How to draw tokens."""

    temperature: float | None = None  # < 1 safer, > 1 wilder; None: the plugin's default
    top_k: int = 0  # keep only the k likeliest tokens (0: all)
    top_p: float = 1.0  # keep the smallest set of tokens with this much probability
    max_tokens: int = 2000  # hard cap on generated tokens per output
    unit: str | None = None  # stop by a plugin unit ("seconds", "lines") instead of by count
    unit_limit: float = 0.0  # how many units each output should reach
    seed: int = 0
    programs: tuple[int, ...] | None = None  # music: the only instruments to draw (-1: drums)
    key: str | None = None  # music: the key to write in ("D minor"); None: drawn as the corpus
    key_bias: float = KEY_BIAS  # music: nats taken from notes outside each output's key
    words: str = "real"  # verse: words the corpus or the dictionary knows; "corpus"; "any"

    def __post_init__(self):
        if self.temperature is not None:
            check_range("temperature", self.temperature, 0, 100.0, above=True)
        check_range("top-k", self.top_k, 0, 1_000_000)
        check_range("top-p", self.top_p, 0, 1.0, above=True)
        check_range("length", self.max_tokens, 1, MAX_TOKENS)
        check_range("seed", self.seed, 0, SEED_MAX)
        for program in self.programs or ():
            check_range("program", program, -1, 127)
        check_range("key-bias", self.key_bias, 0, MAX_KEY_BIAS)
        if self.words not in WORDS:
            raise GenError(f"words must be one of {', '.join(WORDS)}, got {self.words!r}")
        if self.key is not None:
            from generator import keys

            object.__setattr__(self, "key", keys.parse(self.key))  # its one spelling
        if self.unit is not None:
            check_choice("length unit", self.unit, tuple(UNIT_LIMITS))
            limit = float(UNIT_LIMITS[self.unit])
            check_range(self.unit, self.unit_limit, 0.0, limit, above=True)
