"""Verse forms met by decoding: many candidate lines drawn at once, checked for syllables,
rhyme and metre, the best kept, with a retry budget, a time limit per poem and an honest report
of what could not be met. A refrain's first line is drawn; its repeats are fed as written.

The model is never retrained for a form. Each line is drawn as a batch of candidates that all
start from the state after the lines chosen so far (the sampler carries LSTM state), so a
14-line sonnet costs 14 short batched draws, not a re-read of the poem per candidate. Text and
tokens are converted by the plugin (`VerseCorpus.text`, `encode_text`), so any verse plugin,
of characters or of words, gets the forms.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from generator.errors import GenError
from generator.verse import metre, prosody
from generator.verse.forms import LineSpec

MIN_RHYMES = 30  # a line that opens a rhyme must end in a word with this many rhymes
CANDIDATES = 128  # lines drawn at once for each line of a poem
ROUNDS = 6  # batches of candidates tried before a line is given up as unmet
NATURAL_ROUNDS = 2  # rounds of free lines before a rhyme is forced at the end of a line
FORCE_PREFIXES = 24  # likeliest line beginnings tried with a forced rhyme word
FORCE_WORDS = 24  # rhyme words tried per line beginning
RHYME_SYLLABLES = 3  # the longest rhyme word a forced line beginning leaves room for
LINE_TOKENS = 200  # a line is cut after this many tokens
# ...or, with a syllable target, after this many per syllable (and the slack): a batch runs
# until its longest line ends, and lines far over their syllables are never chosen
TOKENS_PER_SYLLABLE, SLACK = 5, 16


@dataclass(frozen=True)
class Verdict:
    """What a line meets; a lower `penalty` is better."""

    syllables: bool
    rhyme: bool
    metre: bool
    penalty: float

    @property
    def met(self) -> bool:
        return self.syllables and self.rhyme and self.metre


@dataclass
class LineResult:
    """One chosen line: `text` as judged (with the primer's unfinished line before it, for the
    first line), `tokens` as written; `repeat`: a refrain's repeat, not drawn."""

    text: str
    tokens: list[str]
    verdict: Verdict
    tries: int
    repeat: bool = False


@dataclass
class Poem:
    lines: list[LineResult] = field(default_factory=list)
    specs: list[LineSpec] = field(default_factory=list)
    timed_out_at: int | None = None  # the line (from 1) at which the time limit was reached

    def tokens(self, line_break: str) -> list[str]:
        """The poem as tokens: each line, its line break, and a blank line after a stanza."""
        out: list[str] = []
        for line, spec in zip(self.lines, self.specs):
            out += line.tokens + [line_break] * (2 if spec.stanza_end else 1)
        return out


@dataclass(order=True)
class Candidate:
    """A line that may be chosen; the greatest `key` wins (form met, smallest penalty, then
    likeliest)."""

    key: tuple
    text: str = field(compare=False)
    tokens: list[str] = field(compare=False)
    verdict: Verdict = field(compare=False)
    states: list = field(compare=False)


def judge(line: str, spec: LineSpec, partners: dict[str, list[str]]) -> Verdict:
    """What a candidate line meets of its spec, given the line-end words of each rhyme so
    far (the first is the one to rhyme with; none may be used again)."""
    if not prosody.words(line):
        return Verdict(False, False, False, 100.0)
    counts = prosody.line_syllables(line)
    syl_ok = spec.syllables is None or spec.syllables in counts
    off = 0 if syl_ok else min(abs(c - spec.syllables) for c in counts)
    end = prosody.last_word(line)
    if spec.rhyme is None:
        rhyme_ok = True
    elif spec.rhyme in partners:
        first = partners[spec.rhyme][0]
        rhyme_ok = prosody.rhymes(end, first) and end not in partners[spec.rhyme]
        if rhyme_ok and not prosody.dictionary_rhymes(end, first):
            off += 0.5  # a rhyme by spelling only: kept, but the dictionary's is preferred
    else:  # first line of a rhyme: end on a word with many dictionary rhymes
        rhyme_ok = prosody.rhyme_richness(end) >= MIN_RHYMES
    scans = metre.scans(line, spec.metre, spec.feet)
    return Verdict(syl_ok, rhyme_ok, scans, off + (0 if rhyme_ok else 3) + (0 if scans else 1))


class Composer:
    """Writes poems line by line under their specs with a `Sampler` of a verse plugin; after
    `seconds` on one poem, its remaining lines get one round each, so no poem hangs."""

    def __init__(
        self, sampler, config, candidates: int = CANDIDATES, rounds: int = ROUNDS,
        seconds: float = float("inf"),
    ):  # fmt: skip
        self.sampler, self.vocab, self.plugin = sampler, sampler.vocab, sampler.plugin
        self.line_break = self.plugin.line_break
        if self.line_break not in self.vocab.index:
            raise GenError("this model never saw a line break, so it cannot write lines")
        self.config = replace(config, unit="lines", unit_limit=1.0, max_tokens=LINE_TOKENS)
        self.candidates, self.rounds, self.seconds = candidates, rounds, seconds

    def text(self, tokens: list[str]) -> str:
        return self.plugin.text(tokens)

    def poem(self, primer_tokens: list[str], specs: list[LineSpec], seed: int) -> Poem:
        """Draw a poem under `specs`; see the module docstring."""
        primer = np.repeat(self.sampler.start(primer_tokens)[None, :], self.candidates, axis=0)
        states, poem, partners, refrains = None, Poem(specs=specs), {}, {}
        # a primer that stops mid-line: its unfinished line is the start of the first line
        breaks = [i for i, t in enumerate(primer_tokens) if t == self.line_break]
        before = self.text(primer_tokens[breaks[-1] + 1 if breaks else 0 :])
        started = time.monotonic()
        for index, spec in enumerate(specs):
            rounds = self.rounds
            if time.monotonic() - started > self.seconds:
                poem.timed_out_at = poem.timed_out_at or index + 1
                rounds = 1
            if spec.refrain in refrains:
                line, chosen = self._repeat(refrains[spec.refrain], primer[0], states)
            else:
                best, tries = self._line(
                    spec, partners=partners, primer=primer, states=states,
                    seed=seed + 7919 * index, before=before if index == 0 else "", rounds=rounds,
                )  # fmt: skip
                line, chosen = LineResult(best.text, best.tokens, best.verdict, tries), best.states
            poem.lines.append(line)
            if spec.refrain:
                refrains.setdefault(spec.refrain, line)
            end = prosody.last_word(line.text)
            if spec.rhyme and end:
                partners.setdefault(spec.rhyme, []).append(end)
            # every candidate continues from the chosen line's state, fed its line break(s)
            states = [np.repeat(s, self.candidates, axis=0) for s in chosen]
            count = 2 if spec.stanza_end else 1
            primer = np.full((self.candidates, count), self.vocab.index[self.line_break], np.int32)
        return poem

    def _repeat(self, first: LineResult, primer_row, states) -> tuple[LineResult, list]:
        """A refrain's repeat: its first line fed as written, and the state after it."""
        _, after = self._score([first.text], primer_row, states, end=False)
        tokens = self.plugin.encode_text(first.text)
        return replace(first, tokens=tokens, tries=0, repeat=True), [s.numpy()[:1] for s in after]

    def _line(
        self, spec, *, partners, primer, states, seed, before, rounds
    ) -> tuple[Candidate, int]:
        """The best candidate for one line after up to `rounds` batches, and the rounds
        used; `before` is text the line continues (judged with it)."""
        best, drawn = None, []  # drawn: (text, mean log-probability) of every candidate
        partner = partners[spec.rhyme][0] if spec.rhyme in partners else None
        for attempt in range(rounds):
            config = replace(
                self.config, seed=(seed + 104729 * attempt) % 2**31, max_tokens=line_tokens(spec)
            )
            rows, logp, new_states = self.sampler.draw(primer, config, states)
            for i, row in enumerate(rows):
                tokens = self._line_tokens(row)
                text = before + self.text(tokens)
                verdict = judge(text, spec, partners)
                mean = logp[i] / max(1, len(row))
                drawn.append((text, mean))
                key = (verdict.met, -verdict.penalty, mean)
                if best is None or key > best.key:
                    chosen = [s.numpy()[i : i + 1] for s in new_states]
                    best = Candidate(key, text, tokens, verdict, chosen)
            if best.key[0]:
                return best, attempt + 1
            if partner and states is not None and attempt + 1 >= min(NATURAL_ROUNDS, rounds):
                forced = self._force_rhyme(
                    spec, partner, drawn=drawn, primer_row=primer[0], states=states,
                    partners=partners,
                )  # fmt: skip
                best = max(best, forced) if forced else best
                if best.key[0]:
                    return best, attempt + 1
        return best, rounds

    def _line_tokens(self, row: list[int]) -> list[str]:
        """The tokens of a drawn line without the line break that ended it."""
        tokens = self.vocab.decode(row)
        while tokens and tokens[-1] == self.line_break:
            tokens.pop()
        return tokens

    def _force_rhyme(self, spec, partner, *, drawn, primer_row, states, partners):
        """Rhyme by forcing the end word: keep the model's own lines up to their last word,
        end them with dictionary rhymes of `partner` that fit the syllable target, and let the
        model score every such line (teacher-forced) to pick the likeliest. `drawn` holds
        (line, mean log-probability) candidates; `primer_row` and `states` are what the line
        starts from. Returns a `Candidate`, or None if nothing fits."""
        prefixes = {}  # text before the last word -> its possible syllable counts
        for line, _ in sorted(drawn, key=lambda d: -d[1]):
            ends = list(prosody.WORD.finditer(line))
            if len(ends) >= 2 and len(prefixes) < FORCE_PREFIXES:
                prefix = line[: ends[-1].start()]
                counts = prosody.line_syllables(prefix)
                if room_for_rhyme(spec, counts):
                    prefixes.setdefault(prefix, counts)
        known = self.sampler.known_words(self.config.words)  # None: any word
        words = [
            w
            for w in prosody.rhyme_words(partner)
            if not self.vocab.unknown(self.plugin.encode_text(w))
            and (known is None or w in known)
            and w not in partners[spec.rhyme]
        ]
        if not prefixes or not words:
            return None
        preferred = self.sampler.preferred_words(self.config.words)
        pools = [words] if preferred is None else [[w for w in words if w in preferred], words]
        lines: list[str] = []
        for pool in pools:  # the corpus's own words first, where one fits and scans
            fitting = self._rhymed_lines(spec, prefixes, pool, primer_row, states)
            scanning = [line for line in fitting if metre.scans(line, spec.metre, spec.feet)]
            lines = scanning or lines or fitting
            if scanning:
                break
        if not lines:
            return None
        logp, _ = self._score(lines, primer_row, states)
        best = lines[int(np.argmax(logp))]
        _, after = self._score([best], primer_row, states, end=False)  # as `draw` leaves it
        verdict = judge(best, spec, partners)
        chosen = [s.numpy()[:1] for s in after]
        tokens = self.plugin.encode_text(best)
        key = (verdict.met, -verdict.penalty, float(np.max(logp)))
        return Candidate(key, best, tokens, verdict, chosen)

    def _rhymed_lines(self, spec, prefixes, words, primer_row, states) -> list[str]:
        """Each line beginning of `prefixes` ended by each of the rhyme `words` the model
        ranks highest after the likeliest beginning, where the syllables fit the target."""
        if not words:
            return []
        first = next(iter(prefixes))
        shortlist = [w for w in words if fits(spec, prefixes[first], w)] or words
        ranked, _ = self._score([first + w for w in shortlist], primer_row, states)
        shortlist = [shortlist[i] for i in np.argsort(-ranked)[:FORCE_WORDS]]
        return [p + w for p, counts in prefixes.items() for w in shortlist if fits(spec, counts, w)]

    def _score(self, lines: list[str], primer_row, states, end: bool = True):
        """Mean log-probability per character of each line (with a line break after it when
        `end`, so that the model also judges whether the line may stop there), and the states
        after it."""
        tail = [self.line_break] if end else []
        rows = [
            list(primer_row) + self.vocab.encode(self.plugin.encode_text(line) + tail).tolist()
            for line in lines
        ]
        start = [np.repeat(s[:1], len(rows), axis=0) for s in states]
        logp, after = self.sampler.score(rows, len(primer_row), start)
        return logp / np.array([max(1, len(line)) for line in lines]), after


def line_tokens(spec: LineSpec) -> int:
    """The most tokens a candidate for the line may run to."""
    if spec.syllables is None:
        return LINE_TOKENS
    return min(LINE_TOKENS, TOKENS_PER_SYLLABLE * spec.syllables + SLACK)


def room_for_rhyme(spec: LineSpec, counts) -> bool:
    """Whether a line beginning of `counts` syllables leaves room for a rhyme word of 1 to
    `RHYME_SYLLABLES` syllables under the line's target."""
    target = spec.syllables
    return target is None or any(1 <= target - c <= RHYME_SYLLABLES for c in counts)


def fits(spec: LineSpec, counts, word: str) -> bool:
    """Whether `word` after a beginning of `counts` syllables meets the line's target."""
    options = prosody.syllable_options(word)
    return spec.syllables is None or any(c + n == spec.syllables for c in counts for n in options)
