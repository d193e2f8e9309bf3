"""What a batch of poems met: syllable targets, rhyme pairs the CMU dictionary confirms, and
the lines that could not meet their constraint. Counted poem by poem, so that writing many
poems holds none of them in memory."""

from __future__ import annotations

from generator.verse import prosody

MAX_UNMET_LINES = 20  # unmet lines named in the report; the rest are counted


class FormReport:
    """Add each poem as it is written; `lines()` gives the report."""

    def __init__(self):
        self.on_target = self.with_target = self.pairs = self.confirmed = 0
        self.poems = 0
        self.unmet: list[str] = []
        self.unmet_count = 0

    def add(self, poem) -> None:
        """Count one poem's lines, rhymes and unmet constraints."""
        self.poems += 1
        first: dict[str, str] = {}
        for n, (line, spec) in enumerate(zip(poem.lines, poem.specs), 1):
            if spec.syllables is not None:
                self.with_target += 1
                self.on_target += spec.syllables in prosody.line_syllables(line.text)
            end = prosody.last_word(line.text)
            if spec.rhyme and spec.rhyme in first:
                self.pairs += 1
                self.confirmed += prosody.dictionary_rhymes(end, first[spec.rhyme])
            elif spec.rhyme:
                first[spec.rhyme] = end
            if not (line.syllables_ok and line.rhyme_ok):
                self._unmet(n, line)

    def _unmet(self, n: int, line) -> None:
        self.unmet_count += 1
        if len(self.unmet) < MAX_UNMET_LINES:
            checks = (("syllables", line.syllables_ok), ("rhyme", line.rhyme_ok))
            missed = [what for what, ok in checks if not ok]
            self.unmet.append(
                f"poem {self.poems} line {n}: {' and '.join(missed)} not met after "
                f"{line.tries} rounds"
            )

    def lines(self) -> list[str]:
        """The report: shares of lines on target and rhymes confirmed, then unmet lines."""
        out = []
        if self.with_target:
            share = 100 * self.on_target / self.with_target
            out.append(
                f"lines on their syllable target: {self.on_target}/{self.with_target} "
                f"({share:.0f} %)"
            )
        if self.pairs:
            share = 100 * self.confirmed / self.pairs
            out.append(
                f"rhyme pairs confirmed by the CMU dictionary: {self.confirmed}/{self.pairs} "
                f"({share:.0f} %)"
            )
        out += self.unmet
        if self.unmet_count > len(self.unmet):
            out.append(f"... and {self.unmet_count - len(self.unmet)} more unmet lines")
        return out
