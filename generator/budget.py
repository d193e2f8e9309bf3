"""What a job will take, said before it starts: a batch clipped to the windows there are, the
epochs a corpus of its size needs, a memory estimate printed when it is large, a job refused
when it cannot fit, and an out-of-memory inside TensorFlow turned into one line that names the
setting to lower.

The estimates count the float32 arrays that dominate (parameters with their gradients and
Adam's moments; per window position, each layer's gate activations kept for the backward
pass and the logits with their softmax and derivative), not every small buffer.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from generator.errors import GenError

FLOAT = 4  # bytes of a float32
SAY_ABOVE = 2**30  # estimates above this are printed before the job starts
# the epochs chosen when none are given: at least MIN_EPOCHS, and on a small corpus enough of
# them to read MIN_TOKENS (the default chorales' 17 epochs), which is what learning needs
# (BENCHMARKS.md), up to MAX_EPOCHS
MIN_EPOCHS = 17
MIN_TOKENS = 4_400_000
MAX_EPOCHS = 250
FLOATS_PER_UNIT = 12  # kept per layer, window position and unit: 4 gates, tanh(c), c, h, ...


def available_memory() -> int | None:
    """Bytes of memory this machine can give a new job (Linux: MemAvailable), or None."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def gigabytes(size: float) -> str:
    """Bytes as a reader wants them: 12.3 GB."""
    return f"{size / 2**30:,.1f} GB"


def fit_batch(config, train_tokens: int, log):
    """`config` with its batch no larger than the training split's windows (a batch is
    never made of more windows than there are), saying so when it clips."""
    windows = (train_tokens - 1) // config.seq_len
    if 1 <= windows < config.batch_size:
        log(
            f"batch-size {config.batch_size:,} is more than the {windows:,} windows of "
            f"{config.seq_len} tokens in the training split; training with batches of {windows:,}"
        )
        return replace(config, batch_size=windows)
    return config


def fit_epochs(config, steps_per_epoch: int, train_tokens: int, log):
    """`config` with its epochs chosen from the training split's size where none were given
    (a small corpus takes more passes, so that training reads as many tokens as on a large
    one), saying what it chose."""
    if config.epochs is not None:
        return config
    epochs = min(MAX_EPOCHS, max(MIN_EPOCHS, -(-MIN_TOKENS // max(1, train_tokens))))
    log(
        f"{epochs} epochs of {steps_per_epoch:,} steps, chosen for {train_tokens:,} training "
        f"tokens (at least {MIN_EPOCHS} epochs and {MIN_TOKENS:,} tokens in all); --epochs "
        "sets them"
    )
    return replace(config, epochs=epochs)


def training_bytes(model_config, batch_size: int, seq_len: int) -> tuple[int, int]:
    """(bytes of the parameters with gradients and Adam's two moments, bytes of one batch's
    activations kept for the backward pass)."""
    params = 4 * FLOAT * model_config.num_params
    per_position = model_config.layers * FLOATS_PER_UNIT * model_config.units
    per_position += model_config.embed_dim + 3 * model_config.vocab_size  # logits, softmax, grad
    return params, FLOAT * batch_size * seq_len * per_position


def check_fits(what: str, parts: dict[str, int], lower: str, log) -> None:
    """Say an estimate that is large, and refuse one larger than the available memory.
    `parts`: name -> bytes; `lower`: the settings that make it smaller."""
    need = sum(parts.values())
    detail = ", ".join(f"{name}: {gigabytes(size)}" for name, size in parts.items())
    free = available_memory()
    if free is not None and need > free:
        raise GenError(
            f"{what} would need about {gigabytes(need)} of memory ({detail}), more than the "
            f"{gigabytes(free)} available; lower {lower}"
        )
    if need > SAY_ABOVE:
        log(f"{what} will hold about {gigabytes(need)} in memory ({detail})")


def check_training(model_config, config, log) -> None:
    """Refuse, before any model is built, training that cannot fit in memory."""
    params, batch = training_bytes(model_config, config.batch_size, config.seq_len)
    parts = {f"{model_config.num_params:,} parameters and their optimiser state": params}
    parts[f"a batch of {config.batch_size:,} x {config.seq_len} tokens"] = batch
    check_fits("training", parts, "--batch-size, --seq-len, --units or --layers", log)


def check_sampling(model_config, streams: int, max_tokens: int, log) -> None:
    """Refuse, before the weights load, sampling that cannot fit in memory: the drawn ids of
    every stream in flight, and the model."""
    parts = {
        f"the model's {model_config.num_params:,} parameters": 2 * FLOAT * model_config.num_params,
        f"{streams:,} outputs of up to {max_tokens:,} tokens in flight": FLOAT
        * streams
        * max_tokens,
    }
    check_fits("sampling", parts, "--length or -n", log)


@contextmanager
def out_of_memory_is_one_line(message):
    """Turn an out-of-memory inside TensorFlow or NumPy into one `GenError` whose text is
    `message()` (called then, so it can say where the job stood and what to lower)."""
    try:
        yield
    except BaseException as exc:
        if not out_of_memory(exc):
            raise
        raise GenError(message()) from None


def out_of_memory(exc: BaseException) -> bool:
    """Whether `exc` says memory ran out. TensorFlow is not imported to ask (importing it
    here would start it before a distribution strategy can configure it); if it has not
    been imported, it raised nothing."""
    if isinstance(exc, MemoryError):
        return True
    tf = sys.modules.get("tensorflow")
    return tf is not None and isinstance(exc, tf.errors.ResourceExhaustedError)
