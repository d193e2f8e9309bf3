"""Verse forms as line specs: a rhyme scheme and syllable targets, from a named form or from
`--rhyme`, `--syllables`, `--lines` and `--stanzas`."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from generator.config import UNIT_LIMITS, check_range
from generator.errors import GenError

MAX_SYLLABLES = 100  # per line


@dataclass(frozen=True)
class Form:
    """A rhyme scheme (a letter per line, "-" for an unrhymed line, " " for a stanza break)
    and syllables per line (cycled; empty for no target)."""

    rhyme: str
    syllables: tuple[int, ...]


FORMS = {
    "couplet": Form("AA", (10,)),
    "quatrain": Form("ABAB", (10,)),
    "limerick": Form("AABBA", (8, 8, 5, 5, 8)),
    "sonnet": Form("ABABCDCDEFEFGG", (10,)),  # Shakespearean, iambic pentameter
    "free": Form("", ()),
}


@dataclass
class LineSpec:
    """What one line must meet."""

    rhyme: str | None = None  # rhyme letter, or None
    syllables: int | None = None  # syllable target, or None
    stanza_end: bool = False  # a blank line follows


def parse_syllables(text: str | None) -> tuple[int, ...]:
    """`10` or a per-line pattern `8,8,5,5,8`."""
    if not text:
        return ()
    try:
        values = tuple(int(v) for v in re.split(r"[,\s]+", text.strip()) if v)
    except ValueError:
        raise GenError(
            f"syllables must be a number or a list like 8,8,5,5,8, got '{text}'"
        ) from None
    if not values or not all(1 <= v <= MAX_SYLLABLES for v in values):
        raise GenError(f"syllables must be in [1, {MAX_SYLLABLES}], got '{text}'")
    return values


@dataclass(frozen=True)
class VerseOptions:
    """The verse options of `gen sample`; all None means plain sampling. Checked when made."""

    form: str | None = None
    rhyme: str | None = None
    syllables: str | None = None
    lines: int | None = None
    stanzas: int | None = None

    def __post_init__(self):
        for name, value in (("lines", self.lines), ("stanzas", self.stanzas)):
            if value is not None:
                check_range(name, value, 1, UNIT_LIMITS[name])
        if not self.constrained and self.lines and self.stanzas:
            raise GenError("give --lines or --stanzas, not both (or use them with --form)")
        if self.constrained:
            plan(self)  # a bad form, scheme or syllable pattern is refused now

    @property
    def constrained(self) -> bool:
        """Whether lines are drawn to meet a form (rhyme or syllables), not freely."""
        return bool(self.form or self.rhyme or self.syllables)


def _stanza(options: VerseOptions) -> list[LineSpec]:
    """The line specs of one stanza: the scheme, repeated over `lines` with fresh rhymes."""
    base = FORMS[options.form] if options.form else Form("", ())
    scheme = options.rhyme.upper() if options.rhyme else base.rhyme
    if scheme and not re.fullmatch(r"[A-Z\- ]+", scheme):
        raise GenError(f"rhyme scheme takes letters, '-' and spaces, got '{options.rhyme}'")
    stanza: list[LineSpec] = []
    for letter in scheme.strip():
        if letter == " ":
            if stanza:
                stanza[-1].stanza_end = True
            continue
        stanza.append(LineSpec(None if letter == "-" else letter))
    if not stanza:  # free verse: --lines (default 14) unconstrained or syllable-counted lines
        return [LineSpec() for _ in range(options.lines or 14)]
    if options.lines:  # the scheme repeats with fresh rhymes: couplets AA BB, not AAAA
        size = len(stanza)
        return [
            replace(spec, rhyme=f"{spec.rhyme}{i // size}" if spec.rhyme else None)
            for i, spec in ((i, stanza[i % size]) for i in range(options.lines))
        ]
    return stanza


def plan(options: VerseOptions) -> list[LineSpec]:
    """The line specs of one poem."""
    if options.form is not None and options.form not in FORMS:
        raise GenError(f"unknown form '{options.form}'; choose from {', '.join(FORMS)}")
    base = FORMS[options.form] if options.form else Form("", ())
    targets = parse_syllables(options.syllables) or base.syllables
    stanza = _stanza(options)
    for i, spec in enumerate(stanza):
        spec.syllables = targets[i % len(targets)] if targets else None
    poem: list[LineSpec] = []
    count = options.stanzas or 1
    if len(stanza) * count > UNIT_LIMITS["lines"]:
        raise GenError(
            f"{count:,} stanzas of {len(stanza):,} lines make more than "
            f"{UNIT_LIMITS['lines']:,} lines in a poem"
        )
    for s in range(count):
        copy = [replace(spec) for spec in stanza]
        if s < count - 1:
            copy[-1].stanza_end = True
        for spec in copy:  # rhyme letters are per stanza: prefixed with its number
            spec.rhyme = f"{s}:{spec.rhyme}" if spec.rhyme else None
        poem += copy
    poem[-1].stanza_end = False  # no blank line after the last line
    return poem
