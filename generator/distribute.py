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

from generator.config import PRECISIONS, STRATEGIES  # noqa: F401 (the choices, named here)
from generator.errors import GenError


def check(strategy: str) -> None:
    """What can be checked before TensorFlow starts (and before a run folder is made)."""
    if strategy == "multi-worker" and cluster()[1] < 2:
        raise GenError("--strategy multi-worker needs TF_CONFIG listing two or more tasks")


def writes(strategy: str) -> bool:
    """Whether this process writes the run under `strategy`: always, unless it trains as one
    of several workers and is not the chief. A $TF_CONFIG set by a cluster manager does not
    matter to a one-device or mirrored run."""
    worker, workers, chief = cluster()
    if strategy in ("multi-worker", "auto") and workers > 1:
        return chief
    return True


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

    def agree(self, flag: bool) -> int:
        """How many workers raise `flag` (one collective sum under multi-worker; every worker
        must ask at the same step). Alone, 0 or 1."""
        if self.name != "multi-worker":
            return int(flag)
        import tensorflow as tf

        local = self.strategy.run(lambda: tf.constant(float(flag)))
        return round(float(self.strategy.reduce("SUM", local, axis=None)) / self.local_replicas)

    @property
    def local_replicas(self) -> int:
        return max(1, self.replicas // self.workers)

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
    check(name)
    worker, workers, chief = cluster()
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
    except RuntimeError as exc:  # TensorFlow already running in this process (tests)
        if name == "multi-worker" or (name == "auto" and workers > 1):
            raise GenError(f"cannot start strategy '{name}': {exc}") from None
        import tensorflow as tf

        gpus = len(tf.config.list_physical_devices("GPU"))
        several = name == "mirrored" or (name == "auto" and gpus > 1)
        strategy = tf.distribute.MirroredStrategy() if several else tf.distribute.get_strategy()
        made.update(strategy=strategy, name="mirrored" if several else "one-device", gpus=gpus)
    if precision == "mixed":
        if not made["gpus"]:
            raise GenError("--precision mixed needs a GPU (float16 is slower on a CPU)")
        import keras

        keras.mixed_precision.set_global_policy("mixed_float16")
    strategy = made["strategy"]
    if made["name"] != "multi-worker":
        worker, workers, chief = 0, 1, True  # a TF_CONFIG is not this run's business
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

    if not hasattr(keras_trainer, "reduce_per_replica") or not hasattr(
        model, "_maybe_symbolic_build"
    ):
        raise GenError(
            "this Keras version's fit differs from the one gen works around for multi-worker "
            "training (tested: Keras 3.15); use --strategy mirrored or one-device"
        )
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
