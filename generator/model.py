"""The stacked LSTM: the only module that names Keras layers.

    ids (batch, time) -> Embedding -> [LSTM -> Dropout] x layers -> Dense
        -> logits (batch, time, vocab)

`build_model` makes the training model from a `ModelConfig`; `StepModel` runs the same weights
one token at a time, carrying each layer's (h, c) state, for fast sampling. The LSTM layers keep
Keras' defaults (tanh, sigmoid, no recurrent dropout, not unrolled) so that on a GPU they run on
the cuDNN kernel. On a CPU, a training pass runs the same layers' weights through
`fused_lstm.stacked_lstm`, which is faster there and gives the same values and gradients.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from generator.config import check_range
from generator.errors import GenError

MAX_LAYERS = 64  # deeper stacks of LSTMs do not train without extra machinery
MAX_WIDTH = 65_536  # units or embedding width; what fits in memory is checked separately
MAX_VOCAB = 10_000_000


@dataclass(frozen=True)
class ModelConfig:
    """Constructor arguments of the model; stored in every checkpoint."""

    vocab_size: int  # number of token ids, specials included
    embed_dim: int = 64  # width of the token embedding
    units: int = 256  # LSTM units per layer
    layers: int = 2  # stacked LSTM layers
    dropout: float = 0.2  # dropout after each LSTM layer while training

    def __post_init__(self):
        check_range("vocabulary size", self.vocab_size, 1, MAX_VOCAB)
        check_range("embed-dim", self.embed_dim, 1, MAX_WIDTH)
        check_range("units", self.units, 1, MAX_WIDTH)
        check_range("layers", self.layers, 1, MAX_LAYERS)
        check_range("dropout", self.dropout, 0.0, 0.99)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        """The config stored in a checkpoint; a `GenError` for any setting this version does
        not know (a checkpoint can never add layers, or code, to the model)."""
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise GenError(f"unknown model settings {unknown}")
        return cls(**data)

    def describe(self) -> str:
        """The shape as `gen train` and `gen info` print it."""
        return (
            f"{self.layers} x {self.units} LSTM, embedding {self.embed_dim}, dropout "
            f"{self.dropout}, vocabulary {self.vocab_size}: {self.num_params:,} parameters"
        )

    @property
    def num_params(self) -> int:
        """Trainable parameters: embedding, each LSTM's 4 gates, the output layer."""
        total, width = self.vocab_size * self.embed_dim, self.embed_dim
        for _ in range(self.layers):
            total += 4 * self.units * (width + self.units + 1)
            width = self.units
        return total + width * self.vocab_size + self.vocab_size


def build_model(config: ModelConfig):
    """The training model: int ids (batch, time) -> logits (batch, time, vocab)."""
    import keras

    class GenModel(keras.Model):
        """Keras' layers, with their stacked LSTMs trained by `fused_lstm` on a CPU (unless
        `fused` is set False: then Keras' own LSTM layers train, as on a GPU; set it before
        `compile`, since `fit` keeps the training function it traced first)."""

        fused = True

        def call(self, inputs, training=None, mask=None):
            if training and self.fused and fused_training(self):
                return fused_call(self, config, inputs)
            return super().call(inputs, training=training, mask=mask)

    ids = keras.Input(shape=(None,), dtype="int32", name="ids")
    # unit-scale embeddings, as PyTorch's: Keras' +-0.05 keeps the first steps at the unigram level
    x = keras.layers.Embedding(
        config.vocab_size,
        config.embed_dim,
        embeddings_initializer=keras.initializers.RandomNormal(stddev=1.0),
        name="embed",
    )(ids)
    for i in range(config.layers):
        x = keras.layers.LSTM(config.units, return_sequences=True, name=f"lstm_{i}")(x)
        if config.dropout:
            x = keras.layers.Dropout(config.dropout, name=f"dropout_{i}")(x)
    # float32 logits even under mixed precision: the softmax and loss need the range
    logits = keras.layers.Dense(config.vocab_size, name="logits", dtype="float32")(x)
    return GenModel(ids, logits, name="gen_lstm")


def fused_training(model) -> bool:
    """Whether a training pass runs on `fused_lstm`: on a CPU in float32, with the cells'
    settings it implements (those `build_model` gives). With a GPU the stock layers run, on
    cuDNN's kernel."""
    from generator.tf_setup import gpu_visible

    implemented = all(
        c.activation.__name__ == "tanh"
        and c.recurrent_activation.__name__ == "sigmoid"
        and c.use_bias
        and not c.dropout
        and not c.recurrent_dropout
        and c.compute_dtype == "float32"
        for c in lstm_cells(model)
    )
    return implemented and not gpu_visible()


def lstm_cells(model) -> list:
    """The model's LSTM cells, first layer first."""
    return [layer.cell for layer in model.layers if layer.name.startswith("lstm_")]


def fused_call(model, config: ModelConfig, ids):
    """The model's training pass with the LSTMs run by `fused_lstm.stacked_lstm`: the same
    layers, weights and dropout (each Dropout layer draws its mask as when called itself)."""
    import tensorflow as tf

    from generator.fused_lstm import stacked_lstm
    from generator.tf_setup import batch_halves

    x = model.get_layer("embed")(ids)
    masks = None
    if config.dropout:
        ones = tf.ones((tf.shape(x)[0], tf.shape(x)[1], config.units))
        drop = [model.get_layer(f"dropout_{i}") for i in range(config.layers)]
        masks = [layer(ones, training=True) for layer in drop[:-1]]
    x = stacked_lstm(x, lstm_cells(model), masks)
    if config.dropout:
        x = drop[-1](x, training=True)
    # the output layer in two halves of the batch: two products side by side, one per core
    dense = model.get_layer("logits")
    return tf.concat([dense(half) for (half,) in batch_halves(x)], axis=0)


class StepModel:
    """One step of the trained model: (ids (batch,), states) -> (logits (batch, vocab), states).

    States are a flat list [h_0, c_0, h_1, c_1, ...], each (batch, units). It reads the
    training model's own layers, so it always has their current weights. Calling it runs Keras'
    cells one at a time: the reference that tests hold `prepare()` to. The compiled sampling and
    scoring loops use `prepare()`, which packs the weights once per call.
    """

    def __init__(self, model, config: ModelConfig):
        self.config = config
        self.embed = model.get_layer("embed")
        self.cells = lstm_cells(model)
        self.dense = model.get_layer("logits")

    def zero_states(self, batch):
        import tensorflow as tf

        return [tf.zeros((batch, self.config.units)) for _ in range(2 * self.config.layers)]

    def __call__(self, ids, states):
        x = self.embed(ids)  # (batch, embed_dim)
        new_states = []
        for i, cell in enumerate(self.cells):
            x, (h, c) = cell(x, [states[2 * i], states[2 * i + 1]], training=False)
            new_states += [h, c]
        return self.dense(x), new_states  # (batch, vocab)

    def prepare(self):
        """The same step with its weights packed for a loop of many steps; call it inside the
        compiled function, before the loop, so the packing is done once per call.

        The first layer's input projection of every token is looked up in a (vocab, 4 units)
        table (embedding x kernel + bias) instead of multiplied. Later layers keep their input
        and recurrent products apart, so the recurrent one can run beside the layer below
        (stacking them into one multiply measured slower). Keras' gate order (i, f, candidate,
        o) and activations are kept.
        """
        import tensorflow as tf

        def value(v):
            return tf.convert_to_tensor(v, tf.float32)

        first = self.cells[0]
        table = tf.matmul(value(self.embed.embeddings), value(first.kernel)) + value(first.bias)
        later = [
            (value(c.kernel), value(c.recurrent_kernel), value(c.bias)) for c in self.cells[1:]
        ]
        recurrent0 = value(first.recurrent_kernel)
        dense_w, dense_b = value(self.dense.kernel), value(self.dense.bias)

        def lstm(z, c):
            i, f, g, o = tf.split(z, 4, axis=1)
            c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
            return tf.sigmoid(o) * tf.tanh(c), c

        def step(ids, states):
            h, c = lstm(tf.gather(table, ids) + tf.matmul(states[0], recurrent0), states[1])
            new_states = [h, c]
            for i, (kernel, recurrent, bias) in enumerate(later, 1):
                z = tf.matmul(h, kernel) + (tf.matmul(states[2 * i], recurrent) + bias)
                h, c = lstm(z, states[2 * i + 1])
                new_states += [h, c]
            return tf.matmul(h, dense_w) + dense_b, new_states

        return step
