"""Verse forms as line specs: a rhyme scheme with refrains, syllable targets and metre, from a
named form or from `--rhyme`, `--syllables`, `--metre`, `--feet`, `--lines` and `--stanzas`."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from generator.config import UNIT_LIMITS, check_range
from generator.errors import GenError
from generator.verse import metre as metres

MAX_SYLLABLES = 100  # per line
MAX_FEET = 30  # per line
POEM_SECONDS = 120.0  # default time limit per poem
DEFAULT_FEET = {"iambic": 5, "trochaic": 5, "anapestic": 4, "dactylic": 4}
# a rhyme letter with an optional refrain number (A1: the first refrain, rhyming on A), an
# unrhymed line, or a stanza break
SCHEME_ITEM = re.compile(r"([A-Z])(\d*)|(-)|( )")


@dataclass(frozen=True)
class Form:
    """A rhyme scheme (a letter per line, a number after it for a refrain, "-" for an
    unrhymed line, " " for a stanza break), syllables per line and feet per line (both cycled;
    empty for no target), and the metre of its feet."""

    rhyme: str
    syllables: tuple[int, ...]
    metre: str | None = None
    feet: tuple[int, ...] = ()


VILLANELLE = "A1BA2 ABA1 ABA2 ABA1 ABA2 ABA1A2"  # two refrains, repeated exactly

FORMS = {
    "couplet": Form("AA", (10,), "iambic", (5,)),
    "quatrain": Form("ABAB", (10,), "iambic", (5,)),
    "limerick": Form("AABBA", (8, 8, 5, 5, 8), "anapestic", (3, 3, 2, 2, 3)),
    "sonnet": Form("ABABCDCDEFEFGG", (10,), "iambic", (5,)),  # Shakespearean
    "ballad": Form("ABCB", (8, 6, 8, 6), "iambic", (4, 3, 4, 3)),  # common metre
    "villanelle": Form(VILLANELLE, (10,), "iambic", (5,)),
    "haiku": Form("---", (5, 7, 5)),
    "free": Form("", ()),
}


@dataclass
class LineSpec:
    """What one line must meet."""

    rhyme: str | None = None  # rhyme letter, or None
    syllables: int | None = None  # syllable target, or None
    stanza_end: bool = False  # a blank line follows
    refrain: str | None = None  # the refrain this line is (repeated after its first time)
    metre: str | None = None  # the metre its feet are in, or None
    feet: int | None = None  # feet of `metre`


def parse_counts(text: str | None, name: str = "syllables", most: int = MAX_SYLLABLES):
    """`10` or a per-line pattern `8,8,5,5,8`, as a tuple (empty for no text)."""
    if not text:
        return ()
    try:
        values = tuple(int(v) for v in re.split(r"[,\s]+", text.strip()) if v)
    except ValueError:
        raise GenError(f"{name} must be a number or a list like 8,8,5,5,8, got '{text}'") from None
    if not values or not all(1 <= v <= most for v in values):
        raise GenError(f"{name} must be in [1, {most}], got '{text}'")
    return values


@dataclass(frozen=True)
class VerseOptions:
    """The verse options of `gen sample`; all None means plain sampling. Checked when made."""

    form: str | None = None
    rhyme: str | None = None
    syllables: str | None = None
    lines: int | None = None
    stanzas: int | None = None
    metre: str | None = None  # one of `metre.METRES`; "none" drops the form's
    feet: str | None = None  # feet per line, one number or a pattern such as 4,3,4,3
    time_limit: float = POEM_SECONDS  # seconds per poem before its lines get one round each

    def __post_init__(self):
        for name, value in (("lines", self.lines), ("stanzas", self.stanzas)):
            if value is not None:
                check_range(name, value, 1, UNIT_LIMITS[name])
        check_range("time-limit", self.time_limit, 0, UNIT_LIMITS["seconds"], above=True)
        if self.metre is not None and self.metre not in metres.METRES:
            raise GenError(f"unknown metre '{self.metre}'; choose from {', '.join(metres.METRES)}")
        if not self.constrained and self.lines and self.stanzas:
            raise GenError("give --lines or --stanzas, not both (or use them with --form)")
        if self.constrained:
            plan(self)  # a bad form, scheme, syllable or feet pattern is refused now

    @property
    def constrained(self) -> bool:
        """Whether lines are drawn to meet a form (rhyme, syllables or metre), not freely."""
        metre = self.metre not in (None, "none")
        return bool(self.form or self.rhyme or self.syllables or metre or self.feet)


def _scheme(text: str) -> list[LineSpec]:
    """The line specs of a rhyme scheme: rhymes, refrains and stanza ends."""
    if not re.fullmatch(r"(?:[A-Z]\d*|-| )+", text):
        raise GenError(
            f"rhyme scheme takes letters (a number after one marks a refrain, as in A1), '-' "
            f"and spaces, got '{text}'"
        )
    stanza: list[LineSpec] = []
    for letter, refrain, unrhymed, space in SCHEME_ITEM.findall(text.strip()):
        if space:
            stanza[-1].stanza_end = True
        elif unrhymed:
            stanza.append(LineSpec())
        else:
            stanza.append(LineSpec(letter, refrain=letter + refrain if refrain else None))
    return stanza


def _stanza(options: VerseOptions, base: Form) -> list[LineSpec]:
    """The line specs of one stanza: the scheme, repeated over `lines` with fresh rhymes."""
    scheme = options.rhyme.upper() if options.rhyme else base.rhyme
    stanza = _scheme(scheme) if scheme.strip() else []
    if not stanza:  # free verse: --lines (default 14) unconstrained or syllable-counted lines
        return [LineSpec() for _ in range(options.lines or 14)]
    if options.lines:  # the scheme repeats with fresh rhymes: couplets AA BB, not AAAA
        size = len(stanza)
        return [
            replace(
                spec, rhyme=_fresh(spec.rhyme, i // size), refrain=_fresh(spec.refrain, i // size)
            )
            for i, spec in ((i, stanza[i % size]) for i in range(options.lines))
        ]
    return stanza


def _fresh(name: str | None, k) -> str | None:
    """A rhyme or refrain name made distinct for the k-th stanza or repeat."""
    return f"{k}:{name}" if name else None


def _metre(options: VerseOptions, base: Form) -> tuple[str | None, tuple[int, ...]]:
    """The metre and the feet per line (cycled)."""
    metre = options.metre or base.metre
    if metre in (None, "none"):
        if options.feet:
            raise GenError("--feet needs a metre: give --metre or a form that has one")
        return None, ()
    feet = parse_counts(options.feet, "feet", MAX_FEET)
    if not feet and base.metre and base.feet and not options.syllables:
        feet = base.feet
    if not feet:  # as many feet as the syllables hold
        targets = parse_counts(options.syllables) or base.syllables
        feet = tuple(feet_for(metre, t) for t in targets) or (DEFAULT_FEET[metre],)
    return metre, feet


def feet_for(metre: str, syllables: int) -> int:
    """The fewest feet of `metre` whose line (shortened feet included) has `syllables`; else
    the nearest count, which `plan` then finds does not fit."""
    for feet in range(1, MAX_FEET + 1):
        if syllables in metres.lengths(metre, feet):
            return feet
    return max(1, round(syllables / len(metres.FEET[metre])))


def _syllables(options: VerseOptions, base: Form, metre, feet) -> tuple[int, ...]:
    """Syllables per line (cycled): as given, else the form's unless the metre or feet were
    changed, else a whole line of the metre's feet."""
    given = parse_counts(options.syllables)
    if given:
        return given
    changed = options.metre not in (None, base.metre) or options.feet
    if metre and (changed or not base.syllables):
        return tuple(metres.syllables(metre, f) for f in feet)
    return base.syllables


def plan(options: VerseOptions) -> list[LineSpec]:
    """The line specs of one poem."""
    if options.form is not None and options.form not in FORMS:
        raise GenError(f"unknown form '{options.form}'; choose from {', '.join(FORMS)}")
    base = FORMS[options.form] if options.form else Form("", ())
    metre, feet = _metre(options, base)
    targets = _syllables(options, base, metre, feet)
    stanza = _stanza(options, base)
    for i, spec in enumerate(stanza):
        spec.syllables = targets[i % len(targets)] if targets else None
        spec.metre, spec.feet = (metre, feet[i % len(feet)]) if metre else (None, None)
        if not _metre_fits(spec):
            if options.metre or options.feet:
                raise GenError(_metre_misfit(spec))
            spec.metre = spec.feet = None  # the form's metre yields to the syllables asked
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
        for spec in copy:  # rhymes and refrains are per stanza: prefixed with its number
            spec.rhyme, spec.refrain = _fresh(spec.rhyme, s), _fresh(spec.refrain, s)
        poem += copy
    poem[-1].stanza_end = False  # no blank line after the last line
    return poem


def _metre_fits(spec: LineSpec) -> bool:
    """Whether a line of the spec's feet can have its syllable target."""
    if not spec.metre or spec.syllables is None:
        return True
    return spec.syllables in metres.lengths(spec.metre, spec.feet)


def _metre_misfit(spec: LineSpec) -> str:
    lengths = " or ".join(map(str, sorted(metres.lengths(spec.metre, spec.feet))))
    return f"{spec.feet} {spec.metre} feet make lines of {lengths} syllables, not {spec.syllables}"
