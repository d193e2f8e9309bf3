"""The weights' moving average (Polyak averaging): the optimiser keeps it beside the weights
it trains, and it is what a run validates and saves.

With the learning rate still high at the end of the schedule (`--lr-floor`), the trained
weights wander about a minimum; their average over the last hundred or so steps sits nearer
to it (BENCHMARKS.md). Training itself always goes on from the trained weights, so a resumed
run, whose resume.h5 holds both, goes on exactly as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


def adam(schedule, config):
    """Keras' Adam at `schedule` with `config.adam_beta2`, clipped to `config.clip_norm`,
    decoupled weight decay `config.weight_decay` (none when it is 0), keeping the weights'
    moving average with momentum `config.ema` (none when it is 0)."""
    import keras

    class Adam(keras.optimizers.Adam):
        def finalize_variable_values(self, var_list):
            # Keras would put the average in place of the trained weights at the end of every
            # `fit` call, and a run resumed in the middle of an epoch calls `fit` twice
            pass

    return Adam(
        schedule,
        beta_2=config.adam_beta2,
        global_clipnorm=config.clip_norm,
        use_ema=config.ema > 0,
        ema_momentum=config.ema or 0.99,
        weight_decay=config.weight_decay or None,
    )


def averages(model) -> list | None:
    """The moving averages of `model`'s trainable weights, in their order; None without."""
    optimizer = getattr(model, "optimizer", None)
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)  # under loss scaling
    if optimizer is None or not getattr(optimizer, "use_ema", False):
        return None
    return getattr(optimizer, "_model_variables_moving_average", None) or None


@contextmanager
def averaged(model) -> Iterator[None]:
    """`model` with its weights' moving averages in place of its trained weights (unchanged
    where it keeps none); the trained weights are back afterwards, bit for bit."""
    moving = averages(model)
    if moving is None:
        yield
        return
    variables = model.trainable_variables
    trained = [v.numpy() for v in variables]
    for variable, average in zip(variables, moving):
        variable.assign(average)
    try:
        yield
    finally:
        for variable, value in zip(variables, trained):
            variable.assign(value)
