"""Evaluation: a checkpoint's held-out loss beside n-gram baselines, and statistics of
generated samples beside the training corpus's, with a classifier two-sample test against its
held-out pieces.

Loss is the mean cross-entropy in nats per token over non-overlapping windows of the training
sequence length, each started from a zero state (as in training's validation). It is also
given in bits per token, as perplexity and, for music, in nats per second of music. Every id
here is read from a token store, as training reads it.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from generator import budget, data, keys, tokenmaps
from generator import checkpoint as ckpt_io
from generator.checkpoint import Checkpoint, check_corpus
from generator.config import MAX_NGRAM_ORDER, check_range
from generator.errors import GenError
from generator.progress import Reporter

MAX_HELD_OUT = 100  # held-out pieces the music classifier sees, at most


def model_nats(
    ckpt: Checkpoint, stream, which: str = "best", length: int | None = None
) -> tuple[float, int]:
    """Mean nats per token of the checkpoint's model on an id stream (an array or a
    `data.SegmentedStream`), scored in windows of `length` (default: those training validated
    on), and the tokens scored."""
    from generator.loss import loss_scorer, score_batch
    from generator.tf_setup import import_tensorflow

    import_tensorflow()
    if len(stream) < 2:
        raise GenError("too few tokens to evaluate")
    if not isinstance(stream, data.SegmentedStream):
        stream = data.SegmentedStream.of(stream)
    ignored = keys.control_ids(ckpt.vocab)  # keys are given, never predicted
    length = length or ckpt.train.scored_len
    scorer = loss_scorer(ckpt.load_model(which), length, score_batch(length), ignored)
    return scorer(stream)


def files_ids(ckpt: Checkpoint, plugin, path: Path, log) -> data.SegmentedStream:
    """The ids of the files under `path`, from their token store, in the run's vocabulary."""
    from generator.splits import open_corpus

    _, _, store = open_corpus(plugin.name, path, None, log, user_folder=False)
    return store.stream(store.usable, ckpt.vocab)


def split_ids(ckpt: Checkpoint, plugin, path: Path | None, log):
    """Training and held-out id streams: the checkpoint's own split, or its training split
    and the files under `path`; and a description of the held-out part."""
    from generator.splits import saved_split

    train, val = saved_split(ckpt, plugin, log)
    if path is not None:
        return train, files_ids(ckpt, plugin, path, log), str(path)
    if not len(val):
        raise GenError("this run has no validation split; give --path FILES to evaluate on")
    held = ckpt.corpus_files().validation_files
    where = f"{len(held)} files" if held else "the end of its one file"
    return train, val, f"the checkpoint's validation split ({where})"


def loss_figures(plugin, nats: float, count: int) -> dict:
    """A loss in every unit: nats and bits per token, and perplexity."""
    name = plugin.token_name
    return {
        "tokens": count,
        f"nats_per_{name}": nats,
        f"bits_per_{name}": nats / math.log(2),
        "perplexity": math.exp(nats),
    }


def held_out(
    ckpt: Checkpoint, path: Path | None = None, *, which="best", max_order: int = 6, log=None
) -> dict:
    """The model's held-out loss in every unit, and n-gram baselines on the same tokens."""
    check_range("ngram-order", max_order, 1, MAX_NGRAM_ORDER)
    log = Reporter.of(log)
    plugin = ckpt_io.plugin_of(ckpt)
    check_corpus(ckpt, plugin)
    train, val, source = split_ids(ckpt, plugin, path, log)
    with budget.out_of_memory_is_one_line(_out_of_memory):
        return _held_out(ckpt, plugin, train.array(), val.array(), source, which, max_order)


def _out_of_memory() -> str:
    return (
        "out of memory while evaluating; evaluate on fewer files with --path, or lower "
        "--ngram-order"
    )


def _held_out(ckpt, plugin, train, val, source: str, which: str, max_order: int) -> dict:
    """`held_out`'s figures, from id arrays of the training and the held-out tokens."""
    from generator import ngram

    nats, count = model_nats(ckpt, val, which)
    result = {"held_out": source} | loss_figures(plugin, nats, count)
    if "seconds" in plugin.length_units:
        seconds = tokenmaps.length_table(plugin, ckpt.vocab, "seconds")[0]  # (vocab,)
        music_seconds = float(seconds[val[1:]].sum())
        if music_seconds > 0:
            result["nats_per_second"] = nats * count / music_seconds  # x tokens per second
    orders = range(1, max_order + 1)
    ignored = keys.control_ids(ckpt.vocab)  # keys are given, not predicted: not counted
    train, val = (ids[~np.isin(ids, ignored)] for ids in (train, val))
    baselines = ngram.baselines(train, val, len(ckpt.vocab), orders)
    result["ngram"] = {str(k): v for k, v in baselines.items()}
    best_order = min(result["ngram"], key=result["ngram"].get)
    result["best_ngram_order"] = int(best_order)
    result["below_best_ngram"] = 1 - nats / result["ngram"][best_order]
    return result


def held_out_loss(ckpt: Checkpoint, path: Path, which: str = "best", log=None) -> dict:
    """The model's loss on the files under `path` (no baselines)."""
    log = Reporter.of(log)
    plugin = ckpt_io.plugin_of(ckpt)
    check_corpus(ckpt, plugin)
    try:
        with budget.out_of_memory_is_one_line(_out_of_memory):
            nats, count = model_nats(ckpt, files_ids(ckpt, plugin, path, log), which)
    except GenError as exc:
        raise GenError(f"'{path}': {exc}") from None
    return loss_figures(plugin, nats, count)


def sample_stats(ckpt: Checkpoint, samples: Path, log=None) -> dict:
    """Statistics of generated files next to the checkpoint's training corpus (for music
    and verse plugins), and how much of them copies it."""
    from generator import stats
    from generator.copies import MAX_CORPUS_TOKENS
    from generator.keys import control_ids
    from generator.metrics import CopyIndex, copy_rate
    from generator.splits import saved_split

    log = Reporter.of(log)
    plugin = ckpt_io.plugin_of(ckpt)
    check_corpus(ckpt, plugin)
    vocab, lead = ckpt.vocab, len(plugin.lead_in)
    sample_ids = files_ids(ckpt, plugin, samples, log).array()
    sample_pieces = data.pieces(sample_ids, vocab.start_id, lead)
    written = data.written_pieces(sample_ids, vocab, lead)
    train, val = saved_split(ckpt, plugin, log)
    train = train.array()
    result = {"samples": len(sample_pieces)}
    if plugin.kind in ("music", "verse"):
        measure = stats.measure(plugin, written)
        result["sample"] = measure
        result["corpus"] = stats.measure(plugin, data.written_pieces(train, vocab, lead))
        if "pitch_classes" in measure:
            result["pitch_class_distance"] = stats.histogram_distance(
                measure["pitch_classes"], result["corpus"]["pitch_classes"]
            )
    if plugin.kind == "verse":
        poems = [plugin.text(tokens) for tokens in written]
        result["classifier"], result["classifier_pieces"] = verse_classifier(
            plugin, vocab, val.array(), poems
        )
    if plugin.kind == "music":
        held_out = data.written_pieces(val.array(), vocab, lead)
        result["classifier"], result["classifier_pieces"] = music_classifier(
            plugin, held_out, written
        )
    result["copy_ngram"] = plugin.copy_ngram
    result["copy_rate"] = None  # not measured on a training split too large to hold its runs
    if len(train) <= MAX_CORPUS_TOKENS:
        index = CopyIndex(train, plugin.copy_ngram, vocab.unk_id, control_ids(vocab))
        result["copy_rate"] = copy_rate(sample_pieces, index)
    return result


def verse_classifier(plugin, vocab, held_out, poems: list[str]) -> tuple[float | None, int]:
    """The classifier two-sample test of `poems` against excerpts of the held-out verse of
    the same number of lines (None without scikit-learn or with too few of either), and the
    poems of each kind it compared."""
    from generator import twosample

    if not poems:
        return None, 0
    lines = int(np.median([len([x for x in p.splitlines() if x.strip()]) for p in poems]))
    text = plugin.text(vocab.decode(held_out))
    real = twosample.excerpts(text, max(1, lines), len(poems))
    return twosample.verse_accuracy(real, poems), twosample.compared(real, poems)


def music_classifier(plugin, held_out: list, samples: list) -> tuple[float | None, int]:
    """The classifier two-sample test of `samples` against up to `MAX_HELD_OUT` `held_out`
    pieces (token lists both) cut to the samples' median length (None without scikit-learn
    or with too few of either), and the pieces of each kind it compared."""
    from generator import twosample

    pieces = [notes for notes in map(plugin.notes, samples) if notes]
    if not pieces:
        return None, 0
    seconds = float(np.median([max(n.end for n in notes) for notes in pieces]))
    real = [plugin.notes(tokens) for tokens in twosample.spread(held_out, MAX_HELD_OUT)]
    real = [cut for cut in ([n for n in notes if n.start < seconds] for notes in real) if cut]
    return twosample.music_accuracy(real, pieces), twosample.compared(real, pieces)


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
    if "classifier" in result:
        accuracy = result["classifier"]
        lines.append(
            "classifier two-sample test: not measured (scikit-learn is not installed, or fewer "
            "than 5 samples or held-out pieces)"
            if accuracy is None
            else f"classifier two-sample test: {100 * accuracy:.0f} % cross-validated accuracy "
            "telling held-out pieces from the samples (50 %: indistinguishable; "
            f"{_interval(accuracy, result['classifier_pieces'])})"
        )
    rate = result["copy_rate"]
    lines.append(
        f"copy rate: {100 * rate:.1f} % of the samples' {result['copy_ngram']}-{token_name} "
        "runs occur in the training corpus"
        if rate is not None
        else "copy rate: samples too short to measure"
    )
    return lines


def _interval(accuracy: float, count: int) -> str:
    """The classifier's 95 % interval, in words."""
    from generator.twosample import interval

    low, high = interval(accuracy, count)
    return f"95 % interval {100 * low:.0f}-{100 * high:.0f} % over {count} of each"
