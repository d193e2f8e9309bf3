"""The training loop: Keras' `fit` with checkpoints that survive faults.

After every epoch the latest and best weights, metrics.json and resume.h5 are written. During an
epoch resume.h5 is written again every `save_minutes`, and at once when SIGINT (Ctrl-C) or
SIGTERM arrives, after which training stops with a message saying how to resume. A loss that is
not finite stops training before anything is saved over the last good checkpoint.

Batches are a pure function of the seed and the global step (`data.WindowBatches`), the dropout
layers' random state is a model variable, and the optimiser's step count drives the learning-rate
schedule; restoring resume.h5 therefore continues a run exactly where it stood.
"""

from __future__ import annotations

import functools
import math
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from generator import checkpoint
from generator.curves import write_curves
from generator.errors import GenError, Interrupted
from generator.progress import quiet

SIGNAL_NAMES = {signal.SIGINT: "Ctrl-C (SIGINT)", signal.SIGTERM: "SIGTERM"}


@dataclass
class RunState:
    """Where a run stands; saved in resume.h5 and restored by `gen train --resume`."""

    step: int = 0  # batches trained in all (the optimiser's step count)
    epoch: int = 0  # epochs finished
    epoch_loss_sum: float = 0.0  # sum of the batch losses of the unfinished epoch
    epoch_batches: int = 0  # batches of the unfinished epoch
    seconds: float = 0.0  # training time so far, over every session of the run
    metrics: dict = field(default_factory=dict)  # what metrics.json holds

    def to_json(self) -> dict:
        """The state as JSON-able values (what resume.h5 stores)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data) -> RunState:
        """The state resume.h5 stored; a `GenError` if it is not one."""
        try:
            state = cls(**{k: data[k] for k in cls.__dataclass_fields__})
            valid = (
                all(
                    isinstance(getattr(state, k), int) and getattr(state, k) >= 0
                    for k in ("step", "epoch", "epoch_batches")
                )
                and isinstance(state.metrics, dict)
                and isinstance(state.metrics.get("history"), list)
                and isinstance(state.seconds, (int, float))
                and isinstance(state.epoch_loss_sum, (int, float))
            )
        except (KeyError, TypeError):
            valid = False
        if not valid:
            raise GenError("resume.h5 holds no valid training state; it is damaged")
        return state


def compile_model(model, config, total_steps: int, peak_rate: float | None = None) -> None:
    """Adam with a linear warm-up (100 steps, or a tenth of a short run) to the peak learning
    rate (`config.learning_rate` unless given), cosine decay to 5 % of it by `total_steps`, and
    global gradient-norm clipping."""
    import keras

    warmup = min(100, total_steps // 10)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0,
        max(1, total_steps - warmup),
        alpha=0.05,
        warmup_target=peak_rate or config.learning_rate,
        warmup_steps=warmup,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(schedule, global_clipnorm=config.clip_norm),
        loss=token_cross_entropy,
    )


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
    """The cross-entropy and its derivative as two XLA kernels, each one pass over the logits:
    on a CPU 2.3 against 9 to 11 ms for TensorFlow's op and its derivative, at 4,096 tokens x
    a vocabulary of 400 on one core."""
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


def without_autotune(dataset):
    """`dataset` with tf.data's autotuning off. Its thread wakes after 10 ms, then after
    twice as long each time up to a minute, and deleting the iterator (as `fit` does on its
    way out) sometimes waits for that wake-up: calls of 8 steps at 2 x 256, 1.7 to 1.9 s
    otherwise, sometimes ended exactly 2.55 or 5.11 s after they began (10 x (2^8 - 1) and
    10 x (2^9 - 1) ms). Gen's pipelines name a fixed prefetch and no parallel calls, so there
    is nothing to tune. Measured on one device: under a distribution strategy TensorFlow also
    makes per-device copies of the dataset, which may autotune on their own."""
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


@contextmanager
def caught_signals(log) -> Iterator[dict]:
    """While inside, SIGINT and SIGTERM are noted in the yielded dict ("signum") instead of
    stopping the process; a second Ctrl-C stops at once. Only the main thread can do this."""
    caught = {"signum": None}
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return

    def note(signum, frame):
        if caught["signum"] is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: the user does not want to wait
        caught["signum"] = signum
        log(f"{SIGNAL_NAMES[signum]}: saving a checkpoint after this step (Ctrl-C again quits)")

    previous = {s: signal.signal(s, note) for s in SIGNAL_NAMES}
    try:
        yield caught
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


class Checkpointer:
    """What happens after each batch and epoch: loss checks, checkpoints, the time budget and
    signals. `batch_end` and `epoch_end` are called by the Keras callback made in `fit`."""

    def __init__(self, model, plan, log, caught, steps: int, chief=True, agree=None):
        self.model, self.run_dir, self.state = model, plan.run_dir, plan.state
        self.config, self.unit = plan.config, plan.unit
        self.log, self.caught = log, caught
        self.steps = steps  # per epoch
        self.chief = chief  # only the chief of several workers writes
        # how many workers say yes: several workers stop together, at the same step
        self.agree = agree or (lambda flag: int(flag))
        state = plan.state
        # where the checkpoint on disk stands (a resumed run starts from one)
        self.saved_at = f"epoch {state.epoch}, step {state.step}" if state.step else None
        self.started = time.monotonic() - state.seconds
        self.last_save = time.monotonic()
        self.call_base = (state.epoch_loss_sum, state.epoch_batches)  # before this fit call
        self.done = False  # the time budget is spent

    def elapsed(self) -> float:
        """Seconds of training in this run, over every session."""
        return round(time.monotonic() - self.started, 1)

    def save(self) -> None:
        """The latest weights and resume.h5 (weights, optimiser, state) for this step; never
        weights that are not finite (a finite loss can still have a NaN gradient)."""
        s = self.state
        if not all(np.isfinite(w).all() for w in self.model.get_weights()):
            self._non_finite("weights", "not finite")
        s.seconds = self.elapsed()
        self.last_save = time.monotonic()
        if self.chief:
            checkpoint.save_weights(self.model, self.run_dir, "last")
            checkpoint.save_resume(self.model, self.run_dir, s.to_json())
        self.saved_at = f"epoch {s.epoch}, step {s.step}"

    def _write_metrics(self) -> None:
        if self.chief:
            checkpoint.write_json(self.run_dir / checkpoint.METRICS, self.state.metrics)

    def _non_finite(self, what: str, value: float) -> None:
        """Stop without saving: the weights are already ruined."""
        s = self.state
        s.metrics["stopped"] = f"{what} was {value} at step {s.step}"
        self._write_metrics()
        if self.saved_at is None:
            raise GenError(
                f"the {what} became {value} at epoch {s.epoch + 1}, step {s.step}, before any "
                "checkpoint; training stopped. Try a lower --learning-rate"
            )
        raise GenError(
            f"the {what} became {value} at epoch {s.epoch + 1}, step {s.step}; training stopped "
            f"and the last good checkpoint (saved at {self.saved_at}) in '{self.run_dir}' is "
            f"kept. Start again from it with a lower --learning-rate and --init-from "
            f"{self.run_dir}"
        )

    def _signalled(self) -> bool:
        """Whether this process (or, with several workers, any of them) was signalled."""
        return self.agree(self.caught["signum"] is not None) > 0

    def _interrupted(self) -> None:
        s = self.state
        signum = self.caught["signum"] or signal.SIGTERM  # another worker's signal
        s.metrics["stopped"] = f"{SIGNAL_NAMES[signum]} at step {s.step}"
        self._write_metrics()
        where = (
            f"saved. Resume with: gen train --resume {self.run_dir}"
            if self.chief
            else "the chief saved the run; resume it with gen train --resume on every worker"
        )
        raise Interrupted(
            f"interrupted by {SIGNAL_NAMES[signum]} at epoch {s.epoch + 1}, step {s.step}; "
            + where,
            exit_code=128 + signum,
        )

    def batch_end(self, batch: int, loss: float) -> None:
        """`loss`: the mean over the `batch + 1` batches of this epoch in this `fit` call."""
        s = self.state
        s.step += 1
        if not math.isfinite(loss):
            self._non_finite("training loss", loss)
        base_sum, base_batches = self.call_base
        s.epoch_loss_sum, s.epoch_batches = base_sum + loss * (batch + 1), base_batches + batch + 1
        if s.step % self.steps == 0:  # the epoch's last batch: `epoch_end` saves, and stops
            return
        if self._signalled():
            self.save()
            self._interrupted()
        minutes = self.config.save_minutes
        if minutes is not None and time.monotonic() - self.last_save >= minutes * 60:
            self.save()

    def epoch_end(self, epoch: int, val_loss: float | None) -> None:
        s, m = self.state, self.state.metrics
        loss = s.epoch_loss_sum / max(1, s.epoch_batches)
        val = loss if val_loss is None else val_loss
        if not math.isfinite(val):
            self._non_finite("validation loss", val)
        s.epoch, s.epoch_loss_sum, s.epoch_batches = epoch + 1, 0.0, 0
        self.call_base = (0.0, 0)
        seconds = self.elapsed()
        m["history"].append({"epoch": epoch + 1, "loss": loss, "val_loss": val, "seconds": seconds})
        if m.get("best_val_loss") is None or val < m["best_val_loss"]:
            if self.chief:
                checkpoint.save_weights(self.model, self.run_dir, "best")
            m.update(best_val_loss=val, best_epoch=epoch + 1)
        m.update(epochs=epoch + 1, train_seconds=seconds)
        m.pop("stopped", None)
        self._write_metrics()
        self.save()
        if self.chief:
            try:
                write_curves(self.run_dir, m["history"], self.unit)
            except OSError as exc:  # the plot is a convenience; the checkpoint is saved
                self.log(f"warning: cannot write the loss curves: {exc.strerror or exc}")
        self.log(
            f"epoch {epoch + 1}: train {loss:.4f}, validation {val:.4f} {self.unit} "
            f"({val / math.log(2):.3f} bits), {seconds:.0f} s"
        )
        if self._signalled() and s.epoch < self.config.epochs:
            self._interrupted()
        budget = self.config.max_minutes  # the chief's clock decides for every worker
        self.done = self.agree(self.chief and budget is not None and seconds >= budget * 60) > 0


def fit(plan, log, resume: bool = False, init_weights: Path | None = None) -> None:
    """Train a `train.Plan` from its state (a new run, or one restored from resume.h5 when
    `resume`) to the last epoch or the time budget, under the strategy its config names.
    `init_weights`: start from another run's weights."""
    from generator import data
    from generator.distribute import cluster, place
    from generator.evaluate import loss_scorer
    from generator.model import build_model

    config, state, run_dir, val_stream = plan.config, plan.state, plan.run_dir, plan.val_ids

    worker, workers, _ = cluster()
    if workers > 1 and config.strategy in ("multi-worker", "auto"):
        log(f"joining {workers} workers as worker {worker}; this waits until all have started")
    where = place(config.strategy, config.precision)
    import keras
    import tensorflow as tf

    # the data order depends on the global batch and on how the stream is shared out
    layout = {"replicas": where.replicas, "workers": where.workers}
    before = {k: state.metrics.setdefault(k, v) for k, v in layout.items()}
    if before != layout:
        raise GenError(
            f"this run trained on {before['replicas']} replicas in {before['workers']} "
            f"worker(s), and would now run on {where.replicas} in {where.workers}; resume it "
            "with the same --strategy, devices and workers"
        )
    global_batch = config.batch_size * where.replicas
    if where.replicas > 1:
        log(
            f"{where.name}: {where.replicas} replicas, global batch {global_batch}, peak "
            f"learning rate {where.learning_rate(config.learning_rate):.3g}"
        )
    shard = (where.worker, where.workers) if where.name == "multi-worker" else (0, 1)
    batches = data.WindowBatches(
        plan.train_ids,
        config.seq_len,
        global_batch,
        plan.aug_maps,
        config.seed,
        config.epoch_steps,
        shard,
    )
    steps = batches.steps_per_epoch
    keras.utils.set_random_seed(config.seed)
    with where.strategy.scope():
        model = build_model(plan.model_config)
        if init_weights is not None:
            try:
                model.load_weights(init_weights)
            except (OSError, ValueError, KeyError) as exc:
                raise GenError(f"cannot start from '{init_weights}': {exc}") from None
        compile_model(
            model, config, config.epochs * steps, where.learning_rate(config.learning_rate)
        )
        if resume:
            model.optimizer.build(model.trainable_variables)
            checkpoint.load_resume(model, run_dir)
    spec = tf.TensorSpec((None, None), tf.int32)

    def train_data(start: int):
        """Batches from global step `start`: global ones, or each worker's share."""

        def pipeline(context=None):
            dataset = tf.data.Dataset.from_generator(
                lambda: batches.from_step(start), output_signature=(spec, spec)
            )
            if context is not None:
                per_replica = context.get_per_replica_batch_size(global_batch)
                if per_replica != batches.batch_size:  # several replicas on this worker
                    dataset = dataset.unbatch().batch(per_replica, drop_remainder=True)
            return without_autotune(dataset.prefetch(2))

        if where.name != "multi-worker":
            return pipeline()
        return where.strategy.distribute_datasets_from_function(pipeline)

    score = None  # every worker scores every validation window (no partial batch dropped)
    if len(val_stream) >= 2:
        scorer = loss_scorer(model, config.seq_len, config.batch_size)
        score = lambda: scorer(val_stream)[0]  # noqa: E731

    board = []  # TensorBoard logs of the loss per epoch, in the run folder
    if config.tensorboard and where.chief:
        board = [keras.callbacks.TensorBoard(log_dir=str(run_dir / "tensorboard"))]
    with caught_signals(log) as caught, where.fitting(model):
        hooks = Checkpointer(model, plan, log, caught, steps, where.chief, where.agree)

        class Callback(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                hooks.batch_end(batch, float(logs["loss"]))

            def on_epoch_end(self, epoch, logs=None):
                hooks.epoch_end(epoch, score() if score else None)
                self.model.stop_training = hooks.done

        # A run resumed in the middle of an epoch first finishes that epoch in a `fit` call
        # of its own, then goes on with whole epochs.
        while state.epoch < config.epochs and not hooks.done:
            done_in_epoch = state.step - state.epoch * steps
            if not 0 <= done_in_epoch < steps:
                raise GenError(
                    f"the resume state in '{run_dir}' is inconsistent: step {state.step} "
                    f"after {state.epoch} epochs of {steps} steps"
                )
            model.fit(
                train_data(state.step),
                initial_epoch=state.epoch,
                epochs=state.epoch + 1 if done_in_epoch else config.epochs,
                steps_per_epoch=steps - done_in_epoch,
                callbacks=[Callback(), *board],
                shuffle=False,  # WindowBatches already shuffles
                verbose=1 if sys.stdout.isatty() and where.chief and not quiet() else 0,
            )
