"""Verse forms met by decoding: many candidate lines drawn at once, checked for syllables and
rhyme, the best kept, with a retry budget and an honest report of what could not be met.

The model is never retrained for a form. Each line is drawn as a batch of candidates that all
start from the state after the lines chosen so far (the sampler carries LSTM state), so a
14-line sonnet costs 14 short batched draws, not a re-read of the poem per candidate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

import numpy as np

from generator.corpora import prosody
from generator.errors import GenError

NEWLINE = "\n"
MIN_RHYMES = 30  # a line that opens a rhyme must end in a word with this many rhymes
CANDIDATES = 128  # lines drawn at once for each line of a poem
ROUNDS = 6  # batches of candidates tried before a line is given up as unmet
NATURAL_ROUNDS = 2  # rounds of free lines before a rhyme is forced at the end of a line
FORCE_PREFIXES = 24  # likeliest line beginnings tried with a forced rhyme word
FORCE_WORDS = 24  # rhyme words tried per line beginning


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
        ) from None  # noqa: B904
    if not values or min(values) < 1:
        raise GenError(f"syllables must be positive, got '{text}'")
    return values


def plan(
    form: str | None,
    rhyme: str | None,
    syllables: str | None,
    lines: int | None,
    stanzas: int | None,
) -> list[LineSpec]:
    """The line specs of one poem from the sampling options."""
    if form is not None and form not in FORMS:
        raise GenError(f"unknown form '{form}'; choose from {', '.join(FORMS)}")
    base = FORMS[form] if form else Form("", ())
    scheme = rhyme.upper() if rhyme else base.rhyme
    if scheme and not re.fullmatch(r"[A-Z\- ]+", scheme):
        raise GenError(f"rhyme scheme takes letters, '-' and spaces, got '{rhyme}'")
    targets = parse_syllables(syllables) or base.syllables
    stanza = []
    for letter in scheme.strip():
        if letter == " ":
            if stanza:
                stanza[-1].stanza_end = True
            continue
        stanza.append(LineSpec(None if letter == "-" else letter))
    if not stanza:  # free verse: --lines (default 14) unconstrained or syllable-counted lines
        stanza = [LineSpec() for _ in range(lines or 14)]
    elif lines:  # the scheme repeats with fresh rhymes: couplets AA BB, not AAAA
        size = len(stanza)
        stanza = [
            replace(stanza[i % size], rhyme=f"{stanza[i % size].rhyme}{i // size}")
            if stanza[i % size].rhyme
            else replace(stanza[i % size])
            for i in range(lines)
        ]
    for i, spec in enumerate(stanza):
        spec.syllables = targets[i % len(targets)] if targets else None
    poem: list[LineSpec] = []
    for s in range(stanzas or 1):
        copy = [replace(spec) for spec in stanza]
        if s < (stanzas or 1) - 1:
            copy[-1].stanza_end = True
        # rhyme letters are per stanza: prefix them with the stanza number
        for spec in copy:
            spec.rhyme = f"{s}:{spec.rhyme}" if spec.rhyme else None
        poem += copy
    poem[-1].stanza_end = False  # no blank line after the last line
    return poem


@dataclass
class LineResult:
    """One chosen line: `text` as judged (with the primer's unfinished line before it, for the
    first line), `written` as drawn."""

    text: str
    written: str
    syllables_ok: bool
    rhyme_ok: bool
    tries: int


@dataclass
class Poem:
    lines: list[LineResult] = field(default_factory=list)
    specs: list[LineSpec] = field(default_factory=list)

    def text(self) -> str:
        out = []
        for line, spec in zip(self.lines, self.specs):
            out.append(line.written + NEWLINE + (NEWLINE if spec.stanza_end else ""))
        return "".join(out)


def judge(line: str, spec: LineSpec, partners: dict[str, str]) -> tuple[bool, bool, float]:
    """(syllables ok, rhyme ok, penalty) of a candidate line; lower penalty is better."""
    if not prosody.words(line):
        return False, False, 100.0
    counts = prosody.line_syllables(line)
    syl_ok = spec.syllables is None or spec.syllables in counts
    off = 0 if syl_ok else min(abs(c - spec.syllables) for c in counts)
    end = prosody.last_word(line)
    if spec.rhyme is None:
        rhyme_ok = True
    elif spec.rhyme in partners:
        rhyme_ok = prosody.rhymes(end, partners[spec.rhyme])
        if rhyme_ok and not prosody.dictionary_rhymes(end, partners[spec.rhyme]):
            off += 0.5  # a rhyme by spelling only: kept, but the dictionary's is preferred
    else:  # first line of a rhyme: end on a word with many dictionary rhymes
        rhyme_ok = prosody.rhyme_richness(end) >= MIN_RHYMES
    return syl_ok, rhyme_ok, off + (0 if rhyme_ok else 3)


def force_rhyme(sampler, spec, partner, drawn, primer_row, states):
    """Rhyme by forcing the end word: keep the model's own lines up to their last word, end
    them with dictionary rhymes of `partner` that fit the syllable target, and let the model
    score every such line (teacher-forced) to pick the likeliest.

    `drawn` holds (line, mean log-probability) candidates; `primer_row` and `states` are what
    the line starts from. Returns (line, states after it) or None if nothing fits.
    """
    vocab = sampler.vocab
    prefixes = {}  # prefix text -> its possible syllable counts
    for line, _ in sorted(drawn, key=lambda d: -d[1]):
        ends = list(prosody.WORD.finditer(line))
        if len(ends) >= 2 and len(prefixes) < FORCE_PREFIXES:
            prefix = line[: ends[-1].start()]
            prefixes.setdefault(prefix, prosody.line_syllables(prefix))
    if not prefixes:
        return None
    words = [w for w in prosody.rhyme_words(partner) if all(c in vocab.index for c in w)]

    def fits(counts, word):
        options = prosody.syllable_options(word)
        return spec.syllables is None or any(
            c + n == spec.syllables for c in counts for n in options
        )

    def score(lines, end=NEWLINE):
        """Mean log-probability per character of each line (with `end` after it, so that the
        model also judges whether the line may stop there), and the states after it."""
        rows = [list(primer_row) + vocab.encode(list(line + end)).tolist() for line in lines]
        start = [np.repeat(s[:1], len(rows), axis=0) for s in states]
        logp, after = sampler.score(rows, len(primer_row), start)
        return logp / np.array([max(1, len(line)) for line in lines]), after

    # 1. the model ranks the rhyme words after the likeliest beginning they fit
    first = next(iter(prefixes))
    shortlist = [w for w in words if fits(prefixes[first], w)] or words
    if not shortlist:
        return None
    ranked, _ = score([first + w for w in shortlist])
    shortlist = [shortlist[i] for i in np.argsort(-ranked)[:FORCE_WORDS]]
    # 2. every beginning with every shortlisted word that meets the syllable target
    lines = [p + w for p, counts in prefixes.items() for w in shortlist if fits(counts, w)]
    if not lines:
        return None
    logp, _ = score(lines)
    best = lines[int(np.argmax(logp))]
    _, after = score([best], end="")  # the state before the line break, as `draw` leaves it
    return best, [s.numpy()[:1] for s in after]


def compose(sampler, primer_tokens, specs, config, candidates=CANDIDATES, rounds=ROUNDS) -> Poem:
    """Draw a poem line by line under `specs`; see the module docstring."""
    vocab = sampler.vocab
    if NEWLINE not in vocab.index:
        raise GenError("this model never saw a line break, so it cannot write lines")
    line_config = replace(config, unit="lines", unit_limit=1.0, max_tokens=200)
    primer = np.repeat(sampler.start(primer_tokens)[None, :], candidates, axis=0)
    states, poem, partners = None, Poem(specs=specs), {}
    # a primer that stops mid-line: its unfinished line is the start of the first line
    before = "".join(primer_tokens).rpartition(NEWLINE)[2]
    for index, spec in enumerate(specs):
        best, drawn = None, []  # best: (key, text, written, syl_ok, rhyme_ok, states)
        partner = partners.get(spec.rhyme) if spec.rhyme else None
        for attempt in range(rounds):
            seed = (config.seed + 7919 * index + 104729 * attempt) % 2**31
            rows, logp, new_states = sampler.draw(primer, replace(line_config, seed=seed), states)
            for i, row in enumerate(rows):
                written = "".join(vocab.decode(row)).rstrip(NEWLINE)
                text = before + written if index == 0 else written
                syl_ok, rhyme_ok, penalty = judge(text, spec, partners)
                mean_logp = logp[i] / max(1, len(row))
                drawn.append((written, mean_logp))
                key = (syl_ok and rhyme_ok, -penalty, mean_logp)
                if best is None or key > best[0]:
                    chosen = [s.numpy()[i : i + 1] for s in new_states]
                    best = (key, text, written, syl_ok, rhyme_ok, chosen)
            if best[0][0]:
                break
            if partner and states is not None and attempt + 1 >= NATURAL_ROUNDS:
                forced = force_rhyme(sampler, spec, partner, drawn, primer[0], states)
                if forced:
                    written, chosen = forced
                    syl_ok, rhyme_ok, penalty = judge(written, spec, partners)
                    best = (
                        (syl_ok and rhyme_ok, -penalty, 0.0),
                        written,
                        written,
                        syl_ok,
                        rhyme_ok,
                        chosen,
                    )
                    if best[0][0]:
                        break
        _, text, written, syl_ok, rhyme_ok, chosen = best
        poem.lines.append(LineResult(text, written, syl_ok, rhyme_ok, attempt + 1))
        end = prosody.last_word(text)
        if spec.rhyme and spec.rhyme not in partners and end:
            partners[spec.rhyme] = end
        # every candidate continues from the chosen line's state, fed its line break(s)
        states = [np.repeat(s, candidates, axis=0) for s in chosen]
        breaks = 2 if spec.stanza_end else 1
        primer = np.full((candidates, breaks), vocab.index[NEWLINE], np.int32)
    return poem


def report(poems: list[Poem]) -> list[str]:
    """Short report: syllable targets met, rhyme pairs the dictionary confirms, lines that
    could not meet their constraint."""
    on_target = with_target = pairs = confirmed = 0
    unmet = []
    for p, poem in enumerate(poems, 1):
        first: dict[str, str] = {}
        for n, (line, spec) in enumerate(zip(poem.lines, poem.specs), 1):
            if spec.syllables is not None:
                with_target += 1
                on_target += spec.syllables in prosody.line_syllables(line.text)
            end = prosody.last_word(line.text)
            if spec.rhyme and spec.rhyme in first:
                pairs += 1
                confirmed += prosody.dictionary_rhymes(end, first[spec.rhyme])
            elif spec.rhyme:
                first[spec.rhyme] = end
            if not (line.syllables_ok and line.rhyme_ok):
                what = [
                    w
                    for w, ok in (("syllables", line.syllables_ok), ("rhyme", line.rhyme_ok))
                    if not ok
                ]
                unmet.append(
                    f"poem {p} line {n}: {' and '.join(what)} not met after {line.tries} rounds"
                )
    out = []
    if with_target:
        out.append(
            f"lines on their syllable target: {on_target}/{with_target} "
            f"({100 * on_target / with_target:.0f} %)"
        )
    if pairs:
        out.append(
            f"rhyme pairs confirmed by the CMU dictionary: {confirmed}/{pairs} "
            f"({100 * confirmed / pairs:.0f} %)"
        )
    return out + unmet
