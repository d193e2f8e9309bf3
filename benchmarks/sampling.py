"""Sampling speed: gen's sampler at 1 and 16 streams, plain and with the music grammar, against
a floor (its matrix multiplies alone), a ceiling (its products timed alone and shared perfectly
among the cores), PyTorch's step loop and stock Keras re-running a window for every token."""

from __future__ import annotations

from .common import EMBED, VOCAB, cores, log, rounds


def matmul_floor(tf, step, batch: int, n_tokens: int):
    """`n_tokens` steps of the sampler's matrix multiplies and nothing else, in the sampler's
    order, each step waiting on the one before as sampling does: gen's step without its other
    work. (The first layer's input projection is a table lookup in the sampler, so it is left
    out here too.)"""
    units = step.config.units
    first, later, dense = step.cells[0], step.cells[1:], step.dense

    @tf.function
    def loop():
        hs = [tf.zeros((batch, units)) for _ in step.cells]
        logits = tf.zeros((batch, VOCAB))
        t = tf.constant(0)
        while t < n_tokens:
            new = [tf.matmul(hs[0] + logits[:, :1], first.recurrent_kernel)[:, :units]]
            for h, cell in zip(hs[1:], later):
                z = tf.matmul(new[-1], cell.kernel) + tf.matmul(h, cell.recurrent_kernel)
                new.append(z[:, :units])
            logits = tf.matmul(new[-1], dense.kernel)
            hs = new
            t += 1
        return [logits] + hs

    return lambda: [v.numpy() for v in loop()]


def product_chain(tf, weight, batch: int, n_tokens: int):
    """`n_tokens` products of a (batch, rows) input by one of the sampler's weights, each
    waiting on the one before: what that product costs per step, on the threads of one op."""
    weight = tf.convert_to_tensor(weight)

    @tf.function
    def loop():
        x = tf.zeros((batch, weight.shape[0]))
        t = tf.constant(0)
        while t < n_tokens:
            x = x + tf.matmul(x, weight)[:, :1]
            t += 1
        return x

    return lambda: loop().numpy()


def products_ceiling(
    seconds: list[float], batch: int, n_tokens: int, threads: int, cores: int
) -> float:
    """Tokens/s of `batch` streams if a step were its products alone (each product's time in
    `seconds`, from `product_chain`), shared perfectly among the ops that run side by side
    (`cores` / `threads` per op), with no other work and no waiting: a sampler of this model
    built from these products should not beat it on this machine. (Each chain's time also
    holds the slice and addition that link its products, a few percent of it.)"""
    step = sum(seconds) / n_tokens * threads / cores
    return batch / step


def sampling_contenders(tf, args, layers: int, units: int) -> tuple[dict, dict, list]:
    """The contenders at one model size, in the order they take turns; the tokens each one's
    call draws; and the keys of the product chains (timed for the ceiling, not reported)."""
    import numpy as np

    from generator.corpora.midi import MidiCorpus
    from generator.draw import DrawLoop, Knobs
    from generator.model import ModelConfig, StepModel, build_model
    from generator.tokenmaps import grammar_tables
    from generator.vocab import Vocab

    torch = args.torch
    n_tokens = args.sample_tokens
    config = ModelConfig(VOCAB, EMBED, units, layers, dropout=0.0)
    step = StepModel(build_model(config), config)
    plain = DrawLoop(step, VOCAB, banned=[0, 1])
    tokens = (["<unk>", "<start>"] + MidiCorpus().base_vocabulary())[:VOCAB]
    tokens += [f"x{i}" for i in range(VOCAB - len(tokens))]
    music = DrawLoop(step, VOCAB, [0, 1], grammar_tables(MidiCorpus(), Vocab(tokens)))
    knobs = Knobs(n_tokens, np.zeros((3, 1), np.float32), np.inf, 1.0, 0, 1.0, 1)

    def gen_draw(draw, batch, step=step, knobs=knobs):
        states = step.zero_states(batch)
        primer = np.ones((batch, 1), np.int32)
        return lambda: draw(primer, states, knobs, False)

    contenders = {
        ("gen", 1): gen_draw(plain, 1),
        ("gen", 16): gen_draw(plain, 16),
        ("gen, music grammar", 1): gen_draw(music, 1),
        ("gen, music grammar", 16): gen_draw(music, 16),
        ("floor: matrix multiplies alone", 1): matmul_floor(tf, step, 1, n_tokens),
        ("floor: matrix multiplies alone", 16): matmul_floor(tf, step, 16, n_tokens),
    }
    weights = [step.cells[0].recurrent_kernel, step.dense.kernel]
    weights += [w for cell in step.cells[1:] for w in (cell.kernel, cell.recurrent_kernel)]
    products = [(f"product {i}", 16) for i in range(len(weights))]
    for key, weight in zip(products, weights):
        contenders[key] = product_chain(tf, weight, 16, n_tokens)
    per_call = {key: n_tokens * key[1] for key in contenders}

    if torch:
        for batch in (1, 16):
            contenders[("torch step loop", batch)] = lambda b=batch, size=(layers, units): (
                torch.seconds(
                    kind="sample", layers=size[0], units=size[1], batch=b, tokens=n_tokens
                )
            )
            per_call[("torch step loop", batch)] = n_tokens * batch

    contenders[("keras window per token", 1)] = lambda size=(layers, units): args.keras.seconds(
        kind="window", layers=size[0], units=size[1], tokens=args.window_tokens
    )
    per_call[("keras window per token", 1)] = args.window_tokens
    return contenders, per_call, products


def bench_sampling(tf, args) -> list[dict]:
    """Tokens/s of every contender at each model size, and each one's ratio to gen's 1 stream."""
    rows = []
    n_tokens = args.sample_tokens
    threads = tf.config.threading.get_intra_op_parallelism_threads() or cores()
    for layers, units in args.sizes:
        log(f"sampling {layers} x {units} ...")
        contenders, per_call, products = sampling_contenders(tf, args, layers, units)
        seconds = rounds(contenders, args.repeats)
        chains = [seconds.pop(key) for key in products]
        ceiling = products_ceiling(chains, 16, n_tokens, threads, cores())
        size_rows = [
            {
                "size": f"{layers}x{units}",
                "sampler": name,
                "streams": batch,
                "tokens_per_s": per_call[(name, batch)] / sec,
            }
            for (name, batch), sec in seconds.items()
        ]
        size_rows.append(
            {
                "size": f"{layers}x{units}",
                "sampler": "ceiling: products alone, all cores busy",
                "streams": 16,
                "tokens_per_s": ceiling,
            }
        )
        gen_one = next(
            r["tokens_per_s"] for r in size_rows if r["sampler"] == "gen" and r["streams"] == 1
        )
        for r in size_rows:
            r["gen_1_stream_ratio"] = gen_one / r["tokens_per_s"]
        rows += size_rows
    return rows
