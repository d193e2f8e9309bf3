"""The weights' moving average: what a run validates and saves, while training goes on from
the trained weights."""

from types import SimpleNamespace

import numpy as np
import pytest
from conftest import run, scale_corpus, tiny


def test_the_average_has_the_known_weights_and_the_trained_ones_come_back():
    import keras

    from generator import averaging

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    config = SimpleNamespace(clip_norm=1e6, ema=0.5, adam_beta2=0.999, weight_decay=0.0)
    model.compile(optimizer=averaging.adam(0.1, config), loss="mse")
    x, y = np.array([[1.0, 2.0]], "float32"), np.array([[3.0]], "float32")
    after = []  # the trained weights after each of three steps
    for _ in range(3):
        model.train_on_batch(x, y)
        after.append([v.numpy() for v in model.trainable_variables])
    with averaging.averaged(model):
        inside = [v.numpy() for v in model.trainable_variables]
    for i, weights in enumerate(inside):
        # momentum 0.5 from the first step's weights: (w1 / 2 + w2 / 2) / 2 + w3 / 2
        expected = 0.25 * after[0][i] + 0.25 * after[1][i] + 0.5 * after[2][i]
        np.testing.assert_allclose(weights, expected, rtol=1e-6)
        assert not np.allclose(weights, after[2][i])
        assert np.array_equal(model.trainable_variables[i].numpy(), after[2][i])


def test_without_an_average_the_weights_are_left_alone():
    import keras

    from generator import averaging

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    config = SimpleNamespace(clip_norm=1.0, ema=0.0, adam_beta2=0.999, weight_decay=0.0)
    model.compile(optimizer=averaging.adam(0.1, config), loss="mse")
    model.train_on_batch(np.ones((1, 2), "float32"), np.ones((1, 1), "float32"))
    before = [v.numpy() for v in model.trainable_variables]
    with averaging.averaged(model):
        assert all(np.array_equal(v.numpy(), w) for v, w in zip(model.trainable_variables, before))


def test_weight_decay_shrinks_a_weight_whose_gradient_is_zero_by_the_rate_times_the_decay():
    import keras

    from generator import averaging

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.layers[0].set_weights([np.array([[2.0], [-4.0]], "float32"), np.zeros(1, "float32")])
    config = SimpleNamespace(clip_norm=1e6, ema=0.0, adam_beta2=0.999, weight_decay=0.5)
    model.compile(optimizer=averaging.adam(0.1, config), loss="mse")
    # a zero input leaves the kernel's gradient at zero: only the decay moves it
    model.train_on_batch(np.zeros((1, 2), "float32"), np.ones((1, 1), "float32"))
    np.testing.assert_allclose(model.layers[0].kernel.numpy(), [[1.9], [-3.8]], rtol=1e-6)


def _stored(run_dir):
    """The run's saved last weights; resume.h5's trained weights and weight averages."""
    import h5py

    from generator.checkpoint import load_checkpoint

    model = load_checkpoint(run_dir).load_model("last")
    saved = [v.numpy() for v in model.trainable_variables]
    with h5py.File(run_dir / "resume.h5") as f:
        trained = [d[()] for d in f["model"].values()]
        averages = [d[()] for d in f["optimizer"].values() if d.attrs["path"].endswith("_average")]
    return saved, trained, averages


def _among(array, arrays) -> bool:
    return any(a.shape == array.shape and np.array_equal(a, array) for a in arrays)


@pytest.mark.parametrize("ema", ["0.9", "0"])
def test_a_run_saves_the_average_and_resumes_from_the_trained_weights(tmp_path, ema):
    corpus = scale_corpus(tmp_path / "midi", files=4)
    root = tmp_path / "checkpoints"
    args = ("--path", corpus, "--checkpoint-dir", root, "--run", "r", "--ema", ema)
    result = run("train", *args, *tiny(batch_size=2))  # a few steps: the first sets the average
    assert result.exit_code == 0, result.output
    saved, trained, averages = _stored(root / "r")
    assert len(averages) == (len(saved) if ema != "0" else 0)
    for weights in saved:  # the average where there is one, else the trained weights
        assert _among(weights, averages) == (ema != "0")
        assert _among(weights, trained) == (ema == "0")
