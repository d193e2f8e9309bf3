"""The training loop: Keras' `fit` under a distribution strategy, with a `Checkpointer` that
saves after every epoch, every `save_minutes` and on a signal, and stops cleanly.

Batches are a pure function of the seed and the global step (`data.WindowBatches`), the dropout
layers' random state is a model variable, and the optimiser's step count drives the learning-rate
schedule; restoring resume.h5 therefore continues a run exactly where it stood.
"""

from __future__ import annotations

import gc
import sys
import threading
from pathlib import Path

from generator import averaging, data, resume_file
from generator.checkpointer import Checkpointer
from generator.errors import GenError
from generator.loss import loss_scorer, score_batch, scored_loss
from generator.signals import caught_signals
from generator.tf_setup import first_notes_caught


def compile_model(model, config, total_steps: int, peak_rate=None, ignored=()) -> None:
    """Adam with a linear warm-up (`config.warmup_steps`, or a tenth of a short run) to the
    peak learning rate (`config.learning_rate` unless given), cosine decay to
    `config.lr_floor` of it by `total_steps`, global gradient-norm clipping and the weights'
    moving average; targets in `ignored` (control tokens) are not learned."""
    import keras

    warmup = min(config.warmup_steps, total_steps // 10)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0,
        max(1, total_steps - warmup),
        alpha=config.lr_floor,
        warmup_target=peak_rate or config.learning_rate,
        warmup_steps=warmup,
    )
    model.compile(
        optimizer=averaging.adam(schedule, config),
        loss=scored_loss(list(ignored)),
    )


def without_autotune(dataset):
    """`dataset` with tf.data's autotuning off: deleting the iterator at the end of `fit`
    could wait for the autotune thread's next wake-up (BENCHMARKS.md), and gen's pipelines,
    with a fixed prefetch and no parallel calls, have nothing to tune."""
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def _check_layout(state, where) -> None:
    """The data order depends on the global batch and on how the stream is shared out, so a
    run resumes only on as many replicas and workers as it started on."""
    layout = {"replicas": where.replicas, "workers": where.workers}
    before = {k: state.metrics.setdefault(k, v) for k, v in layout.items()}
    if before != layout:
        raise GenError(
            f"this run trained on {before['replicas']} replicas in {before['workers']} "
            f"worker(s), and would now run on {where.replicas} in {where.workers}; resume it "
            "with the same --strategy, devices and workers"
        )


def _model(plan, where, steps: int, resume: bool, init_weights: Path | None):
    """The compiled model under the strategy: new, from other weights, or restored."""
    import keras

    from generator.model import build_model

    config = plan.config
    keras.utils.set_random_seed(config.seed)
    with where.strategy.scope():
        model = build_model(plan.model_config)
        if init_weights is not None:
            try:
                model.load_weights(init_weights)
            except (OSError, ValueError, KeyError) as exc:
                raise GenError(f"cannot start from '{init_weights}': {exc}") from None
        peak = where.learning_rate(config.learning_rate)
        compile_model(model, config, config.epochs * steps, peak, plan.ignored)
        if resume:
            model.optimizer.build(model.trainable_variables)
            resume_file.load_resume(model, plan.run_dir)
    return model


def _dataset(batches: data.WindowBatches, start: int, where, global_batch: int, stop):
    """Batches from global step `start` until `stop` is set: global ones, or each worker's
    share."""
    import tensorflow as tf

    spec = tf.TensorSpec((None, None), tf.int32)

    def pipeline(context=None):
        dataset = tf.data.Dataset.from_generator(
            lambda: batches.from_step(start, stop), output_signature=(spec, spec)
        )
        if context is not None:
            per_replica = context.get_per_replica_batch_size(global_batch)
            if per_replica != batches.batch_size:  # several replicas on this worker
                dataset = dataset.unbatch().batch(per_replica, drop_remainder=True)
        return without_autotune(dataset.prefetch(2))

    if where.name != "multi-worker":
        return pipeline()
    return where.strategy.distribute_datasets_from_function(pipeline)


def _validation(model, plan):
    """A function scoring the validation split with the weights a run saves (their moving
    average); None without one. Every worker scores every validation window."""
    if len(plan.val_ids) < 2:
        return None
    config = plan.config
    scorer = loss_scorer(
        model, config.scored_len, score_batch(config.scored_len, config.batch_size), plan.ignored
    )

    def score() -> float:
        with averaging.averaged(model):
            return scorer(plan.val_ids)[0]

    return score


def fit(plan, log, resume: bool = False, init_weights: Path | None = None) -> None:
    """Train a `train.Plan` from its state (a new run, or one restored from resume.h5 when
    `resume`) to the last epoch or the time budget, under the strategy its config names.
    `init_weights`: start from another run's weights."""
    from generator.distribute import cluster, place

    config, state = plan.config, plan.state
    worker, workers, _ = cluster()
    if workers > 1 and config.strategy in ("multi-worker", "auto"):
        log(f"joining {workers} workers as worker {worker}; this waits until all have started")
    where = place(config.strategy, config.precision)
    _check_layout(state, where)
    global_batch = config.batch_size * where.replicas
    if where.replicas > 1:
        log(
            f"{where.name}: {where.replicas} replicas, global batch {global_batch}, peak "
            f"learning rate {where.learning_rate(config.learning_rate):.3g}"
        )
    shard = (where.worker, where.workers) if where.name == "multi-worker" else (0, 1)
    batches = data.WindowBatches(
        plan.train_ids, config.seq_len, global_batch, plan.aug_maps, config.seed,
        config.epoch_steps, shard,
    )  # fmt: skip
    first_notes_caught()
    model = _model(plan, where, batches.steps_per_epoch, resume, init_weights)
    score = _validation(model, plan)
    stop = threading.Event()  # ends the data generator when training ends, however it ends
    try:
        with caught_signals(log) as caught, where.fitting(model):
            steps = batches.steps_per_epoch
            hooks = Checkpointer(model, plan, log=log, caught=caught, steps=steps, where=where)
            _fit_epochs(
                model, hooks, batches, where=where, global_batch=global_batch, score=score,
                log=log, stop=stop,
            )  # fmt: skip
    except BaseException as exc:
        stop.set()
        release_frames(exc)
        gc.collect()  # frees Keras' data iterator now, while its prefetch thread can finish
        raise
    finally:
        stop.set()


def release_frames(exc: BaseException) -> None:
    """Drop the local variables of the finished frames an exception (and those it was raised
    from) passed through, and of their finished callers. A traceback otherwise keeps Keras'
    data iterator alive until the interpreter shuts down, when deleting it waits for ever on
    a prefetch thread that can no longer run Python."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        tb = exc.__traceback__
        while tb is not None:
            frame = tb.tb_frame
            while frame is not None:
                try:
                    frame.clear()
                except RuntimeError:  # a frame still running: this one, or its callers
                    pass
                frame = frame.f_back
            tb = tb.tb_next
        exc = exc.__cause__ or exc.__context__


def _fit_epochs(model, hooks, batches, *, where, global_batch, score, log, stop) -> None:
    """Keras' `fit` until the last epoch or until `hooks` says stop. A run resumed in the
    middle of an epoch first finishes that epoch in a `fit` call of its own."""
    import keras

    state, config, steps = hooks.state, hooks.config, batches.steps_per_epoch
    board = []  # TensorBoard logs of the loss per epoch, in the run folder
    if config.tensorboard and where.chief:
        board = [keras.callbacks.TensorBoard(log_dir=str(hooks.run_dir / "tensorboard"))]

    class Callback(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            hooks.batch_end(batch, float(logs["loss"]))

        def on_epoch_end(self, epoch, logs=None):
            hooks.epoch_end(epoch, score() if score else None)
            self.model.stop_training = hooks.done

    while state.epoch < config.epochs and not hooks.done:
        done_in_epoch = state.step - state.epoch * steps
        if not 0 <= done_in_epoch < steps:
            raise GenError(
                f"the resume state in '{hooks.run_dir}' is inconsistent: step {state.step} "
                f"after {state.epoch} epochs of {steps} steps"
            )
        model.fit(
            _dataset(batches, state.step, where, global_batch, stop),
            initial_epoch=state.epoch,
            epochs=state.epoch + 1 if done_in_epoch else config.epochs,
            steps_per_epoch=steps - done_in_epoch,
            callbacks=[Callback(), *board],
            shuffle=False,  # WindowBatches already shuffles
            verbose=1 if sys.stdout.isatty() and where.chief and not log.quiet else 0,
        )
