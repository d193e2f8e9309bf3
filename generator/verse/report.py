"""What poems met, poem by poem and over a batch: lines on their syllable target, lines that
scan, rhyme pairs the CMU dictionary confirms, the share of real words, and the lines that
could not meet their constraints. Counted as each poem is written, so that writing many poems
holds none of them in memory."""

from __future__ import annotations

from dataclasses import dataclass

from generator.verse import lexicon, metre, prosody

MAX_NAMED = 20  # poems and unmet lines named in the report; the rest are counted


@dataclass
class Tally:
    """Met out of asked, for one figure."""

    met: int = 0
    of: int = 0

    def add(self, ok: bool) -> None:
        self.met, self.of = self.met + bool(ok), self.of + 1

    def __iadd__(self, other: Tally) -> Tally:
        self.met, self.of = self.met + other.met, self.of + other.of
        return self

    @property
    def share(self) -> float | None:
        return self.met / self.of if self.of else None

    def text(self) -> str:
        return f"{self.met}/{self.of} ({100 * self.share:.0f} %)"


def measure(poem, known: frozenset[str] | None) -> dict[str, Tally]:
    """One poem's tallies: syllables, scansion, rhymes (a refrain's repeat is not a rhyme
    pair) and, with `known`, real words (a possessive counts as its word)."""
    tally = {name: Tally() for name in ("syllables", "metre", "rhymes", "real words")}
    first: dict[str, str] = {}
    for line, spec in zip(poem.lines, poem.specs):
        if spec.syllables is not None:
            tally["syllables"].add(spec.syllables in prosody.line_syllables(line.text))
        if spec.metre:
            tally["metre"].add(metre.scans(line.text, spec.metre, spec.feet))
        end = prosody.last_word(line.text)
        if spec.rhyme and spec.rhyme in first and not line.repeat:
            tally["rhymes"].add(prosody.dictionary_rhymes(end, first[spec.rhyme]))
        elif spec.rhyme:
            first.setdefault(spec.rhyme, end)
        if known is not None:
            for word in prosody.words(line.text):
                tally["real words"].add(lexicon.is_known(word, known))
    return tally


LABELS = {
    "syllables": "lines on their syllable target",
    "metre": "lines that scan",
    "rhymes": "rhyme pairs confirmed by the CMU dictionary",
    "real words": "real words",
}


class FormReport:
    """Add each poem as it is written (`add` also gives its figures for the output's
    summary); `lines()` gives the report."""

    def __init__(self, known: frozenset[str] | None = None, seconds: float | None = None):
        self.known, self.seconds = known, seconds
        self.total = {name: Tally() for name in LABELS}
        self.poems, self.named, self.unmet = 0, [], []
        self.unmet_count = self.timed_out = 0

    def add(self, poem, copy_rate: float | None = None) -> dict:
        """Count one poem; its figures as {name: share}."""
        self.poems += 1
        tally = measure(poem, self.known)
        for name, t in tally.items():
            self.total[name] += t
        parts = [f"{t.met}/{t.of} {name}" for name, t in tally.items() if t.of]
        if copy_rate is not None:
            parts.append(f"copy rate {100 * copy_rate:.1f} %")
        if poem.timed_out_at:
            self.timed_out += 1
            parts.append(f"time limit reached at line {poem.timed_out_at}")
        if len(self.named) < MAX_NAMED:
            self.named.append(f"poem {self.poems}: " + (", ".join(parts) or "no figures"))
        for n, line in enumerate(poem.lines, 1):
            if not line.verdict.met and not line.repeat:  # a refrain is named once
                self._unmet(n, line)
        return {name.replace(" ", "_"): t.share for name, t in tally.items() if t.of}

    def _unmet(self, n: int, line) -> None:
        self.unmet_count += 1
        if len(self.unmet) < MAX_NAMED:
            v = line.verdict
            checks = (("syllables", v.syllables), ("rhyme", v.rhyme), ("metre", v.metre))
            missed = [what for what, ok in checks if not ok]
            self.unmet.append(
                f"poem {self.poems} line {n}: {' and '.join(missed)} not met after "
                f"{line.tries} rounds"
            )

    def lines(self) -> list[str]:
        """The report: each poem's figures, the totals, the time limits reached, then the
        unmet lines."""
        out = list(self.named) if self.poems > 1 else []
        if self.poems > max(1, len(self.named)):
            out.append(f"... and {self.poems - len(self.named)} more poems")
        out += [f"{LABELS[name]}: {t.text()}" for name, t in self.total.items() if t.of]
        if self.timed_out:
            out.append(
                f"{self.timed_out} poems reached the time limit of {self.seconds:g} s; "
                "their remaining lines were drawn once each (--time-limit)"
            )
        out += self.unmet
        if self.unmet_count > len(self.unmet):
            out.append(f"... and {self.unmet_count - len(self.unmet)} more unmet lines")
        return out
