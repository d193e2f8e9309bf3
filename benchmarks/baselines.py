"""The baselines' models, and the workers that serve their timings from processes of their own
(`run.py --keras-worker`, `run.py --torch-worker`): stock Keras under TensorFlow's default
threads, and PyTorch."""

from __future__ import annotations

import json
import sys
import time

from .common import BATCH, EMBED, SEQ, VOCAB, cores


def training_batches(tf):
    """One random batch of (inputs, targets) repeated, as a dataset without tf.data's
    autotuning, like `gen train`'s (`fitting.without_autotune`): the same for gen and stock
    Keras."""
    import numpy as np

    from generator.fitting import without_autotune

    rng = np.random.default_rng(0)
    x = rng.integers(0, VOCAB, (BATCH, SEQ)).astype(np.int32)
    y = rng.integers(0, VOCAB, (BATCH, SEQ)).astype(np.int32)
    return without_autotune(tf.data.Dataset.from_tensors((x, y)).repeat())


def keras_worker() -> None:
    """Serve timings of stock Keras under TensorFlow's default thread settings: training, and
    sampling by a window re-run for every token."""
    import numpy as np

    from generator.tf_setup import import_tensorflow

    tf = import_tensorflow()  # TF_NUM_INTRAOP_THREADS=0 from Worker: TensorFlow's own default
    import keras

    rng = np.random.default_rng(0)
    data = training_batches(tf)
    made = {}
    for line in sys.stdin:
        req = json.loads(line)
        key = (req["layers"], req["units"])
        if key not in made:
            made[key] = keras_stock_model(keras, *key)
            made[key].compile(
                keras.optimizers.Adam(1e-3),
                keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            )
        model = made[key]
        start = time.perf_counter()
        if req["kind"] == "train":
            model.fit(data, steps_per_epoch=req["steps"], verbose=0)
        else:  # the whole window through model.predict for every token, as the Keras example
            window = np.ones((1, SEQ), np.int32)
            for _ in range(req["tokens"]):
                logits = model.predict(window, verbose=0)[0, -1]
                p = np.exp(logits - logits.max())
                nxt = rng.choice(VOCAB, p=p / p.sum())
                window = np.concatenate([window[:, 1:], [[nxt]]], axis=1)
        print(json.dumps({"seconds": time.perf_counter() - start}), flush=True)


def torch_worker() -> None:
    """Serve timing requests, one JSON object per line on stdin, one reply per line."""
    import numpy as np
    import torch

    torch.set_num_threads(cores())
    made = {}
    for line in sys.stdin:
        req = json.loads(line)
        key = (req["kind"], req["layers"], req["units"])
        if key not in made:
            model = torch_model(torch, req["layers"], req["units"])
            rng = np.random.default_rng(0)
            x = torch.from_numpy(rng.integers(0, VOCAB, (BATCH, SEQ))).long()
            y = torch.from_numpy(rng.integers(0, VOCAB, (BATCH, SEQ))).long()
            made[key] = (model, torch.optim.Adam(model.parameters(), 1e-3), x, y)
        model, opt, x, y = made[key]
        start = time.perf_counter()
        if req["kind"] == "train":
            model.train()
            for _ in range(req["steps"]):
                opt.zero_grad()
                logits, _ = model(x)
                loss = torch.nn.functional.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1))
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
        else:  # a step loop carrying the LSTM state, sampling each token
            model.eval()
            with torch.no_grad():
                ids, state = torch.ones((req["batch"], 1), dtype=torch.long), None
                for _ in range(req["tokens"]):
                    logits, state = model(ids, state)
                    ids = torch.multinomial(torch.softmax(logits[:, -1], -1), 1)
        print(json.dumps({"seconds": time.perf_counter() - start}), flush=True)


def keras_stock_model(keras, layers, units):
    """Embedding, stacked stock LSTM layers and a dense layer: gen's model in plain Keras."""
    ids = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(VOCAB, EMBED)(ids)
    for _ in range(layers):
        x = keras.layers.LSTM(units, return_sequences=True)(x)
    return keras.Model(ids, keras.layers.Dense(VOCAB)(x))


def torch_model(torch, layers, units):
    """The same model in PyTorch; `forward` carries the LSTM state for step-by-step sampling."""

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(VOCAB, EMBED)
            self.lstm = torch.nn.LSTM(EMBED, units, layers, batch_first=True)
            self.dense = torch.nn.Linear(units, VOCAB)

        def forward(self, x, state=None):
            out, state = self.lstm(self.embed(x), state)
            return self.dense(out), state

    return Model()
