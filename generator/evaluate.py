"""Held-out loss of a checkpoint on files: nats and bits per token, and perplexity."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from generator import data
from generator.checkpoint import Checkpoint, check_corpus
from generator.corpora import get_corpus
from generator.errors import GenError


def held_out_loss(ckpt: Checkpoint, path: Path, which: str = "best", log=print) -> dict:
    """Mean cross-entropy of the model on the files under `path`, cut into non-overlapping
    windows of the training sequence length (each window starts from a zero state)."""
    from generator.tf_setup import import_tensorflow
    from generator.train import load_corpus

    tf = import_tensorflow()
    plugin = get_corpus(ckpt.corpus_name)
    check_corpus(ckpt, plugin)
    _, _, encoded = load_corpus(plugin.name, path, log)
    stream = data.join_streams(ckpt.vocab, encoded.streams, plugin.lead_in)
    windows = data.validation_windows(stream, ckpt.config["train"]["seq_len"])
    if windows is None:
        raise GenError(f"'{path}' holds too few tokens to evaluate")
    model = ckpt.load_model(which)
    total, count = 0.0, 0
    for start in range(0, len(windows[0]), 64):
        x, y = windows[0][start : start + 64], windows[1][start : start + 64]
        logits = model(x, training=False)  # (batch, time, vocab)
        losses = tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits)
        total += float(tf.reduce_sum(losses))
        count += int(np.prod(y.shape))
    nats = total / count
    return {
        "tokens": count,
        f"nats_per_{plugin.token_name}": nats,
        f"bits_per_{plugin.token_name}": nats / math.log(2),
        "perplexity": math.exp(nats),
    }
