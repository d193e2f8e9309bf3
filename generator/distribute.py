"""Where training runs: one device, every local GPU, or several machines, through tf.distribute.

    one-device    the default strategy: the GPU if there is one, else the CPU
    mirrored      MirroredStrategy: every local GPU (on a machine without GPUs, the CPU split
                  into $GEN_CPU_DEVICES logical devices, for trying it out)
    multi-worker  MultiWorkerMirroredStrategy over the machines listed in $TF_CONFIG
    auto          multi-worker when $TF_CONFIG lists several tasks, mirrored with several
                  GPUs, else one-device

`--batch-size` is per replica: the global batch is batch size x replicas, and the peak
learning rate is scaled by the square root of the replicas (the rule for Adam-type optimisers
when the batch grows). Only the chief (task 0) writes checkpoints.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

from generator.errors import GenError

STRATEGIES = ("auto", "one-device", "mirrored", "multi-worker")
PRECISIONS = ("float32", "mixed")


def cluster() -> tuple[int, int, bool]:
    """(this task's worker index, number of workers, whether it is the chief) from $TF_CONFIG
    (one worker, the chief, without it). Reads no TensorFlow."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return 0, 1, True
    try:
        config = json.loads(raw)
        spec, task = config.get("cluster", {}), config["task"]
        chiefs, workers = len(spec.get("chief", [])), len(spec.get("worker", []))
        kind, index = task["type"], int(task["index"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise GenError(f"TF_CONFIG is not a valid cluster description: {exc}") from None
    if kind not in ("chief", "worker"):
        raise GenError(f"TF_CONFIG task type '{kind}' cannot train; use chief or worker")
    worker = index if kind == "chief" else index + chiefs
    return worker, chiefs + workers, worker == 0


@dataclass
class Placement:
    """The strategy training runs under, and this process's part in it."""

    strategy: object  # a tf.distribute.Strategy
    name: str  # the strategy's name, resolved from "auto"
    replicas: int  # replicas in all workers together
    worker: int  # this process's worker index
    workers: int  # processes training together
    chief: bool  # whether this process writes checkpoints

    def learning_rate(self, per_replica_rate: float) -> float:
        return per_replica_rate * math.sqrt(self.replicas)

    def fitting(self, model):
        """The context `model.fit` must run in under this strategy."""
        if self.name == "multi-worker":
            return multi_worker_fit(model, self.strategy)
        return nullcontext()


def place(name: str, precision: str = "float32") -> Placement:
    """Start TensorFlow under the strategy `name` (see the module docstring)."""
    from generator.tf_setup import import_tensorflow

    if name not in STRATEGIES:
        raise GenError(f"unknown strategy '{name}'; choose one of {', '.join(STRATEGIES)}")
    worker, workers, chief = cluster()
    if name == "multi-worker" and workers < 2:
        raise GenError("--strategy multi-worker needs TF_CONFIG listing two or more tasks")
    made = {}

    def configure(tf):
        gpus = tf.config.list_physical_devices("GPU")
        chosen = name
        if chosen == "auto":
            chosen = (
                "multi-worker" if workers > 1 else "mirrored" if len(gpus) > 1 else "one-device"
            )
        if chosen == "multi-worker":
            made["strategy"] = tf.distribute.MultiWorkerMirroredStrategy()
        elif chosen == "mirrored":
            devices = None
            cpus = int(os.environ.get("GEN_CPU_DEVICES", "1") or 1)
            if not gpus and cpus > 1:  # no GPU: split the CPU into logical devices
                cpu = tf.config.list_physical_devices("CPU")[0]
                config = [tf.config.LogicalDeviceConfiguration()] * cpus
                tf.config.set_logical_device_configuration(cpu, config)
                devices = [d.name for d in tf.config.list_logical_devices("CPU")]
            made["strategy"] = tf.distribute.MirroredStrategy(devices)
        else:
            made["strategy"] = tf.distribute.get_strategy()
        made["name"], made["gpus"] = chosen, len(gpus)

    try:
        import_tensorflow(configure)
    except RuntimeError as exc:  # TensorFlow already running in this process
        if name in ("one-device", "auto") and workers == 1:
            import_tensorflow()
            import tensorflow as tf

            made.update(strategy=tf.distribute.get_strategy(), name="one-device", gpus=0)
        else:
            raise GenError(f"cannot start strategy '{name}': {exc}") from None
    if precision == "mixed":
        if not made["gpus"]:
            raise GenError("--precision mixed needs a GPU (float16 is slower on a CPU)")
        import keras

        keras.mixed_precision.set_global_policy("mixed_float16")
    strategy = made["strategy"]
    return Placement(strategy, made["name"], strategy.num_replicas_in_sync, worker, workers, chief)


@contextmanager
def multi_worker_fit(model, strategy) -> Iterator[None]:
    """Work around Keras 3's `fit` under MultiWorkerMirroredStrategy (tensorflow/tensorflow
    issue 72388): Keras reduces the scalar loss "along axis 0", which that strategy refuses,
    and reduces an (inputs, targets) batch as one value before building. While inside, scalars
    are averaged over every replica (axis None) and the build uses this worker's own batch.
    Nothing changes for the other strategies."""
    import keras.src.backend.tensorflow.trainer as keras_trainer
    import tensorflow as tf

    original = keras_trainer.reduce_per_replica

    def reduce_per_replica(values, strategy_, reduction="auto"):
        if reduction not in ("auto", "mean"):
            return original(values, strategy_, reduction)

        def mean(value):
            if not isinstance(value, (tf.Tensor, tf.distribute.DistributedValues)):
                return value
            return strategy_.reduce("MEAN", value, axis=0 if value.shape.rank else None)

        return tf.nest.map_structure(mean, values)

    def build_from_local_batch(iterator=None, data_batch=None):
        for _, _, batches in iterator or ():
            batch = next(batches)
            data_batch = tf.nest.map_structure(
                lambda v: strategy.experimental_local_results(v)[0], batch
            )
            break
        with strategy.scope():
            model._symbolic_build(data_batch=data_batch)

    keras_trainer.reduce_per_replica = reduce_per_replica
    model._maybe_symbolic_build = build_from_local_batch
    try:
        yield
    finally:
        keras_trainer.reduce_per_replica = original
        del model._maybe_symbolic_build
