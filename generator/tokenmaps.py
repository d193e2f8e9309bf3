"""The plugin's per-token answers as id-indexed tables, built here and nowhere else.

A plugin answers for one token at a time (`Corpus.augment`, `token_length`, `grammar`); the
model and the sampler need arrays indexed by id. The special tokens (`<unk>`, `<start>`) are
never asked about: they stay themselves under augmentation, add no length and have no rule.
"""

from __future__ import annotations

import numpy as np

from generator import keys
from generator.corpora.base import TokenGrammar
from generator.errors import GenError
from generator.vocab import SPECIALS, Vocab

SPECIAL_GROUP = "<special>"  # the grammar group of the special tokens


def _plain(vocab: Vocab) -> list[tuple[int, str]]:
    """(id, token) of every token the plugin made: not the specials, not the key tokens."""
    return [
        (i, t) for i, t in enumerate(vocab.tokens) if t not in SPECIALS and not keys.key_of_token(t)
    ]


def augmentation_maps(plugin, vocab: Vocab) -> np.ndarray:
    """(1 + augmentations, vocab) int32: row 0 the identity, then for each of the plugin's
    augmentations the id every token becomes (itself where the result is not in `vocab`)."""
    identity = np.arange(len(vocab), dtype=np.int32)
    maps = [identity]
    for how in plugin.augmentations():
        row = identity.copy()
        for i, token in _plain(vocab):
            row[i] = vocab.index.get(plugin.augment(token, how), i)
        semitones = plugin.transposition(how) if plugin.kind == "music" else 0
        for i, token in enumerate(vocab.tokens):  # a key moves with its notes
            key = keys.key_of_token(token)
            if key and semitones:
                row[i] = vocab.index.get(keys.token(keys.transposed(key, semitones)), i)
        maps.append(row)
    return np.stack(maps)


def key_bias(plugin, vocab: Vocab, key: str, nats: float) -> np.ndarray:
    """(vocab,) float32: -`nats` for the tokens that start a note outside `key`'s scale
    (`Corpus.token_pitch`), 0 for the rest."""
    scale = keys.scale_classes(key)
    bias = np.zeros(len(vocab), np.float32)
    for i, token in _plain(vocab):
        pitch = plugin.token_pitch(token)
        if pitch is not None and pitch % 12 not in scale:
            bias[i] = -nats
    return bias


def measurable_units(plugin) -> tuple[str, ...]:
    """The units a sample's length can be given in: the plugin's, and for verse, stanzas."""
    return plugin.length_units + (("stanzas",) if plugin.kind == "verse" else ())


def length_table(plugin, vocab: Vocab, unit: str) -> np.ndarray:
    """(3, vocab) float32: how much of `unit` each id adds to a stream. Row 0 is what an id
    adds by itself; an id also adds row 1 [the previous id] x row 2 [the id], for units
    counted on pairs: a stanza of verse ends at a blank line, a line break right after a line
    break. (A (vocab, vocab) table of pairs would not fit in memory for a large vocabulary.)"""
    if unit not in measurable_units(plugin):
        units = ", ".join(measurable_units(plugin)) or "nothing"
        raise GenError(f"corpus '{plugin.name}' cannot measure length in {unit} (only {units})")
    table = np.zeros((3, len(vocab)), np.float32)
    if unit == "stanzas":
        if plugin.line_break in vocab.index:
            table[1:, vocab.index[plugin.line_break]] = 1.0
        return table
    for i, token in _plain(vocab):
        table[0, i] = plugin.token_length(token, unit)
    return table


def stream_length(plugin, tokens: list[str], unit: str) -> float:
    """How much of one of the plugin's `length_units` a token stream holds (seconds of music,
    lines of verse)."""
    return float(sum(plugin.token_length(t, unit) for t in tokens if t not in SPECIALS))


START_KIND = "<start>"  # what a stream's first token follows, in a learned grammar
CHUNK = 1 << 20  # ids read at a time when learning which kind follows which


def kind_transitions(plugin, vocab: Vocab, stream) -> dict[str, list[str]] | None:
    """Which kind of token followed which in `stream` (a `data.SegmentedStream` of training
    ids), as {kind: [kinds that followed it]}, with `START_KIND` for a piece's first token;
    None for a plugin that names no kinds. Tokens without a kind (`<unk>`, a lead-in) are
    passed over, as if they were not there."""
    plain = dict(_plain(vocab))
    kinds = [plugin.token_kind(t) if i in plain else None for i, t in enumerate(vocab.tokens)]
    names = sorted(set(filter(None, kinds)))
    if not names:
        return None
    every = [START_KIND, *names]
    codes = np.array([every.index(k) if k else -1 for k in kinds], np.int64)
    codes[vocab.start_id] = 0
    seen, last = set(), -1
    for first in range(0, len(stream), CHUNK):
        chunk = codes[stream.slice(first, min(len(stream), first + CHUNK))]
        chunk = chunk[chunk >= 0] if last < 0 else np.concatenate([[last], chunk[chunk >= 0]])
        if len(chunk) >= 2:
            real = chunk[1:] > 0  # nothing is sampled as <start>
            seen.update(np.unique(chunk[:-1][real] * len(every) + chunk[1:][real]).tolist())
            last = int(chunk[-1])
    follows: dict[str, list[str]] = {}
    for pair in sorted(seen):
        follows.setdefault(every[pair // len(every)], []).append(every[pair % len(every)])
    return without_dead_ends(follows)


def without_dead_ends(follows: dict[str, list[str]]) -> dict[str, list[str]]:
    """`follows` without the kinds after which nothing followed in training (a piece's last
    token, say): a sampled stream would have nowhere to go from them."""
    follows = {k: list(v) for k, v in follows.items()}
    while dead := {k for ks in follows.values() for k in ks if not follows.get(k)}:
        follows = {k: [x for x in v if x not in dead] for k, v in follows.items() if k not in dead}
    return follows


def _after(kind: str) -> str:
    return f"after {kind}"


def _succession(kind: str | None, follows: dict[str, list[str]]) -> TokenGrammar | None:
    """The learned rule of a token of `kind`: it may follow only the kinds it followed in
    training, and it becomes the kind the next token follows."""
    if kind is None:
        return None
    kinds = [START_KIND, *sorted({k for ks in follows.values() for k in ks} | set(follows))]
    return TokenGrammar(
        needs_off=tuple(_after(p) for p in kinds if kind not in follows.get(p, ())),
        turns_on=(_after(kind),),
        turns_off=tuple(_after(p) for p in kinds if p != kind),
        group=kind,
    )


def _merged(a: TokenGrammar | None, b: TokenGrammar | None) -> TokenGrammar | None:
    """Both rules at once (the plugin's own, and the learned one)."""
    if a is None or b is None:
        return a or b
    return TokenGrammar(
        a.needs_on + b.needs_on,
        a.needs_off + b.needs_off,
        a.turns_on + b.turns_on,
        a.turns_off + b.turns_off,
        a.group or b.group,
    )


def token_rules(plugin, vocab: Vocab, follows=None) -> dict[int, TokenGrammar | None]:
    """Each id's rule: the plugin's grammar, with the learned successions of kinds where
    `follows` (from `kind_transitions`) is given. `<start>` then starts a stream's count."""
    rules = {i: plugin.grammar(token) for i, token in _plain(vocab)}
    if follows:
        for i, token in _plain(vocab):
            rules[i] = _merged(rules[i], _succession(plugin.token_kind(token), follows))
        start = _succession(START_KIND, {START_KIND: []} | follows)
        rules[vocab.start_id] = TokenGrammar(
            turns_on=start.turns_on, turns_off=start.turns_off, group=SPECIAL_GROUP
        )
    return rules


def grammar_tables(plugin, vocab: Vocab, follows=None) -> dict[str, np.ndarray] | None:
    """The plugin's grammar (and the learned successions of kinds, `follows`) as flag tables,
    or None when no token has a rule.

    `needs_set`, `needs_clear`, `sets`, `clears`: (vocab, flags) 0/1, which flags a token
    needs on or off and turns on or off; `groups`: (vocab, groups) one-hot, which group each
    token's probability stays in when tokens are forbidden.
    """
    rules = token_rules(plugin, vocab, follows)
    if all(rule is None for rule in rules.values()):
        return None
    flags: dict = {}  # flag name -> column, in order of first use
    groups: dict = {SPECIAL_GROUP: 0}
    for rule in filter(None, rules.values()):
        for name in (*rule.needs_on, *rule.needs_off, *rule.turns_on, *rule.turns_off):
            flags.setdefault(name, len(flags))
        groups.setdefault(rule.group, len(groups))
    shape = (len(vocab), max(1, len(flags)))
    tables = {
        k: np.zeros(shape, np.float32) for k in ("needs_set", "needs_clear", "sets", "clears")
    }
    tables["groups"] = np.zeros((len(vocab), len(groups)), np.float32)
    tables["groups"][:, 0] = 1.0  # specials, and tokens without a rule
    for i, rule in rules.items():
        if rule is None:
            continue
        tables["groups"][i] = 0.0
        tables["groups"][i, groups[rule.group]] = 1.0
        for key, names in (
            ("needs_set", rule.needs_on),
            ("needs_clear", rule.needs_off),
            ("sets", rule.turns_on),
            ("clears", rule.turns_off),
        ):
            tables[key][i, [flags[n] for n in names]] = 1.0
    return tables


def releases(plugin, vocab: Vocab, tables: dict[str, np.ndarray] | None) -> np.ndarray | None:
    """(flags,) int32: for each flag of `grammar_tables` that is one pitch sounding (only
    note-ons of that pitch turn it on, and each needs it off), the id that ends the note (it
    needs the flag on, turns it off and starts none); -1 for other flags. None when no flag
    is a pitch sounding."""
    if tables is None:
        return None
    pitch = np.array([plugin.token_pitch(t) if t not in SPECIALS else None for t in vocab.tokens])
    starts = pitch != None  # noqa: E711 (an array of pitches and Nones)
    turned_on = tables["sets"] * tables["needs_clear"] > 0  # (vocab, flags)
    found = np.full(turned_on.shape[1], -1, np.int32)
    for flag in range(turned_on.shape[1]):
        setters = turned_on[:, flag]
        if not setters.any() or not starts[setters].all() or len(set(pitch[setters])) > 1:
            continue
        ends = (tables["needs_set"][:, flag] * tables["clears"][:, flag] > 0) & ~starts
        found[flag] = ends.argmax() if ends.any() else -1
    return found if (found >= 0).any() else None
