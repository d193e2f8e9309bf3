"""The CPU training pass (`fused_lstm`): the same values and gradients as Keras' own LSTM layers,
dropout included, and the one `fit` uses on a CPU."""

from __future__ import annotations

import numpy as np
import pytest

from generator import fused_lstm
from generator.model import ModelConfig, build_model, fused_training
from generator.tf_setup import import_tensorflow

tf = import_tensorflow()


def pass_and_gradients(model, ids, targets, fused: bool, graph: bool = False):
    """Logits and the loss gradients of one training pass, every dropout layer's random stream
    reset first, so the stock and the fused pass draw the same masks. `graph`: traced as `fit`
    runs it, with batch and time unknown until it runs."""
    import keras

    for layer in model.layers:
        if hasattr(layer, "seed_generator"):
            layer.seed_generator.state.assign(np.array([11, 0], dtype="uint32"))
    model.fused = fused
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def run(ids, targets):
        with tf.GradientTape() as tape:
            logits = model(ids, training=True)
            value = loss(targets, logits)
        grads = tape.gradient(value, model.trainable_variables)
        return logits, [tf.convert_to_tensor(g) for g in grads]

    if graph:
        spec = tf.TensorSpec((None, None), tf.int32)
        run = tf.function(run, input_signature=(spec, spec))
    logits, grads = run(ids, targets)
    return logits.numpy(), [g.numpy() for g in grads]


@pytest.mark.parametrize(
    "layers, dropout, batch, time, graph",
    [
        (1, 0.0, 3, 9, False),
        (2, 0.0, 3, 9, True),
        (2, 0.5, 3, 13, False),
        (2, 0.5, 1, 13, True),
        (3, 0.3, 3, 1, False),
        (3, 0.3, 3, 9, True),
    ],
)
def test_fused_pass_matches_the_keras_layers(layers, dropout, batch, time, graph):
    import keras

    keras.utils.set_random_seed(layers)
    config = ModelConfig(vocab_size=11, embed_dim=5, units=7, layers=layers, dropout=dropout)
    model = build_model(config)
    rng = np.random.default_rng(layers)
    ids = tf.constant(rng.integers(0, 11, (batch, time)), tf.int32)
    targets = tf.constant(rng.integers(0, 11, (batch, time)), tf.int32)
    stock, stock_grads = pass_and_gradients(model, ids, targets, False, graph)
    mine, my_grads = pass_and_gradients(model, ids, targets, True, graph)
    scale = np.abs(stock).max()  # an untrained model's logits are small
    assert np.abs(mine - stock).max() <= 1e-4 * scale
    assert len(my_grads) == len(stock_grads) == len(model.trainable_variables)
    for variable, got, expected in zip(model.trainable_variables, my_grads, stock_grads):
        scale = np.abs(expected).max()
        # every weight gets a gradient (the recurrent ones none from a single step's zero state)
        assert scale > 0 or (time == 1 and "recurrent" in variable.path), variable.path
        assert np.abs(got - expected).max() <= 1e-4 * scale, variable.path
    if dropout and time > 1:  # the masks between layers count: without one the pass differs
        model.get_layer("dropout_0").rate = 0.0  # by far more than the tolerance above
        undropped, _ = pass_and_gradients(model, ids, targets, True, graph)
        assert np.abs(undropped - mine).max() > 1e-2 * scale


def test_fit_on_a_cpu_trains_through_the_fused_pass(monkeypatch):
    import keras

    calls = []
    original = fused_lstm.stacked_lstm

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(fused_lstm, "stacked_lstm", counted)
    keras.utils.set_random_seed(0)
    config = ModelConfig(vocab_size=5, embed_dim=4, units=16, layers=2, dropout=0.0)
    model = build_model(config)
    assert fused_training(model)
    model.compile(keras.optimizers.Adam(0.02), keras.losses.SparseCategoricalCrossentropy(True))
    ids = np.tile(np.arange(5, dtype=np.int32), (8, 4))  # 0 1 2 3 4 0 1 ...: learnable
    history = model.fit(ids[:, :-1], ids[:, 1:], epochs=30, verbose=0).history["loss"]
    assert calls  # traced through the fused pass
    assert history[-1] < 0.5 * history[0]  # and it learns the cycle

    calls.clear()
    model.fused = False
    model.compile(keras.optimizers.Adam(0.02), keras.losses.SparseCategoricalCrossentropy(True))
    model.fit(ids[:, :-1], ids[:, 1:], epochs=1, verbose=0)
    assert not calls  # switched off: Keras' own layers


def test_cells_it_does_not_implement_keep_the_stock_layers():
    model = build_model(ModelConfig(vocab_size=5, embed_dim=4, units=8, layers=2))
    assert fused_training(model)
    model.get_layer("lstm_1").cell.recurrent_dropout = 0.1
    assert not fused_training(model)


def test_a_gpu_keeps_the_stock_layers_for_cudnn(monkeypatch):
    model = build_model(ModelConfig(vocab_size=5, embed_dim=4, units=8, layers=1))
    assert fused_training(model)
    real = tf.config.list_logical_devices
    monkeypatch.setattr(
        tf.config,
        "list_logical_devices",
        lambda kind=None: ["GPU:0"] if kind == "GPU" else real(kind),
    )
    assert not fused_training(model)


@pytest.mark.parametrize("batch", [1, 3, 4])
@pytest.mark.parametrize("gpu", [False, True])
@pytest.mark.parametrize("graph", [False, True])
def test_the_loss_in_two_halves_is_keras_cross_entropy(batch, gpu, graph, monkeypatch):
    """Values and derivatives equal Keras' loss: on a CPU from the XLA kernels, with a GPU
    from TensorFlow's op; eagerly, and traced as `fit` runs it (batch and time unknown, the
    targets cast to floats by Keras)."""
    import keras

    from generator import loss as loss_module

    real = tf.config.list_logical_devices
    monkeypatch.setattr(
        tf.config,
        "list_logical_devices",
        lambda kind=None: ["GPU:0"] if gpu and kind == "GPU" else real(kind),
    )
    compiled = []
    original = loss_module._compiled_cross_entropy
    monkeypatch.setattr(
        loss_module, "_compiled_cross_entropy", lambda *a: compiled.append(1) or original(*a)
    )
    rng = np.random.default_rng(batch)
    logits = tf.constant(rng.normal(size=(batch, 5, 7)) * 3, tf.float32)
    targets = tf.constant(rng.integers(0, 7, (batch, 5)), tf.float32)
    weights = tf.constant(rng.uniform(size=(batch, 5)), tf.float32)
    keras_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)

    def values_and_grad(loss, targets, logits):
        with tf.GradientTape() as tape:
            tape.watch(logits)
            values = loss(targets, logits)
            total = tf.reduce_sum(values * weights)
        return values, tape.gradient(total, logits)

    results = []
    for loss in (loss_module.token_cross_entropy, keras_loss):
        run = lambda t, x, loss=loss: values_and_grad(loss, t, x)  # noqa: E731
        if graph:
            run = tf.function(
                run,
                input_signature=[
                    tf.TensorSpec((None, None), tf.float32),
                    tf.TensorSpec((None, None, 7), tf.float32),
                ],
            )
        results.append([v.numpy() for v in run(targets, logits)])
    (mine, my_grad), (theirs, their_grad) = results
    assert mine.shape == (batch, 5)
    assert bool(compiled) != gpu
    np.testing.assert_allclose(mine, theirs, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(my_grad, their_grad, rtol=1e-5, atol=1e-7)
