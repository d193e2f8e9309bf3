"""What every section of the speed benchmark shares: the machine's description and matmul
peak, timing in rounds, contenders in processes of their own, and the Markdown tables."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN = Path(__file__).with_name("run.py")  # the script, started again for worker processes
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
        [sys.executable, str(RUN), "--matmul-peak", str(n)],
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
            [sys.executable, str(RUN), flag],
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


def gen_command() -> list[str]:
    return [sys.executable, "-m", "generator"]


def table(title: str, rows: list[dict], columns: list[tuple[str, str, str]]) -> str:
    """A Markdown table: columns are (key, heading, format)."""
    lines = [f"### {title}", "", "| " + " | ".join(h for _, h, _ in columns) + " |"]
    lines.append("|" + "|".join(" --- " for _ in columns) + "|")
    for r in rows:
        cells = [format(r[k], f) if k in r and r[k] is not None else "" for k, _, f in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
