"""Sampling: a checkpoint loaded with its plugin and vocabulary, drawing ids with carried LSTM
state (`generator.draw`) under a `SampleConfig`."""

from __future__ import annotations

from functools import cached_property

import numpy as np

from generator import checkpoint, keys, tokenmaps
from generator.config import WORDS, SampleConfig
from generator.draw import DrawLoop, Knobs, compile_scorer
from generator.filters import Words
from generator.vocab import SPECIALS

__all__ = ["SampleConfig", "Sampler"]


class Sampler:
    """A checkpoint loaded for sampling: its plugin, vocabulary and compiled loops."""

    def __init__(self, ckpt, which: str = "best"):
        from generator.model import StepModel
        from generator.tf_setup import import_tensorflow

        self.tf = import_tensorflow()
        self.plugin = checkpoint.plugin_of(ckpt)
        checkpoint.check_corpus(ckpt, self.plugin)
        self.vocab = ckpt.vocab
        self.ckpt = ckpt  # its corpus gives the known words of verse
        self._corpus_words: frozenset[str] | None = None  # read on first use
        self._known: dict[str, frozenset[str]] = {}  # --words -> the words it allows
        self.key_counts = ckpt.key_counts  # {} for a run trained without keys
        self.step_model = StepModel(ckpt.load_model(which), ckpt.model_config)
        controls = [i for i, t in enumerate(self.vocab.tokens) if keys.key_of_token(t)]
        banned = [self.vocab.index[s] for s in SPECIALS] + controls  # always given, never drawn
        grammar = tokenmaps.grammar_tables(self.plugin, self.vocab, ckpt.learned_grammar())
        releases = tokenmaps.releases(self.plugin, self.vocab, grammar)
        self.loop = DrawLoop(self.step_model, len(self.vocab), banned, grammar, releases)
        self._score = None  # compiled on first use
        self._lengths: dict[str, np.ndarray] = {}  # unit -> its (3, vocab) length table
        self._key_bias: dict[tuple, np.ndarray] = {}  # (key, nats) -> its (vocab,) penalties

    def start(self, primer_tokens: list[str], key: str | None = None) -> np.ndarray:
        """Primer ids for a new piece: `<start>`, the plugin's lead-in, the primer's tokens
        with its key's control tokens among them as training has them (music: see `keys`)."""
        lead_in = [t for t in self.plugin.lead_in if t in self.vocab.index]
        control = [keys.token(key)] if key else []
        ids = self.vocab.encode(lead_in + keys.interleaved(control, primer_tokens))
        return np.concatenate([[self.vocab.start_id], ids]).astype(np.int32)

    def controls(self, keys_of_streams: list[str | None], primer_tokens: list[str],
                 key_bias: float = 0.0) -> dict:  # fmt: skip
        """The `Knobs` fields that give each stream its key again whenever it is due, and with
        `key_bias`, hold back its notes out of that key by as many nats."""
        if not any(keys_of_streams):
            return {}
        ids = [self.vocab.index[keys.token(k)] if k else -1 for k in keys_of_streams]
        since = keys.since_last(primer_tokens)
        fields = {"controls": np.array(ids, np.int32), "every": keys.EVERY,
                  "since": np.full(len(ids), since, np.int32)}  # fmt: skip
        if key_bias > 0:
            fields["bias"] = np.stack([self.key_bias(k, key_bias) for k in keys_of_streams])
        return fields

    def key_bias(self, key: str | None, nats: float) -> np.ndarray:
        """(vocab,) the penalty of notes outside `key` (zeros for a stream without one)."""
        if key is None:
            return np.zeros(len(self.vocab), np.float32)
        if (key, nats) not in self._key_bias:
            self._key_bias[key, nats] = tokenmaps.key_bias(self.plugin, self.vocab, key, nats)
        return self._key_bias[key, nats]

    def keys(self, count: int, key: str | None, seed: int) -> list[str | None]:
        """The key of each of `count` new pieces: `key` if given, else drawn (seeded) as often
        as the corpus had each; None for a run trained without keys."""
        if not self.key_counts:
            return [None] * count
        if key is not None:
            return [key] * count
        names = sorted(self.key_counts)
        weights = np.array([self.key_counts[k] for k in names], np.float64)
        rng = np.random.default_rng(seed)
        return [names[i] for i in rng.choice(len(names), size=count, p=weights / weights.sum())]

    def knobs(self, config: SampleConfig) -> Knobs:
        """The draw's inputs for `config`: the plugin's default temperature where none is
        given, and its length table where a unit limit is."""
        limit, lengths = np.inf, np.zeros((3, 1), np.float32)
        if config.unit is not None:
            if config.unit not in self._lengths:
                table = tokenmaps.length_table(self.plugin, self.vocab, config.unit)
                self._lengths[config.unit] = np.ascontiguousarray(table, np.float32)
            limit, lengths = config.unit_limit, self._lengths[config.unit]
        temperature = config.temperature or self.plugin.default_temperature
        words = WORDS.index(config.words) if self.spells else 0  # 0: any word
        if words and words not in self.loop.tries:
            self.loop.tries[words] = Words(self.word_tables(config.words))
        return Knobs(
            config.max_tokens, lengths, limit, temperature, config.top_k, config.top_p,
            config.seed, self.excluded(config.programs), words=words, **self.hold(),
        )  # fmt: skip

    def hold(self) -> dict:
        """The `Knobs` fields that end a note sounding longer than the run's note limit as
        the sampler draws it, so the model hears it end where the file will end it; none for
        runs stored without a limit."""
        limit = getattr(self.plugin, "note_seconds", None)
        if not limit or "seconds" not in self.plugin.length_units:
            return {}
        if "seconds" not in self._lengths:
            table = tokenmaps.length_table(self.plugin, self.vocab, "seconds")
            self._lengths["seconds"] = np.ascontiguousarray(table, np.float32)
        return {"hold": float(limit), "seconds": self._lengths["seconds"][0]}

    @cached_property
    def spells(self) -> bool:
        """Whether the word rule applies: verse written letter by letter."""
        from generator.verse import lexicon

        return self.plugin.kind == "verse" and lexicon.spells(self.vocab.tokens)

    def word_tables(self, words: str) -> dict[str, np.ndarray]:
        """The trie of `known_words(words)` over the vocabulary's characters; with "real",
        the corpus's own words are preferred to the dictionary's others."""
        from generator.verse import lexicon

        tokens, known = self.vocab.tokens, self.known_words(words)
        return lexicon.trie_tables(tokens, known, self.preferred_words(words))

    def preferred_words(self, words: str) -> frozenset[str] | None:
        """The words preferred among `known_words(words)`: for "real", the training corpus's
        (None where it is gone or has none: then all are alike)."""
        from generator.errors import GenError

        if words != "real" or not self.spells:
            return None
        try:
            return self._corpus_word_set() or None
        except GenError:
            return None

    def known_words(self, words: str) -> frozenset[str] | None:
        """The words verse may use under `--words`: the training corpus's, and for "real" the
        dictionary's too (the dictionary's alone where the run's corpus is gone); None: any."""
        from generator.errors import GenError
        from generator.verse import lexicon

        if words == "any" or not self.spells:
            return None
        if words in self._known:
            return self._known[words]
        try:
            corpus = self._corpus_word_set()
        except GenError as exc:
            if words == "corpus":
                raise GenError(f"--words corpus needs the run's corpus: {exc}") from None
            corpus = frozenset()
        if words == "corpus" and not corpus:
            raise GenError("--words corpus: the run's corpus has no words; use --words real")
        known = corpus if words == "corpus" else lexicon.dictionary_words() | corpus
        self._known[words] = known
        return known

    def _corpus_word_set(self) -> frozenset[str]:
        """The words of the run's training and validation text, read once."""
        from generator.splits import saved_split
        from generator.verse import lexicon

        if self._corpus_words is None:
            train, val = saved_split(self.ckpt, self.plugin)
            ids = np.concatenate([stream.array() for stream in (train, val)])
            text = lexicon.vocabulary_text(self.vocab.tokens, ids)
            self._corpus_words = frozenset(lexicon.text_words(text))
        return self._corpus_words

    def excluded(self, programs: tuple[int, ...] | None) -> np.ndarray:
        """(vocab,) -inf for the tokens that pick an instrument outside `programs`, else 0;
        (1,) zeros when every instrument may play."""
        if programs is None:
            return np.zeros(1, np.float32)
        picks = {i: self.plugin.token_program(t) for i, t in enumerate(self.vocab.tokens)}
        excluded = np.zeros(len(self.vocab), np.float32)
        for i, program in picks.items():
            if program is not None and program not in programs:
                excluded[i] = -np.inf
        return excluded

    def draw(self, primer, config: SampleConfig, states=None, want_logp=True, controls=None):
        """Draw from a batch of primers (batch, len); returns id lists, log-probabilities
        (zeros unless `want_logp`) and states (see `draw.Drawn`). `controls`: what
        `Sampler.controls` gives, for music with keys."""
        primer = np.atleast_2d(primer).astype(np.int32)
        if states is None:
            states = self.step_model.zero_states(primer.shape[0])
        knobs, controls = self.knobs(config), dict(controls or {})
        bias = knobs.bias + controls.pop("bias", np.zeros(1, np.float32))  # instruments and key
        knobs = knobs._replace(bias=bias, **controls)
        drawn = self.loop(primer, states, knobs, want_logp)
        ids, lengths = drawn.ids.numpy().T, drawn.lengths.numpy()  # (batch, time)
        rows = [row[:n].tolist() for row, n in zip(ids, lengths)]
        return rows, drawn.logp.numpy(), drawn.states

    def score(self, rows: list[list[int]], start: int, states=None):
        """Log-probability of each id row's tokens from position `start` on, fed from
        `states` (zero states if None), and the states after each row."""
        tf = self.tf
        if self._score is None:
            self._score = compile_scorer(self.step_model)
        lengths = np.array([len(r) for r in rows], np.int32)
        ids = np.zeros((len(rows), lengths.max()), np.int32)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = row
        if states is None:
            states = self.step_model.zero_states(len(rows))
        logp, states = self._score(
            tf.constant(ids), tf.constant(lengths), tf.constant(start), list(states)
        )
        return logp.numpy(), states
