"""The copy report of `gen sample`: how much of each output repeats the run's training corpus,
counted output by output as they are written."""

from __future__ import annotations

from generator.errors import GenError
from generator.keys import control_ids
from generator.metrics import CopyIndex, pooled_rate

MAX_CORPUS_TOKENS = 20_000_000  # the corpus's runs are held in memory: 8 bytes each


class CopyCounter:
    """Counts each output's runs of `plugin.copy_ngram` tokens found in the training split;
    `reason` says why nothing is counted, where that is so."""

    def __init__(self, plugin, vocab, index: CopyIndex | None, reason: str | None = None):
        self.plugin, self.vocab, self.index, self.reason = plugin, vocab, index, reason
        self.hits = self.runs = 0  # over every output so far

    @classmethod
    def for_checkpoint(cls, ckpt, plugin, log=None) -> CopyCounter:
        """The counter of a run's training split, read from its token store; one that counts
        nothing, with the reason, where the split is too large or cannot be read."""
        from generator.splits import saved_split

        tokens = ckpt.metrics().train_tokens or 0
        if tokens > MAX_CORPUS_TOKENS:
            reason = (
                f"the training corpus has {tokens:,} tokens, more than {MAX_CORPUS_TOKENS:,} "
                "(use --no-report)"
            )
            return cls(plugin, ckpt.vocab, None, reason)
        try:
            train, _ = saved_split(ckpt, plugin, log)
        except GenError as exc:
            return cls(plugin, ckpt.vocab, None, str(exc))
        index = CopyIndex(train, plugin.copy_ngram, ckpt.vocab.unk_id, control_ids(ckpt.vocab))
        return cls(plugin, ckpt.vocab, index)

    def add(self, tokens: list[str]) -> float | None:
        """Count one output; its copy rate (None when not measured or too short)."""
        if self.index is None:
            return None
        hits, runs = self.index.count(self.vocab.encode(tokens))
        self.hits, self.runs = self.hits + hits, self.runs + runs
        return pooled_rate([(hits, runs)])

    def report_line(self) -> str:
        """One line on the outputs counted so far, taken together."""
        if self.index is None:
            return f"copy rate not measured: {self.reason}"
        rate = pooled_rate([(self.hits, self.runs)])
        if rate is None:
            return "copy rate not measured: outputs are too short"
        return (
            f"copy rate: {100 * rate:.1f} % of the output's {self.plugin.copy_ngram}-"
            f"{self.plugin.token_name} runs occur in the training corpus"
        )
