"""How far back a model listens: held-out loss by how much history the model has.

Training shows a model windows of `seq_len` tokens from a zero state, while sampling runs
thousands of tokens from one carried state. `curve` scores every held-out piece from its start
with the state carried through (pieces longer than `LONGEST` on that many tokens),
and the same tokens in training's windows from a zero state, and gives the mean loss of each by
how many tokens come before a token in its piece (1-16, 17-64, 65-128, 129-512, 513+).

`scrambled` isolates long-range use. Each piece is cut into blocks of `near` tokens; the tokens
of a block are scored once with the real history and once with everything older than the block
before it shuffled (the same tokens in a random order), so each scored token keeps at least
`near` tokens of its real recent past. The loss gained by the shuffle is what the model took
from further back. It is also given for the tokens that could be recalled: those whose four
tokens ending at them (the token and its three predecessors) occur in that distant part. For
verse, `rhymes` scores the words that end a line and rhyme with a line two or more up, with
everything before the line above them shuffled: the partner taken away, the near past kept.
"""

from __future__ import annotations

import numpy as np

from generator import keys
from generator.vocab import SPECIALS

EDGES = (16, 64, 128, 512)  # bucket ends: 1-16, 17-64, 65-128, 129-512, 513+
LONGEST = 8192  # tokens of a piece scored: a longer one is scored on its first 8,192
BATCH = 64  # rows scored at once
BLOCKS = 4  # scrambled blocks per piece: scored blocks 2 to 5 (0-based) of `near` tokens
RECALL = 4  # tokens ending at a target that must occur in the distant part to recall it
RHYMES = 400  # distant rhymes scored at most (spread over the held-out pieces)
BEFORE = 512  # tokens kept before the line above a rhyme, the part that is shuffled


def compile_token_scorer(step_model):
    """A compiled function: rows `ids` (batch, len) fed from a zero state; returns the
    log-probability of each next id, (batch, len - 1)."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec((None, None), tf.int32)])
    def score(ids):
        advance = step_model.prepare()
        states = step_model.zero_states(tf.shape(ids)[0])
        steps = tf.shape(ids)[1] - 1
        out = tf.TensorArray(tf.float32, size=steps)
        for t in tf.range(steps):
            logits, states = advance(ids[:, t], states)
            out = out.write(t, tf.gather(tf.nn.log_softmax(logits), ids[:, t + 1], batch_dims=1))
        return tf.transpose(out.stack())

    return score


def log_probs(score, rows: list[np.ndarray]) -> list[np.ndarray]:
    """Each row's next-id log-probabilities, rows of like length batched together."""
    out: list[np.ndarray | None] = [None] * len(rows)
    order = sorted(range(len(rows)), key=lambda k: len(rows[k]))
    for first in range(0, len(order), BATCH):
        batch = order[first : first + BATCH]
        width = max(len(rows[k]) for k in batch)
        ids = np.zeros((len(batch), width), np.int32)
        for j, k in enumerate(batch):
            ids[j, : len(rows[k])] = rows[k]
        found = score(ids).numpy() if width > 1 else np.zeros((len(batch), 0), np.float32)
        for j, k in enumerate(batch):
            out[k] = found[j, : len(rows[k]) - 1]
    return out


def pieces(ids: np.ndarray, start_id: int) -> list[np.ndarray]:
    """The pieces of an id stream, each with its `<start>`, cut after `LONGEST` tokens (the
    rest of a piece would start again from a zero state, which is not the history it has)."""
    starts = [*np.flatnonzero(ids == start_id), len(ids)]
    return [ids[a:b][:LONGEST] for a, b in zip([0, *starts[:-1]], starts) if b - a > 1]


def _scored(piece: np.ndarray, head: int, controls: set[int]) -> np.ndarray:
    """Whether each next token of `piece` is scored: not the lead-in, not a control token."""
    targets = piece[1:]
    keep = np.arange(1, len(piece)) >= head
    return keep & ~np.isin(targets, list(controls))


def curve(score, rows: list[np.ndarray], seq_len: int, head: int, controls, edges=EDGES):
    """Mean nats per token by history, carried through each row and in windows of `seq_len`
    from a zero state: a list of {"from", "to", "tokens", "carried", "windowed"}."""
    carried = log_probs(score, rows)
    windows, where = [], []
    for k, row in enumerate(rows):
        for start in range(0, len(row) - 1, seq_len):
            windows.append(row[start : start + seq_len + 1])
            where.append((k, start))
    windowed = [np.zeros(len(row) - 1, np.float32) for row in rows]
    for (k, start), logp in zip(where, log_probs(score, windows)):
        windowed[k][start : start + len(logp)] = logp
    history = np.concatenate([np.arange(1, len(row)) for row in rows])
    keep = np.concatenate([_scored(row, head, set(controls)) for row in rows])
    nats = -np.concatenate(carried), -np.concatenate(windowed)
    bounds = [0, *edges, np.inf]
    found = []
    for low, high in zip(bounds[:-1], bounds[1:]):
        mask = keep & (history > low) & (history <= high)
        if mask.any():
            found.append({"from": int(low) + 1, "to": None if high == np.inf else int(high),
                          "tokens": int(mask.sum()), "carried": float(nats[0][mask].mean()),
                          "windowed": float(nats[1][mask].mean())})  # fmt: skip
    return found


def scrambled(score, rows: list[np.ndarray], near: int, head: int, controls, seed: int = 0):
    """The loss of blocks of `near` tokens with their real history and with the part older
    than `near` before the block shuffled; for all of them and those that could be recalled.
    None where no piece is long enough (three blocks)."""
    rng = np.random.default_rng(seed)
    real, mixed, targets = [], [], []
    for row in rows:
        for b in range(2, 2 + BLOCKS):
            end = min(len(row), (b + 1) * near)
            if end <= b * near:
                break
            cut = (b - 1) * near
            shuffled = row[:end].copy()
            shuffled[head:cut] = rng.permutation(row[head:cut])
            real.append(row[:end])
            mixed.append(shuffled)
            targets.append((b * near, _recallable(row, head, cut, b * near, end)))
    if not real:
        return None
    figures = {"blocks": len(real), "near": near}
    for name, rows_ in (("real", real), ("scrambled", mixed)):
        logps = log_probs(score, rows_)
        every, recall = [], []
        for row, logp, (first, recallable) in zip(rows_, logps, targets):
            keep = _scored(row, head, set(controls))[first - 1 :]
            every.append(-logp[first - 1 :][keep])
            recall.append(-logp[first - 1 :][keep & recallable])
        figures[name] = float(np.concatenate(every).mean())
        pooled = np.concatenate(recall)
        figures[f"{name}_recall"] = float(pooled.mean()) if len(pooled) else None
        figures["recall_tokens"] = int(len(pooled))
    figures["tokens"] = int(sum(len(e) for e in every))
    return figures


def rhymes(score, rows: list[np.ndarray], text_of, head: int, most: int = RHYMES):
    """The loss of the characters of line-end words whose rhyme partner is two or more lines
    up (`verse.partners`), with their real history and with all before the line above shuffled.
    `text_of(row)` is a row's text, one character per id (None where it is not). None where
    no such rhyme is found."""
    from generator.verse.partners import distant_rhymes

    rng = np.random.default_rng(0)
    real, mixed, spans = [], [], []
    for row in rows:
        text = text_of(row)
        for above, first, end in distant_rhymes(text) if text else []:
            if above - head < RECALL:  # nothing before the line above to take away
                continue
            cut = max(head, above - BEFORE)  # what lies further back is forgotten anyway
            kept = np.concatenate([row[:head], row[cut:end]])
            shuffled, above = kept.copy(), above - cut + head
            shuffled[head:above] = rng.permutation(kept[head:above])
            real.append(kept)
            mixed.append(shuffled)
            spans.append((first - cut + head, end - cut + head))
    if not real:
        return None
    keep = np.linspace(0, len(real) - 1, min(most, len(real))).astype(int)  # spread evenly
    figures = {"words": len(keep)}
    for name, batch in (("real", real), ("scrambled", mixed)):
        logps = log_probs(score, [batch[k] for k in keep])
        nats = [-logp[spans[k][0] - 1 : spans[k][1] - 1] for k, logp in zip(keep, logps)]
        figures[name] = float(np.concatenate(nats).mean())
    figures["characters"] = int(sum(spans[k][1] - spans[k][0] for k in keep))
    return figures


def _recallable(row: np.ndarray, head: int, cut: int, first: int, end: int) -> np.ndarray:
    """For targets `first` to `end`: whether the `RECALL` tokens ending at each occur in the
    distant part `row[head:cut]`."""
    distant = {tuple(row[i : i + RECALL]) for i in range(head, cut - RECALL + 1)}
    return np.array([tuple(row[t - RECALL + 1 : t + 1]) in distant for t in range(first, end)])


def measure(ckpt, stream, which: str = "best", near: int | None = None, edges=EDGES) -> dict:
    """`curve` (by `edges`) and `scrambled` (with `near`, default training's window) of a
    checkpoint on an id stream (its validation split, say)."""
    from generator import checkpoint as ckpt_io
    from generator.model import StepModel
    from generator.tf_setup import import_tensorflow

    rows = pieces(stream.array() if hasattr(stream, "array") else np.asarray(stream),
                  ckpt.vocab.start_id)  # fmt: skip
    if not rows:  # refused before the model loads
        from generator.errors import GenError

        raise GenError("no held-out piece has two tokens to score")
    import_tensorflow()
    plugin = ckpt_io.plugin_of(ckpt)
    score = compile_token_scorer(StepModel(ckpt.load_model(which), ckpt.model_config))
    head = 1 + len([t for t in plugin.lead_in if t in ckpt.vocab.index])
    controls = keys.control_ids(ckpt.vocab)
    near = near or ckpt.train.seq_len
    return {
        "pieces": len(rows),
        "seq_len": ckpt.train.seq_len,
        "curve": curve(score, rows, ckpt.train.seq_len, head, controls, edges),
        "scrambled": scrambled(score, rows, near, head, controls),
        "rhymes": rhymes(score, rows, _text_of(plugin, ckpt.vocab), head)
        if plugin.kind == "verse"
        else None,
    }


def _text_of(plugin, vocab):
    """A row's text, where every id is one character of it (else None): offsets in the text
    are then offsets in the row."""
    chars = [plugin.text([t]) if t not in SPECIALS else "\0" for t in vocab.tokens]
    single = np.array([len(c) == 1 for c in chars])

    def text(row: np.ndarray) -> str | None:
        return "".join(chars[i] for i in row) if single[row].all() else None

    return text


def _span(bucket: dict) -> str:
    return f"{bucket['from']}-{bucket['to']}" if bucket["to"] else f"{bucket['from']}+"


def report(result: dict, unit: str) -> list[str]:
    """The lines `gen evaluate --context` prints."""
    lines = [
        f"context: {result['pieces']} pieces, state carried through each against windows of "
        f"{result['seq_len']} from a zero state (training's); {unit} by tokens before",
        f"{'history':>10}  {'tokens':>8}  {'carried':>8}  {'windowed':>8}",
    ]
    for b in result["curve"]:
        lines.append(f"{_span(b):>10}  {b['tokens']:>8,}  {b['carried']:>8.4f}  "
                     f"{b['windowed']:>8.4f}")  # fmt: skip
    lines += _rhyme_lines(result.get("rhymes"))
    mixed = result["scrambled"]
    if mixed is None:
        return lines + ["scrambled history: no piece is long enough (three blocks)"]
    near = mixed["near"]
    lines.append(
        f"scrambled history (all but the last {near}-{2 * near} tokens before each block "
        f"shuffled), {mixed['tokens']:,} tokens: {mixed['real']:.4f} real, "
        f"{mixed['scrambled']:.4f} scrambled, gap {mixed['scrambled'] - mixed['real']:+.4f}"
    )
    if mixed["real_recall"] is not None:
        gap = mixed["scrambled_recall"] - mixed["real_recall"]
        lines.append(
            f"  of them {mixed['recall_tokens']:,} that end a {RECALL}-token run of the distant "
            f"part: {mixed['real_recall']:.4f} real, {mixed['scrambled_recall']:.4f} "
            f"scrambled, gap {gap:+.4f}"
        )
    return lines


def _rhyme_lines(found: dict | None) -> list[str]:
    if not found:
        return []
    gap = found["scrambled"] - found["real"]
    return [
        f"rhymes with their partner two or more lines up: {found['words']:,} words "
        f"({found['characters']:,} characters), {found['real']:.4f} with their history, "
        f"{found['scrambled']:.4f} with the {BEFORE} tokens before the line above shuffled, "
        f"gap {gap:+.4f}"
    ]


def plot(result: dict, path, unit: str) -> None:
    """The context curve as a PNG: loss by history, carried and windowed."""
    from matplotlib.figure import Figure

    from generator.atomic import write_figure

    figure = Figure(figsize=(6, 3.5), dpi=100)
    axes = figure.add_subplot()
    spans = [_span(b) for b in result["curve"]]
    for name in ("carried", "windowed"):
        axes.plot(spans, [b[name] for b in result["curve"]], marker="o", label=name)
    axes.axvline(sum(b["to"] is not None and b["to"] <= result["seq_len"]
                     for b in result["curve"]) - 0.5, color="grey", linestyle=":")  # fmt: skip
    axes.set_xlabel("tokens of history (the dotted line: training's window)")
    axes.set_ylabel(f"held-out loss ({unit})")
    axes.legend()
    axes.grid(alpha=0.3)
    write_figure(figure, path)
