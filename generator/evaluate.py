"""Evaluation: a checkpoint's held-out loss beside n-gram baselines, and statistics of
generated samples beside the training corpus's.

Loss is the mean cross-entropy in nats per token over non-overlapping windows of the training
sequence length, each started from a zero state (as in training's validation). It is also
given in bits per token, as perplexity and, for music, in nats per second of music.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from generator import checkpoint as ckpt_io
from generator import data
from generator.checkpoint import Checkpoint, check_corpus
from generator.errors import GenError


def loss_scorer(model, seq_len: int, batch_size: int):
    """A function: id stream -> (mean nats per token of `model` over the stream's
    non-overlapping windows, tokens scored). Training scores its validation split with it
    after every epoch; it runs on this process alone and drops no partial batch."""
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def batch_sum(x, y):
        logits = tf.cast(model(x, training=False), tf.float32)  # (batch, time, vocab)
        return tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))

    def score(stream) -> tuple[float, int]:
        total, count = 0.0, 0
        for x, y in data.validation_batches(stream, seq_len, batch_size):
            total += float(batch_sum(x, y))
            count += y.size
        return total / count, count

    return score


def model_nats(ckpt: Checkpoint, stream: np.ndarray, which: str = "best") -> tuple[float, int]:
    """Mean nats per token of the checkpoint's model on an id stream, and the tokens scored."""
    from generator.tf_setup import import_tensorflow

    import_tensorflow()
    if len(stream) < 2:
        raise GenError("too few tokens to evaluate")
    scorer = loss_scorer(ckpt.load_model(which), ckpt.config["train"]["seq_len"], 64)
    return scorer(data.SegmentedStream.of(stream))


def split_ids(ckpt: Checkpoint, plugin, path: Path | None, log=print):
    """Training and held-out id streams: the checkpoint's own split, or its training files
    and the files under `path`."""
    from generator.splits import load_corpus, saved_split

    if path is not None:
        train = data.join_streams(ckpt.vocab, ckpt_io.corpus_streams(ckpt, plugin), plugin.lead_in)
        _, _, encoded = load_corpus(plugin.name, path, log, user_folder=False)
        return train, data.join_streams(ckpt.vocab, encoded.streams, plugin.lead_in), str(path)
    train, val = (stream.array() for stream in saved_split(ckpt, plugin, log))
    if not len(val):
        raise GenError("this run has no validation split; give --path FILES to evaluate on")
    held = ckpt_io.load_corpus_files(ckpt)["validation_files"]
    where = f"{len(held)} files" if held else "the end of its one file"
    return train, val, f"the checkpoint's validation split ({where})"


def held_out(
    ckpt: Checkpoint, path: Path | None = None, which: str = "best", max_order: int = 6, log=print
) -> dict:
    """The model's held-out loss in every unit, and n-gram baselines on the same tokens."""
    from generator import ngram

    plugin = ckpt_io.plugin_of(ckpt)
    check_corpus(ckpt, plugin)
    train, val, source = split_ids(ckpt, plugin, path, log)
    nats, count = model_nats(ckpt, val, which)
    name = plugin.token_name
    result = {
        "held_out": source,
        "tokens": count,
        f"nats_per_{name}": nats,
        f"bits_per_{name}": nats / math.log(2),
        "perplexity": math.exp(nats),
    }
    try:
        seconds = plugin.token_units(ckpt.vocab.tokens, "seconds")
        music_seconds = float(np.asarray(seconds)[val[1:]].sum())
        if music_seconds > 0:
            result["nats_per_second"] = nats * (len(val) - 1) / music_seconds  # x tokens/second
    except GenError:
        pass  # not music
    result["ngram"] = {
        str(k): v
        for k, v in ngram.baselines(train, val, len(ckpt.vocab), range(1, max_order + 1)).items()
    }
    best_order = min(result["ngram"], key=result["ngram"].get)
    result["best_ngram_order"] = int(best_order)
    result["below_best_ngram"] = 1 - nats / result["ngram"][best_order]
    return result


def sample_stats(ckpt: Checkpoint, samples: list[Path], log=print) -> dict:
    """Statistics of generated files next to the checkpoint's training corpus, and how much
    of them copies it."""
    from generator import stats
    from generator.cache import encode_corpus
    from generator.metrics import copy_rate

    plugin = ckpt_io.plugin_of(ckpt)
    encoded = encode_corpus(plugin, samples)
    for file, reason in encoded.skipped:
        log(f"skipped {file}: {reason}")
    if not encoded.files:
        raise GenError("none of the samples could be read")
    corpus = ckpt_io.corpus_streams(ckpt, plugin)
    from generator.corpora.midi import MidiCorpus
    from generator.corpora.text import TextCorpus

    if isinstance(plugin, MidiCorpus):  # performance events: midi, score
        measure = stats.music
    elif isinstance(plugin, TextCorpus):
        measure = stats.verse
    else:  # a plugin whose tokens gen cannot read: copy rate only
        measure = None
    result = {"samples": len(encoded.files)}
    if measure is not None:
        result["sample"], result["corpus"] = measure(encoded.streams), measure(corpus)
        if "pitch_classes" in result["sample"]:
            result["pitch_class_distance"] = stats.histogram_distance(
                result["sample"]["pitch_classes"], result["corpus"]["pitch_classes"]
            )
    result["copy_ngram"] = plugin.copy_ngram
    result["copy_rate"] = copy_rate(encoded.streams, corpus, plugin.copy_ngram)
    return result


def held_out_loss(ckpt: Checkpoint, path: Path, which: str = "best", log=print) -> dict:
    """The model's loss on the files under `path` (no baselines)."""
    from generator.splits import load_corpus

    plugin = ckpt_io.plugin_of(ckpt)
    check_corpus(ckpt, plugin)
    _, _, encoded = load_corpus(plugin.name, path, log)
    stream = data.join_streams(ckpt.vocab, encoded.streams, plugin.lead_in)
    try:
        nats, count = model_nats(ckpt, stream, which)
    except GenError:
        raise GenError(f"'{path}' holds too few tokens to evaluate") from None
    return {
        "tokens": count,
        f"nats_per_{plugin.token_name}": nats,
        f"bits_per_{plugin.token_name}": nats / math.log(2),
        "perplexity": math.exp(nats),
    }


def report(result: dict, token_name: str) -> list[str]:
    """Readable lines for a `held_out` or `sample_stats` result."""
    lines = []
    if "ngram" in result:
        unit = f"nats/{token_name}"
        nats = result[f"nats_per_{token_name}"]
        lines.append(f"held out: {result['held_out']}, {result['tokens']:,} {token_name}s")
        line = (
            f"model: {nats:.4f} {unit}, {result[f'bits_per_{token_name}']:.3f} "
            f"bits/{token_name}, perplexity {result['perplexity']:.2f}"
        )
        if "nats_per_second" in result:
            line += f", {result['nats_per_second']:.2f} nats per second of music"
        lines.append(line)
        grams = ", ".join(f"{k}: {v:.4f}" for k, v in result["ngram"].items())
        lines.append(f"n-gram baselines (Kneser-Ney, same tokens and split), {unit}: {grams}")
        below = result["below_best_ngram"]
        lines.append(
            f"model is {100 * abs(below):.1f} % {'below' if below >= 0 else 'above'} the best "
            f"n-gram (order {result['best_ngram_order']})"
        )
        return lines
    lines.append(f"{result['samples']} samples")
    sample, corpus = result.get("sample"), result.get("corpus")
    if sample:
        lines.append(f"{'':<22}{'samples':>12}{'corpus':>12}")
        for key, value in sample.items():
            if isinstance(value, float) or isinstance(value, int):
                other = corpus.get(key)
                lines.append(
                    f"{key.replace('_', ' '):<22}{value:>12.3f}"
                    + (f"{other:>12.3f}" if isinstance(other, (int, float)) else "")
                )
    if "pitch_class_distance" in result:
        lines.append(
            f"pitch-class histogram distance (total variation, 0 same, 1 disjoint): "
            f"{result['pitch_class_distance']:.3f}"
        )
    rate = result["copy_rate"]
    lines.append(
        f"copy rate: {100 * rate:.1f} % of the samples' {result['copy_ngram']}-{token_name} "
        "runs occur in the training corpus"
        if rate is not None
        else "copy rate: samples too short to measure"
    )
    return lines
