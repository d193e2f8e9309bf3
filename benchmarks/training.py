"""Training speed: gen's fused LSTM pass and Keras' own layers in gen's process, stock Keras and
PyTorch in processes of their own, all on the same batch."""

from __future__ import annotations

from .baselines import training_batches
from .common import BATCH, EMBED, SEQ, VOCAB, log, rounds


def train_flops_per_token(layers: int, units: int) -> float:
    """Multiply-adds x 2 of the forward pass, times 3 for forward + backward."""
    lstm = sum(8 * units * ((EMBED if i == 0 else units) + units) for i in range(layers))
    return 3 * (lstm + 2 * units * VOCAB)


def bench_training(tf, args) -> list[dict]:
    from generator.config import TrainConfig
    from generator.fitting import compile_model
    from generator.model import ModelConfig, build_model

    torch = args.torch
    data = training_batches(tf)
    steps = args.train_steps
    rows = []
    for layers, units in args.sizes:
        log(f"training {layers} x {units} ...")
        contenders = {}

        for name, fused in (("gen", True), ("gen, Keras' LSTM layers", False)):
            gen = build_model(ModelConfig(VOCAB, EMBED, units, layers, dropout=0.0))
            gen.fused = fused  # off: the stock layers, in gen's process with gen's threads
            compile_model(gen, TrainConfig(learning_rate=1e-3), 10**6)
            contenders[name] = lambda m=gen: m.fit(data, steps_per_epoch=steps, verbose=0)

        contenders["keras"] = lambda size=(layers, units): args.keras.seconds(
            kind="train", layers=size[0], units=size[1], steps=steps
        )

        if torch:
            contenders["torch"] = lambda size=(layers, units): torch.seconds(
                kind="train", layers=size[0], units=size[1], steps=steps
            )
        seconds = rounds(contenders, args.repeats)
        flops = train_flops_per_token(layers, units)
        for name, sec in seconds.items():
            tps = steps * BATCH * SEQ / sec
            rows.append(
                {
                    "size": f"{layers}x{units}",
                    "trainer": name,
                    "tokens_per_s": tps,
                    "gflops": tps * flops / 1e9,
                    "peak_share": tps * flops / 1e9 / args.peak,
                }
            )
        base = {r["trainer"]: r["tokens_per_s"] for r in rows if r["size"] == f"{layers}x{units}"}
        for r in rows:
            if r["size"] == f"{layers}x{units}":
                r["gen_ratio"] = base["gen"] / r["tokens_per_s"]
    return rows
