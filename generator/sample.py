"""Sampling: a checkpoint -> ids drawn one at a time with carried LSTM state -> output files.

The whole loop (primer, then generation with temperature, top-k and top-p) runs inside one
compiled `tf.function` with `tf.while_loop`; many outputs are drawn at once as a batch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from generator import checkpoint
from generator.corpora import get_corpus
from generator.errors import GenError
from generator.vocab import SPECIALS


@dataclass(frozen=True)
class SampleConfig:
    """How to draw tokens; validated here so the library refuses what the CLI refuses."""

    temperature: float = 1.0  # < 1 is more conservative, > 1 more adventurous
    top_k: int = 0  # keep only the k likeliest tokens (0: all)
    top_p: float = 1.0  # keep the smallest set of tokens with this much probability
    max_tokens: int = 2000  # hard cap on generated tokens per output
    unit: str | None = None  # stop by a plugin unit ("seconds") instead of by token count
    unit_limit: float = 0.0  # how many units each output should reach
    seed: int = 0

    def __post_init__(self):
        if not self.temperature > 0:
            raise GenError(f"temperature must be > 0, got {self.temperature}")
        if self.top_k < 0:
            raise GenError(f"top-k must be >= 0, got {self.top_k}")
        if not 0 < self.top_p <= 1:
            raise GenError(f"top-p must be in (0, 1], got {self.top_p}")
        if self.max_tokens < 1:
            raise GenError(f"length must be at least 1, got {self.max_tokens}")


def make_sampler(step_model, vocab_size: int, banned: list[int]):
    """A compiled function drawing a batch of samples; see `draw` for its arguments."""
    import tensorflow as tf

    ban = np.zeros(vocab_size, np.float32)
    ban[banned] = -np.inf
    ban = tf.constant(ban)

    def filter_logits(logits, temperature, top_k, top_p):
        logits = logits / temperature + ban  # (batch, vocab)
        k = tf.where(top_k > 0, tf.minimum(top_k, vocab_size), vocab_size)
        kth = tf.math.top_k(logits, k).values[:, -1:]
        logits = tf.where(logits < kth, -np.inf, logits)
        sorted_logits = tf.sort(logits, direction="DESCENDING")
        probs = tf.nn.softmax(sorted_logits)
        before = tf.cumsum(probs, axis=-1, exclusive=True)  # probability above each token
        cutoff = tf.reduce_min(tf.where(before < top_p, sorted_logits, np.inf), -1, True)
        return tf.where(logits < cutoff, -np.inf, logits)

    scalar = tf.TensorSpec((), tf.int32), tf.TensorSpec((), tf.float32)
    signature = [
        tf.TensorSpec((None, None), tf.int32),  # primer (batch, primer_len), <start> first
        scalar[0],  # max_tokens
        tf.TensorSpec((vocab_size,), tf.float32),  # units each token adds
        scalar[1],  # unit_limit
        scalar[1],  # temperature
        scalar[0],  # top_k
        scalar[1],  # top_p
        scalar[0],  # seed
    ]

    @tf.function(input_signature=signature)
    def draw(primer, max_tokens, units, unit_limit, temperature, top_k, top_p, seed):
        batch = tf.shape(primer)[0]
        states = step_model.zero_states(batch)
        # Feed the primer (batch, primer_len) through the model, keeping only the state.
        logits = tf.zeros((batch, vocab_size))
        for_t = tf.shape(primer)[1]
        i = tf.constant(0)
        while i < for_t:
            logits, states = step_model(primer[:, i], states)
            i += 1
        out = tf.TensorArray(tf.int32, size=max_tokens)
        done = tf.zeros((batch,), tf.bool)
        lengths = tf.fill((batch,), max_tokens)
        total = tf.zeros((batch,))
        t = tf.constant(0)
        while t < max_tokens and not tf.reduce_all(done):
            filtered = filter_logits(logits, temperature, top_k, top_p)
            ids = tf.random.stateless_categorical(filtered, 1, seed=tf.stack([seed, t]))[:, 0]
            ids = tf.cast(ids, tf.int32)
            out = out.write(t, ids)
            total += tf.gather(units, ids)
            finished = tf.logical_and(tf.logical_not(done), total >= unit_limit)
            lengths = tf.where(finished, t + 1, lengths)
            done = tf.logical_or(done, finished)
            logits, states = step_model(ids, states)
            t += 1
        return out.stack()[:t], lengths  # (t, batch), (batch,)

    return draw


def generate(ckpt, primer_tokens: list[str], num: int, config: SampleConfig, which="best"):
    """`num` token lists drawn from checkpoint `ckpt`, each continuing `primer_tokens`."""
    from generator.model import StepModel
    from generator.tf_setup import import_tensorflow

    tf = import_tensorflow()
    plugin = get_corpus(ckpt.corpus_name)
    checkpoint.check_corpus(ckpt, plugin)
    vocab = ckpt.vocab
    model = ckpt.load_model(which)
    step_model = StepModel(model, ckpt.model_config)
    draw = make_sampler(step_model, len(vocab), [vocab.index[s] for s in SPECIALS])
    if config.unit:
        units, limit = plugin.token_units(vocab.tokens, config.unit), config.unit_limit
    else:
        units, limit = np.zeros(len(vocab), np.float32), np.inf
    primer = np.concatenate([[vocab.start_id], vocab.encode(primer_tokens)]).astype(np.int32)
    ids, lengths = draw(
        tf.constant(np.repeat(primer[None, :], num, axis=0)),
        tf.constant(config.max_tokens),
        tf.constant(units, tf.float32),
        tf.constant(limit, tf.float32),
        tf.constant(config.temperature, tf.float32),
        tf.constant(config.top_k),
        tf.constant(config.top_p, tf.float32),
        tf.constant(config.seed),
    )
    ids, lengths = ids.numpy().T, lengths.numpy()  # (batch, t)
    return [vocab.decode(row[:n]) for row, n in zip(ids, lengths)]


def output_paths(out: Path, num: int, suffix: str) -> list[Path]:
    """`song.mid` for one output, `song-1.mid` ... `song-N.mid` for several."""
    out = Path(out)
    if not out.suffix:
        out = out.with_suffix(suffix)
    if num == 1:
        return [out]
    return [out.with_name(f"{out.stem}-{i}{out.suffix}") for i in range(1, num + 1)]


def write_output(plugin, tokens: list[str], path: Path) -> None:
    """Write through a temporary file beside `path`, so a crash leaves no half-written file."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    try:
        plugin.write(tokens, tmp)
        os.replace(tmp, path)
    except OSError as exc:
        raise GenError(f"cannot write '{path}': {exc.strerror or exc}") from None
    finally:
        if tmp.exists():
            tmp.unlink()
