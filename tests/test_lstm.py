"""The fused CPU LSTM gives Keras' LSTM results: outputs, final states and every gradient."""

from __future__ import annotations

import h5py
import keras
import numpy as np
import pytest

from generator.lstm import LSTM
from generator.tf_setup import import_tensorflow

tf = import_tensorflow()


def pair(units, features, seed=0):
    """A fused and a stock Keras LSTM with the same random weights."""
    fused = LSTM(units, return_sequences=True, return_state=True)
    stock = keras.layers.LSTM(units, return_sequences=True, return_state=True)
    for layer in (fused, stock):
        layer.build((None, None, features))
    rng = np.random.default_rng(seed)
    weights = [rng.normal(0, 0.5, w.shape).astype(np.float32) for w in stock.get_weights()]
    fused.set_weights(weights)
    stock.set_weights(weights)
    return fused, stock


def run(layer, x, h0, c0):
    """Outputs, final h and c, and gradients of a loss that weighs all three."""
    with tf.GradientTape() as tape:
        tape.watch([x, h0, c0])
        out, h, c = layer(x, initial_state=[h0, c0])
        weights = tf.sin(tf.range(out.shape[-1], dtype=tf.float32))
        loss = tf.reduce_sum(out * weights) + tf.reduce_sum(h**2) + tf.reduce_sum(c * 0.3)
    grads = tape.gradient(loss, [x, h0, c0, *layer.trainable_weights])
    return [out, h, c, *grads]


@pytest.mark.parametrize("batch,steps,features,units", [(3, 7, 5, 4), (2, 1, 3, 6), (4, 20, 8, 16)])
def test_fused_lstm_matches_keras(batch, steps, features, units):
    rng = np.random.default_rng(1)
    x = tf.constant(rng.normal(size=(batch, steps, features)).astype(np.float32))
    h0 = tf.constant(rng.normal(size=(batch, units)).astype(np.float32))
    c0 = tf.constant(rng.normal(size=(batch, units)).astype(np.float32))
    fused, stock = pair(units, features)
    assert fused._fused_ok(x, None, True)  # the fused path is the one under test
    for got, want in zip(run(fused, x, h0, c0), run(stock, x, h0, c0)):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-4, atol=1e-5)


def test_unknown_length_and_masks_fall_back_to_keras():
    fused, _ = pair(4, 3)
    x = tf.zeros((2, 5, 3))
    assert not fused._fused_ok(x, tf.ones((2, 5), tf.bool), False)
    assert not fused._fused_ok(keras.Input((None, 3)), None, False)


def test_saved_weights_are_laid_out_as_keras_lstm_weights(tmp_path):
    from generator.model import ModelConfig, build_model

    model = build_model(ModelConfig(vocab_size=20, embed_dim=4, units=8, layers=2))
    model.save_weights(tmp_path / "w.weights.h5")
    with h5py.File(tmp_path / "w.weights.h5") as f:
        shapes = [
            f[f"layers/{name}/cell/vars/{i}"].shape for name in ("lstm", "lstm_1") for i in range(3)
        ]
    assert shapes == [(4, 32), (8, 32), (32,), (8, 32), (8, 32), (32,)]
