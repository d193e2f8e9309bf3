"""Import TensorFlow quietly and only when a command needs it (so `gen --help` is instant)."""

from __future__ import annotations

import os
import sys
import tempfile

_tf = None


def import_tensorflow(configure=None):
    """TensorFlow with Keras on its backend, its start-up chatter kept off the terminal.

    `configure(tf)` runs before TensorFlow's runtime starts (device set-up that must come
    first, such as logical devices or a multi-worker strategy); it is an error to ask for it
    once the runtime has started.

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
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()  # device probing logs happen here
            if configure is not None:
                configure(tf)
            tf.constant(0.0) + 1.0  # first op: runtime initialisation logs
        except BaseException:
            os.dup2(saved, 2)
            caught.seek(0)
            sys.stderr.write(caught.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    tf.get_logger().setLevel("ERROR")
    _tf = tf
    return tf
