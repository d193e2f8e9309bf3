"""Speed benchmark: training, sampling, encoding, start-up and memory, each against baselines
measured in the same run.

    pip install -e '.[bench]'            # adds PyTorch for its rows (skipped if absent)
    python benchmarks/run.py             # about 15 minutes on 2 CPU cores
    python benchmarks/run.py --quick     # small sizes, a minute: checks that it all runs
    python benchmarks/run.py --only train,sample --json out.json

It prints one table per section and writes everything, with a description of the machine, as
JSON (default benchmarks/results/<date>-<host>.json). Every figure is the fastest of several
rounds, and the contenders of a section run in turn within each round, so a busy machine slows
them alike. Ratios are gen's figure over the baseline's: above 1 is gen faster.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZES = [(2, 256), (3, 512)]  # (layers, units)
VOCAB, EMBED, BATCH, SEQ = 400, 64, 64, 128


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# -- the machine ----------------------------------------------------------------------------
def cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def machine(tf) -> dict:
    cpu = ""
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        cpu = platform.processor()
    try:
        from importlib.metadata import version

        torch_version = version("torch")
    except Exception:  # not installed
        torch_version = None
    gpus = [
        tf.config.experimental.get_device_details(d).get("device_name", d.name)
        for d in tf.config.list_physical_devices("GPU")
    ]
    import keras

    return {
        "cores": cores(),
        "cpu": cpu,
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "torch": torch_version,
        "gpu": gpus or None,
        "tf_threads_per_op": tf.config.threading.get_intra_op_parallelism_threads() or "default",
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }


def matmul_peak(n: int) -> float:
    """GFLOP/s of a float32 n x n matrix multiply (best of several), every core on the one
    multiply: measured in a process of its own with TensorFlow's default threads."""
    env = {**os.environ, "TF_NUM_INTRAOP_THREADS": "0"}
    out = subprocess.run(
        [sys.executable, __file__, "--matmul-peak", str(n)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.split()[-1])


def matmul_peak_worker(n: int) -> None:
    from generator.tf_setup import import_tensorflow

    tf = import_tensorflow()
    a = tf.random.normal((n, n))
    b = tf.random.normal((n, n))
    mm = tf.function(lambda a, b: tf.matmul(a, b))
    mm(a, b).numpy()
    best = 0.0
    for _ in range(10):
        start = time.perf_counter()
        mm(a, b).numpy()
        best = max(best, 2 * n**3 / (time.perf_counter() - start) / 1e9)
    print(best)


def rounds(contenders: dict, repeats: int) -> dict:
    """Seconds per call of each contender: the fastest of `repeats` calls, made in turn after
    one warm-up call each. On a shared machine noise only ever slows a call down, so the
    fastest call is the closest to what the code can do."""
    for run in contenders.values():
        run()
    times = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, run in contenders.items():
            time.sleep(0.5)  # let the previous contender's spinning worker threads go idle
            start = time.perf_counter()
            own = run()  # a contender in another process reports its own time
            times[name].append(own if isinstance(own, float) else time.perf_counter() - start)
    return {name: min(t) for name, t in times.items()}


class Worker:
    """A contender in a process of its own (`run.py FLAG`), timed there and driven here, so its
    rounds still alternate with gen's: PyTorch (two libraries' thread pools in one process slow
    each other down), and stock Keras with TensorFlow's default threads."""

    def __init__(self, flag: str, needs: str, env: dict | None = None):
        import importlib.util

        self.proc = None
        if importlib.util.find_spec(needs) is None:
            log(f"{needs} is not installed (pip install -e '.[bench]'): its rows are skipped")
            return
        self.proc = subprocess.Popen(
            [sys.executable, __file__, flag],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )

    def __bool__(self):
        return self.proc is not None

    def seconds(self, **request) -> float:
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        reply = self.proc.stdout.readline()
        if not reply:
            raise RuntimeError("a benchmark worker process died")
        return json.loads(reply)["seconds"]

    def close(self):
        if self.proc is not None:
            self.proc.stdin.close()
            self.proc.wait()


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


def train_flops_per_token(layers: int, units: int) -> float:
    """Multiply-adds x 2 of the forward pass, times 3 for forward + backward."""
    lstm = sum(8 * units * ((EMBED if i == 0 else units) + units) for i in range(layers))
    return 3 * (lstm + 2 * units * VOCAB)


# -- training -------------------------------------------------------------------------------
def keras_stock_model(keras, layers, units):
    ids = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(VOCAB, EMBED)(ids)
    for _ in range(layers):
        x = keras.layers.LSTM(units, return_sequences=True)(x)
    return keras.Model(ids, keras.layers.Dense(VOCAB)(x))


def torch_model(torch, layers, units):
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


# -- sampling -------------------------------------------------------------------------------
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


def products_ceiling(tf, seconds: list[float], batch: int, n_tokens: int) -> float:
    """Tokens/s of `batch` streams if a step were its products alone (each product's time in
    `seconds`, from `product_chain`), shared perfectly among the ops that run side by side
    (cores / threads per op), with no other work and no waiting: a sampler of this model
    built from these products should not beat it on this machine. (Each chain's time also
    holds the slice and addition that link its products, a few percent of it.)"""
    threads = tf.config.threading.get_intra_op_parallelism_threads() or cores()
    step = sum(seconds) / n_tokens * threads / cores()
    return batch / step


def bench_sampling(tf, args) -> list[dict]:
    import numpy as np

    from generator.corpora.midi import MidiCorpus
    from generator.draw import DrawLoop, Knobs
    from generator.model import ModelConfig, StepModel, build_model
    from generator.tokenmaps import grammar_tables
    from generator.vocab import Vocab

    torch = args.torch
    rows = []
    n_tokens = args.sample_tokens
    for layers, units in args.sizes:
        log(f"sampling {layers} x {units} ...")
        config = ModelConfig(VOCAB, EMBED, units, layers, dropout=0.0)
        step = StepModel(build_model(config), config)
        plain = DrawLoop(step, VOCAB, banned=[0, 1])
        tokens = (["<unk>", "<start>"] + MidiCorpus().base_vocabulary())[:VOCAB]
        tokens += [f"x{i}" for i in range(VOCAB - len(tokens))]
        music = DrawLoop(step, VOCAB, [0, 1], grammar_tables(MidiCorpus(), Vocab(tokens)))
        knobs = Knobs(n_tokens, np.zeros((1, 1), np.float32), np.inf, 1.0, 0, 1.0, 1)

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

        seconds = rounds(contenders, args.repeats)
        ceiling = products_ceiling(tf, [seconds.pop(key) for key in products], 16, n_tokens)
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


# -- encoding -------------------------------------------------------------------------------
def synthetic_midi(folder: Path, files: int, seed: int = 0) -> list[Path]:
    """Type-1 MIDI files of 4 tracks (piano, bass, strings, drums) of random notes, ~30 s."""
    import mido

    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(files):
        mid = mido.MidiFile(type=1, ticks_per_beat=480)
        tempo = mido.MidiTrack(
            [mido.MetaMessage("set_tempo", tempo=rng.choice([400_000, 500_000, 600_000]))]
        )
        mid.tracks.append(tempo)
        for channel, low, high in ((0, 60, 84), (1, 36, 55), (2, 55, 79), (9, 35, 51)):
            track = mido.MidiTrack()
            events, tick = [], 0
            for _ in range(rng.randint(40, 80)):
                tick += rng.choice([0, 120, 240, 480])
                length = rng.choice([120, 240, 480, 960])
                pitch = rng.randint(low, high)
                events.append((tick, 1, pitch, rng.randint(40, 110)))
                events.append((tick + length, 0, pitch, 0))
            events.sort()
            last = 0
            for t, on, pitch, vel in events:
                kind = "note_on" if on else "note_off"
                track.append(
                    mido.Message(kind, note=pitch, velocity=vel, channel=channel, time=t - last)
                )
                last = t
            mid.tracks.append(track)
        path = folder / f"synthetic{n:04d}.mid"
        mid.save(path)
        paths.append(path)
    return paths


def bench_encoding(args, work: Path) -> list[dict]:
    """Files into a token store, as `gen train` does: first run (every file encoded, in
    parallel, then the shards written) and cached run (the store opened as it is)."""
    from generator.cache import cache_dir
    from generator.corpora import bach
    from generator.corpora.midi import MidiCorpus
    from generator.progress import Reporter
    from generator.tokenstore import TokenStore, build

    plugin = MidiCorpus()
    log("encoding: the Bach chorales as MIDI (converted once into the cache) ...")
    chorales = bach.chorale_midi_files(cache_dir(), Reporter(quiet=True), args.chorales)
    synthetic = synthetic_midi(work / "synthetic", args.synthetic_files)
    rows = []
    saved = os.environ.get("GEN_CACHE_DIR")
    for name, files in (("Bach chorales", chorales), ("synthetic 4-track", synthetic)):
        os.environ["GEN_CACHE_DIR"] = str(work / f"cache-{len(rows)}")  # an empty cache
        folder = work / f"store-{len(rows)}"
        for run in ("first run", "cached"):
            start = time.perf_counter()
            store = TokenStore(build(plugin, files, folder, log=Reporter(quiet=True))[0])
            events = sum(store.counts().values())
            sec = time.perf_counter() - start
            rows.append(
                {
                    "corpus": name,
                    "run": run,
                    "files": len(files),
                    "events": events,
                    "seconds": sec,
                    "files_per_s": len(files) / sec,
                    "events_per_s": events / sec,
                }
            )
    if saved is None:
        os.environ.pop("GEN_CACHE_DIR", None)
    else:
        os.environ["GEN_CACHE_DIR"] = saved
    return rows


# -- start-up and memory ----------------------------------------------------------------------
def gen_command() -> list[str]:
    return [sys.executable, "-m", "generator"]


def timed(cmd, env=None, until: str | None = None) -> float:
    """Seconds until `cmd` exits, or until a line of its output starts with `until`."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    for line in proc.stdout:
        if until and line.startswith(until):
            elapsed = time.perf_counter() - start
            proc.kill()
            proc.wait()
            return elapsed
    proc.wait()
    if proc.returncode:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed with status {proc.returncode}")
    return time.perf_counter() - start


def bench_startup(args, work: Path, env: dict) -> list[dict]:
    from generator.cache import cache_dir
    from generator.corpora import bach
    from generator.progress import Reporter

    log("start-up ...")
    ckpt = work / "checkpoints"
    corpus = bach.chorale_midi_files(cache_dir(), Reporter(quiet=True), args.chorales)
    folder = work / "chorales"
    folder.mkdir(exist_ok=True)
    for f in corpus:
        target = folder / f.name
        if not target.exists():
            target.symlink_to(f)
    tiny = ["--layers", "1", "--units", "32", "--epochs", "1", "--epoch-steps", "2"]
    subprocess.run(
        [
            *gen_command(),
            "train",
            "--path",
            folder,
            "--run",
            "tiny",
            "--checkpoint-dir",
            ckpt,
            *tiny,
        ],
        check=True,
        capture_output=True,
        env=env,
    )
    out = work / "first.mid"
    cases = {
        "gen --help": ([*gen_command(), "--help"], None),
        "gen sample, 1 token": (
            [
                *gen_command(),
                "sample",
                "--checkpoint",
                ckpt / "tiny",
                "--out",
                out,
                "--length",
                "1",
                "--force",
                "--no-report",
            ],
            None,
        ),
        "gen train, cached corpus: corpus loaded": (
            [*gen_command(), "train", "--path", folder, "--checkpoint-dir", ckpt, *tiny],
            "training on",
        ),
        "gen train, cached corpus: first step, validation and checkpoint done": (
            [*gen_command(), "train", "--path", folder, "--checkpoint-dir", ckpt, *tiny[:-1], "1"],
            "epoch 1:",
        ),
    }
    rows = []
    for name, (cmd, until) in cases.items():
        times = [timed(cmd, env, until) for _ in range(args.repeats)]
        rows.append({"command": name, "seconds": min(times)})
    return rows


PEAK = """
import atexit, sys, threading, time

def status(field):
    with open("/proc/self/status") as lines:
        return int(next(line.split()[1] for line in lines if line.startswith(field)))

# RssAnon: the memory the process allocates itself. VmHWM, the peak of all resident pages,
# also counts the token store's file pages that its memory map has touched: clean page cache
# the kernel takes back when it needs the memory. The kernel keeps no peak of RssAnon, so a
# thread samples it.
anon = [0]

def sample():
    while True:
        anon[0] = max(anon[0], status("RssAnon"))
        time.sleep(0.01)

def peak():  # this process's own figures (ru_maxrss counts the parent's too)
    print("PEAK_KB", status("VmHWM"), "ANON_KB", max(anon[0], status("RssAnon")), file=sys.stderr)

threading.Thread(target=sample, daemon=True).start()
atexit.register(peak)
from generator.cli import cli
cli(sys.argv[1:], prog_name="gen")
"""


def bench_memory(args, work: Path, env: dict) -> list[dict]:
    """Peak memory of `gen train --cache` on a token store of 1 and of 50 units of text
    (a unit is `args.mem_tokens` characters): it must not grow with the corpus."""
    log("peak memory ...")
    rng = random.Random(0)
    words = "the of and to in his with her that my thy love sweet night day heart eyes".split()
    rows = []
    for scale in (1, args.mem_scale):
        folder, store = work / f"text-x{scale}", work / f"store-x{scale}"
        folder.mkdir(exist_ok=True)
        for n in range(scale):  # one file per unit, each different
            text, size = [], 0
            while size < args.mem_tokens:
                line = " ".join(rng.choices(words, k=8))
                text.append(line)
                size += len(line) + 1
            (folder / f"part{n:03d}.txt").write_text("\n".join(text) + "\n")
        start = time.perf_counter()
        encode = [*gen_command(), "encode", "--corpus", "text", "--path", folder, "--out", store]
        subprocess.run(list(map(str, encode)), capture_output=True, text=True, env=env, check=True)
        encode_seconds = time.perf_counter() - start
        cmd = [
            *(sys.executable, "-c", PEAK, "train", "--cache", store),
            *("--checkpoint-dir", work / "mem-checkpoints", "--layers", "1", "--units", "64"),
            *("--epochs", "1", "--epoch-steps", "20", "--batch-size", "64"),
        ]
        result = subprocess.run(list(map(str, cmd)), capture_output=True, text=True, env=env)
        if result.returncode:
            raise RuntimeError(result.stderr[-2000:])
        figures = result.stderr.rsplit("PEAK_KB", 1)[1].split()
        peak, anon = int(figures[0]) * 1024, int(figures[2]) * 1024
        size = sum(p.stat().st_size for p in folder.iterdir())
        rows.append(
            {
                "tokens_m": size / 1e6,
                "encode_s": encode_seconds,
                "peak_mb": peak / 1e6,
                "anon_mb": anon / 1e6,
            }
        )
    rows[1]["ratio_to_small"] = rows[1]["anon_mb"] / rows[0]["anon_mb"]
    return rows


# -- report ---------------------------------------------------------------------------------
def table(title: str, rows: list[dict], columns: list[tuple[str, str, str]]) -> str:
    """A Markdown table: columns are (key, heading, format)."""
    lines = [f"### {title}", "", "| " + " | ".join(h for _, h, _ in columns) + " |"]
    lines.append("|" + "|".join(" --- " for _ in columns) + "|")
    for r in rows:
        cells = [format(r[k], f) if k in r and r[k] is not None else "" for k, _, f in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# (section, JSON key, table title, columns: (key, heading, format))
SECTIONS = [
    ("train", "training", f"Training, batch {BATCH}, sequence {SEQ}, vocabulary {VOCAB}", [
        ("size", "size", ""), ("trainer", "trainer", ""), ("tokens_per_s", "tokens/s", ",.0f"),
        ("gflops", "GFLOP/s", ".0f"), ("peak_share", "of matmul peak", ".0%"),
        ("gen_ratio", "gen / this", ".2f"),
    ]),
    ("sample", "sampling", "Sampling (temperature 1, no top-k/top-p unless named)", [
        ("size", "size", ""), ("sampler", "sampler", ""), ("streams", "streams", "d"),
        ("tokens_per_s", "tokens/s", ",.0f"),
        ("gen_1_stream_ratio", "gen 1 stream / this", ".2f"),
    ]),
    ("encode", "encoding", "Encoding MIDI (worker processes on all cores; token cache)", [
        ("corpus", "corpus", ""), ("run", "run", ""), ("files", "files", "d"),
        ("events", "events", ",d"), ("seconds", "s", ".2f"), ("files_per_s", "files/s", ",.0f"),
        ("events_per_s", "events/s", ",.0f"),
    ]),
    ("startup", "startup", "Start-up (fastest wall time)", [
        ("command", "command", ""), ("seconds", "s", ".2f"),
    ]),
    ("memory", "memory", "Peak memory of gen train --cache (1 x 64, 20 steps)", [
        ("tokens_m", "corpus, M tokens", ".2f"), ("encode_s", "gen encode s", ".1f"),
        ("peak_mb", "peak RSS MB", ".0f"), ("anon_mb", "peak own MB", ".0f"),
        ("ratio_to_small", "own x small", ".2f"),
    ]),
]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: check that it runs")
    parser.add_argument("--only", default="train,sample,encode,startup,memory")
    parser.add_argument("--json", type=Path, help="where to write the results")
    parser.add_argument("--repeats", type=int, help="rounds per figure (default 5, quick 2)")
    args = parser.parse_args()
    sections = set(args.only.split(","))
    args.sizes = [(1, 32)] if args.quick else SIZES
    args.repeats = args.repeats or (2 if args.quick else 5)
    args.train_steps = 2 if args.quick else 4
    args.sample_tokens = 50 if args.quick else 1000
    args.window_tokens = 3 if args.quick else 20
    args.chorales = 8 if args.quick else None
    args.synthetic_files = 20 if args.quick else 300
    args.mem_tokens = 20_000 if args.quick else 1_000_000  # characters per unit of text
    args.mem_scale = 5 if args.quick else 50

    from generator.tf_setup import import_tensorflow

    tf = import_tensorflow()
    info = machine(tf)
    args.peak = matmul_peak(512 if args.quick else 2048)
    info["matmul_peak_gflops"] = args.peak
    results = {"machine": info}
    report = [
        f"machine: {info['cores']} cores, {info['cpu']}, TensorFlow {info['tensorflow']}, "
        f"Keras {info['keras']}, PyTorch {info['torch'] or 'not installed'}, "
        f"GPU {info['gpu'] or 'none'}; TensorFlow threads per op in gen's process: "
        f"{info['tf_threads_per_op']}; float32 matmul peak {args.peak:.0f} GFLOP/s\n"
    ]
    args.torch = Worker("--torch-worker", "torch") if sections & {"train", "sample"} else None
    args.keras = (
        Worker("--keras-worker", "keras", {"TF_NUM_INTRAOP_THREADS": "0"})
        if sections & {"train", "sample"}
        else None
    )
    with tempfile.TemporaryDirectory(prefix="gen-bench-") as tmp:
        work = Path(tmp)
        env = dict(os.environ)
        for name, key, title, columns in SECTIONS:
            if name not in sections:
                continue
            if name in ("train", "sample"):
                rows = {"train": bench_training, "sample": bench_sampling}[name](tf, args)
            elif name == "encode":
                rows = bench_encoding(args, work)
            else:
                rows = {"startup": bench_startup, "memory": bench_memory}[name](args, work, env)
            results[key] = rows
            report.append(table(title, rows, columns))
    for worker in (args.torch, args.keras):
        if worker:
            worker.close()
    text = "\n".join(report)
    print(text)
    target = args.json or ROOT / "benchmarks" / "results" / (
        time.strftime("%Y%m%d-%H%M") + f"-{platform.node() or 'host'}.json"
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(results, indent=1) + "\n")
    log(f"results in {target}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--torch-worker"]:
        torch_worker()
    elif sys.argv[1:] == ["--keras-worker"]:
        keras_worker()
    elif sys.argv[1:2] == ["--matmul-peak"]:
        matmul_peak_worker(int(sys.argv[2]))
    else:
        main()
