"""The training loss and the validation scorer: mean cross-entropy of the next token, in nats.

On a CPU the per-token cross-entropy runs as two XLA kernels (forward, and its derivative
written out), over two halves of the batch side by side; on a GPU it is TensorFlow's op.
"""

from __future__ import annotations

import functools

from generator import data


def scored_loss(ignored: list[int]):
    """`token_cross_entropy` with the targets in `ignored` (control tokens, which the sampler
    gives and never draws) counting for nothing. Keras averages over every target; the rest
    are weighed by the share of targets a key takes by design (one in `keys.EVERY` + 1), not
    by each batch's own count, so that replicas of a batch add up to the whole batch."""
    if not ignored:
        return token_cross_entropy
    from generator.keys import EVERY

    def loss(targets, logits):
        import tensorflow as tf

        values = token_cross_entropy(targets, logits)  # (batch, time)
        return values * _kept(tf.cast(targets, tf.int32), ignored) * (1 + 1 / EVERY)

    return loss


def _kept(targets, ignored: list[int]):
    """1.0 where a target counts, 0.0 where it is one of the `ignored` ids."""
    import tensorflow as tf

    other = tf.reduce_all(targets[..., None] != tf.constant(ignored, tf.int32), axis=-1)
    return tf.cast(other, tf.float32)


def token_cross_entropy(targets, logits):
    """Each token's cross-entropy (batch, time) from integer targets and float32 logits, as
    Keras' `SparseCategoricalCrossentropy(from_logits=True)` gives before averaging. The batch
    is taken in two halves, two ops that run side by side when each op has one core
    (`tf_setup.op_threads`); over a vocabulary of 400 it is the largest op of a step. On a CPU
    each half is an XLA kernel with its derivative written out (`_cross_entropy_kernels`)."""
    import tensorflow as tf

    from generator.tf_setup import batch_halves, gpu_visible

    per_token = tf.nn.sparse_softmax_cross_entropy_with_logits
    if not gpu_visible():
        per_token = _compiled_cross_entropy
    halves = batch_halves(tf.cast(targets, tf.int32), logits)
    return tf.concat([per_token(t, x) for t, x in halves], axis=0)


@functools.cache
def _cross_entropy_kernels():
    """The cross-entropy and its derivative as two XLA kernels, each one pass over the logits
    (on a CPU several times faster than TensorFlow's op and its derivative: BENCHMARKS.md)."""
    import tensorflow as tf

    @tf.function(jit_compile=True)
    def forward(targets, logits):  # (rows,), (rows, vocab) -> losses, softmax
        top = tf.reduce_max(logits, axis=1, keepdims=True)
        exp = tf.exp(logits - top)
        total = tf.reduce_sum(exp, axis=1, keepdims=True)
        picked = tf.gather(logits, targets, batch_dims=1)
        return tf.math.log(total[:, 0]) + top[:, 0] - picked, exp / total

    @tf.function(jit_compile=True)
    def backward(d_loss, targets, softmax):
        return d_loss[:, None] * (softmax - tf.one_hot(targets, tf.shape(softmax)[1]))

    return forward, backward


def _compiled_cross_entropy(targets, logits):
    """`tf.nn.sparse_softmax_cross_entropy_with_logits` for logits (..., vocab), by
    `_cross_entropy_kernels`. Unlike TensorFlow's op it does not check the targets: one outside
    the vocabulary gives a wrong loss instead of an error. Training targets are token ids of
    the model's own vocabulary, so they are always inside it."""
    import tensorflow as tf

    forward, backward = _cross_entropy_kernels()
    shape = tf.shape(targets)
    targets = tf.reshape(targets, [-1])

    @tf.custom_gradient
    def loss(logits):
        rows, softmax = forward(targets, tf.reshape(logits, [-1, logits.shape[-1]]))

        def grad(d_rows):
            return tf.reshape(
                backward(tf.reshape(d_rows, [-1]), targets, softmax), tf.shape(logits)
            )

        return tf.reshape(rows, shape), grad

    return loss(logits)


SCORE_TOKENS = 8192  # scored at once, at least: on a CPU a third faster than 2048


def score_batch(seq_len: int, batch_size: int = 1) -> int:
    """Windows a scorer takes at once: the training batch, or more where it is small."""
    return max(batch_size, SCORE_TOKENS // seq_len, 1)


def loss_scorer(model, seq_len: int, batch_size: int, ignored=()):
    """A function: id stream -> (mean nats per token of `model` over the stream's
    non-overlapping windows, tokens scored; targets in `ignored` are not scored). Training
    scores its validation split with it after every epoch; it runs on this process alone and
    drops no partial batch."""
    import numpy as np
    import tensorflow as tf

    ignored = list(ignored) or [-1]  # -1 is no id

    @tf.function(reduce_retracing=True)
    def batch_sum(x, y):
        logits = tf.cast(model(x, training=False), tf.float32)  # (batch, time, vocab)
        values = tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits)
        return tf.reduce_sum(values * _kept(y, ignored))

    def score(stream) -> tuple[float, int]:
        total, count = 0.0, 0
        for x, y in data.validation_batches(stream, seq_len, batch_size):
            total += float(batch_sum(x, y))
            count += int((~np.isin(y, ignored)).sum())
        return total / max(1, count), count

    return score
