"""Import TensorFlow quietly and only when a command needs it (so `gen --help` is instant)."""

from __future__ import annotations

import os
import re
import sys
import tempfile
from contextlib import contextmanager

_tf = None


def op_threads(gpu: bool) -> int | None:
    """Threads each TensorFlow op may use on a machine without a GPU: half the cores.

    An LSTM step is a chain of small ops. Split over every core, each op spends much of its
    time handing work out and waiting; with half the cores per op, the independent ops of a
    step (a layer's input and recurrent products, the next layer's recurrent product) run side
    by side instead, which trains and samples faster (BENCHMARKS.md). `TF_NUM_INTRAOP_THREADS`,
    or a setting made before gen starts TensorFlow, wins; None leaves TensorFlow's default (all
    cores), as with a GPU, where the LSTM runs on cuDNN.
    """
    if gpu or os.environ.get("TF_NUM_INTRAOP_THREADS"):
        return None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) // 2)


def gpu_visible() -> bool:
    """Whether TensorFlow sees a GPU: the CPU's own training pass and loss kernels are used
    only where it does not."""
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU"))


def batch_halves(*tensors) -> list[tuple]:
    """The tensors cut into two halves along the batch (first) axis, as pairs of halves: work
    done as two ops side by side, which with one core per op (`op_threads`) keeps both cores
    busy."""
    import tensorflow as tf

    batch = tf.shape(tensors[0])[0]
    sizes = [batch // 2, batch - batch // 2]
    return list(zip(*(tf.split(t, sizes) for t in tensors)))


YNN_FUSIONS = "--xla_cpu_experimental_ynn_fusion_type"
YNN_FLAG_VERSIONS = ((2, 21), (2, 22))  # TensorFlow versions known to have the flag: [from, to)


def tensorflow_version() -> tuple[int, ...]:
    """The installed TensorFlow's version as (major, minor), read without importing it; () if
    no distribution provides the `tensorflow` package or its version cannot be read."""
    from importlib import metadata

    def named():  # the usual names first: a scan of every distribution is slow
        yield from ("tensorflow", "tensorflow-cpu")
        yield from metadata.packages_distributions().get("tensorflow", [])

    for dist in named():
        try:
            found = re.match(r"(\d+)\.(\d+)", metadata.version(dist) or "")
        except metadata.PackageNotFoundError:
            continue
        if found:
            return int(found[1]), int(found[2])
    return ()


def xla_flags(flags: str, version: tuple[int, ...]) -> str:
    """`XLA_FLAGS` for gen: with XLA's YNNPACK fusions turned off on the TensorFlow versions
    known to have them (`YNN_FLAG_VERSIONS`), unless the flags already say how to use them or
    name a file of flags (XLA reads a value not starting with "-" as one).

    A YNNPACK fusion builds its graph the first time a kernel runs, and two threads doing so
    at once for one kernel (the loss's two halves, side by side) can crash the process on
    TensorFlow 2.21 (BENCHMARKS.md). XLA stops at a flag it does not know, as TensorFlow 2.20's
    does at this one, so the range is widened only for versions where `tests/test_project.py`'s
    crash test has been run."""
    low, high = YNN_FLAG_VERSIONS
    if not (low <= version < high) or (flags.strip() and not flags.lstrip().startswith("-")):
        return flags
    if re.search(rf"(^|\s){YNN_FUSIONS}(=|\s|$)", flags):
        return flags
    return f"{flags} {YNN_FUSIONS}=".strip()


def import_tensorflow(configure=None):
    """TensorFlow with Keras on its backend, its start-up chatter kept off the terminal.

    `configure(tf)` runs before TensorFlow's runtime starts (device set-up that must come
    first, such as logical devices or a multi-worker strategy); it is an error to ask for it
    once the runtime has started.

    It also sets `XLA_FLAGS` in `os.environ` (see `xla_flags`), where child processes inherit
    it. XLA reads it at its first compilation, so this works even when the caller imported
    TensorFlow first, as long as nothing was compiled with XLA before.

    TensorFlow's C++ runtime logs device probing (oneDNN notes, "no CUDA driver") straight to
    file descriptor 2 while it starts, whatever TF_CPP_MIN_LOG_LEVEL says; that output is caught
    in a temporary file and shown only if the import or device set-up fails.
    """
    global _tf
    if _tf is not None:
        if configure is not None:
            raise RuntimeError("TensorFlow has already started; it can no longer be configured")
        return _tf
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    flags = os.environ.get("XLA_FLAGS", "")
    wanted = xla_flags(flags, tensorflow_version())
    if wanted != flags:
        os.environ["XLA_FLAGS"] = wanted
    with stderr_caught():
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")  # device probing logs happen here
        threads = op_threads(bool(gpus))
        if threads and not tf.config.threading.get_intra_op_parallelism_threads():
            try:
                tf.config.threading.set_intra_op_parallelism_threads(threads)
            except RuntimeError:  # the caller's code started TensorFlow already
                pass
        if configure is not None:
            configure(tf)
        tf.constant(0.0) + 1.0  # first op: runtime initialisation logs
    tf.get_logger().setLevel("ERROR")
    _tf = tf
    return tf


@contextmanager
def stderr_caught():
    """File descriptor 2 caught in a temporary file while inside: what the C++ runtime writes
    there is shown only if the block fails."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            caught.seek(0)
            sys.stderr.write(caught.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def first_notes_caught() -> None:
    """Make XLA and tf.data write their one-time start-up notes now, caught: INFO lines
    ("XLA service ... initialized", "Memory patch applied") that TF_CPP_MIN_LOG_LEVEL does not
    silence, which would otherwise land in the middle of training's output."""
    tf = import_tensorflow()
    with stderr_caught():
        tf.function(lambda x: x + 1.0, jit_compile=True)(tf.constant(0.0))
        spec = tf.TensorSpec((), tf.int32)
        for _ in tf.data.Dataset.from_generator(lambda: iter([0]), output_signature=spec):
            pass
