"""Project hygiene: the README's set-up commands are what CI runs, the code passes ruff, and
TensorFlow starts with gen's thread and XLA settings."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    """The commands in the README's first code block."""
    block = re.search(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_opens_with_two_commands_and_ci_runs_the_test_one():
    commands = readme_commands()
    assert len(commands) == 2
    assert "gen train --corpus midi" in commands[0] and "gen sample" in commands[0]
    assert "pytest" in commands[1]
    assert commands[1] in (ROOT / ".ci" / "run").read_text().splitlines()


def test_gen_help_answers_without_importing_tensorflow():
    code = (
        "import sys; from generator.cli import cli\n"
        "try:\n    cli(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('tensorflow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "Commands:" in out.stdout and out.stdout.strip().endswith("False")


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is not installed")
def test_code_passes_ruff():
    for args in (["check"], ["format", "--check"]):
        result = subprocess.run(
            ["ruff", *args, "--no-cache", "generator", "tests", "benchmarks", "examples"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stdout + result.stderr


def gen_tensorflow(
    expression: str, first: str = "", then: str = "", env: dict | None = None
) -> subprocess.CompletedProcess:
    """A new Python process (with `env`, or this one's environment) that runs `first`, starts
    TensorFlow through gen, runs `then` and prints `expression`; it must succeed."""
    code = f"{first}\nimport os\nfrom generator.tf_setup import import_tensorflow\n"
    code += f"tf = import_tensorflow()\n{then}\nprint({expression})"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    return run


def test_tensorflow_ops_get_half_the_cores_unless_the_user_says(monkeypatch):
    from generator.tf_setup import op_threads

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    monkeypatch.delenv("TF_NUM_INTRAOP_THREADS", raising=False)
    for machine, threads in ((1, 1), (2, 1), (3, 1), (16, 8)):
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid, n=machine: set(range(n)))
        assert op_threads(gpu=False) == threads, machine
    monkeypatch.undo()
    monkeypatch.delenv("TF_NUM_INTRAOP_THREADS", raising=False)
    assert op_threads(gpu=True) is None  # cuDNN does the work there
    threads = "bool(tf.config.list_physical_devices('GPU')), "
    threads += "tf.config.threading.get_intra_op_parallelism_threads()"
    gpu, count = gen_tensorflow(threads).stdout.split()
    assert int(count) == (0 if gpu == "True" else max(1, cores // 2))
    started = gen_tensorflow(threads, first="import tensorflow as t; t.constant(1.0) + 1")
    assert started.stdout.split()[1] == "0"  # started by the caller: left as it was
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "3")  # the user's setting is left to TensorFlow
    assert op_threads(gpu=False) is None
    assert gen_tensorflow(threads).stdout.split()[1] == "0"


def test_xla_flags_turn_ynnpack_fusions_off_only_where_tensorflow_has_them(monkeypatch):
    from generator.tf_setup import YNN_FLAG_VERSIONS, YNN_FUSIONS, xla_flags

    off = f"{YNN_FUSIONS}="
    assert xla_flags("", (2, 21)) == off
    assert xla_flags("--xla_dump_to=/tmp/d", (2, 21)) == f"--xla_dump_to=/tmp/d {off}"
    assert xla_flags(f"{YNN_FUSIONS}=individual_dot", (2, 21)) == f"{YNN_FUSIONS}=individual_dot"
    assert xla_flags(f"{YNN_FUSIONS}_other=1", (2, 21)) == f"{YNN_FUSIONS}_other=1 {off}"
    assert xla_flags("/etc/xla_flags.txt", (2, 21)) == "/etc/xla_flags.txt"  # a file of flags
    for unknown in ((2, 20), YNN_FLAG_VERSIONS[1], ()):  # XLA would stop at the flag
        assert xla_flags("--xla_dump_to=/tmp/d", unknown) == "--xla_dump_to=/tmp/d"
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    version, flags = gen_tensorflow(
        "tf.__version__, repr(os.environ.get('XLA_FLAGS'))"
    ).stdout.split()
    low, high = YNN_FLAG_VERSIONS
    assert flags == (repr(off) if low <= tuple(map(int, version.split(".")[:2])) < high else "None")


def test_an_xla_kernel_run_for_the_first_time_by_two_threads_at_once_does_not_crash():
    """The loss's kernel, compiled afresh 100 times and each time first run on both halves of
    the batch side by side, in a process whose `XLA_FLAGS` only `import_tensorflow` sets: with
    XLA's YNNPACK fusions on, TensorFlow 2.21 died of a segmentation fault within 60 rounds
    in each of 5 tries (`tf_setup.xla_flags`). On a newer TensorFlow, a failure here means
    the fusions need turning off there too (`tf_setup.YNN_FLAG_VERSIONS`)."""
    rounds = (
        "from generator.loss import _cross_entropy_kernels\n"
        "logits = tf.random.stateless_normal((4096, 400), seed=(0, 0))\n"
        "targets = tf.random.stateless_uniform((4096,), (0, 1), maxval=400, dtype=tf.int32)\n"
        "for _ in range(100):\n"
        "    forward, _ = _cross_entropy_kernels.__wrapped__()  # a new kernel\n"
        "    halves = tf.function(lambda t, x: forward(t[:2048], x[:2048])[0][0]"
        " + forward(t[2048:], x[2048:])[0][0])\n"
        "    halves(targets, logits)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}  # not this process's
    assert gen_tensorflow("'ok'", then=rounds, env=env).stdout.split() == ["ok"]


def generator_modules() -> dict[str, Path]:
    """Every module of the package by dotted name."""
    modules = {}
    for path in (ROOT / "generator").rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imports(path: Path, modules: dict) -> set[str]:
    """The package's modules that the module at `path` imports, at its top or in a function."""
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("generator"):
            found |= {f"{node.module}.{a.name}" for a in node.names} | {node.module}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return {name for name in found if name in modules}


def test_modules_import_each_other_without_a_cycle():
    """Data flows one way: no module imports one that imports it back, even inside a
    function."""
    modules = generator_modules()
    graph = {name: imports(path, modules) - {name} for name, path in modules.items()}
    done, trail = set(), []

    def visit(name):
        if name in trail:
            raise AssertionError("import cycle: " + " -> ".join(trail[trail.index(name) :]))
        if name in done:
            return
        trail.append(name)
        for other in sorted(graph[name]):
            visit(other)
        trail.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)
    assert "generator.corpora.base" in graph["generator.corpora.midi"] | {
        m for d in graph["generator.corpora.midi"] for m in graph[d]
    }  # the walk saw real edges


def test_modules_and_functions_fit_in_a_reader_s_mind():
    """About 300 lines a module and 60 a function (STYLE.md)."""
    import ast

    long = []
    for name, path in generator_modules().items():
        source = path.read_text()
        if source.count("\n") > 320:
            long.append(f"{name}: {source.count(chr(10))} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                size = node.end_lineno - node.lineno + 1
                if size > 60:
                    long.append(f"{name}.{node.name}: {size} lines")
    assert not long, long


def test_the_readme_names_every_module_where_it_lives():
    """'How it fits together' stays true: every module and folder of the package is named in
    it, and every module it names exists."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## How it fits together", 1)[1].split("\n## ", 1)[0]
    package = ROOT / "generator"
    modules = [p for p in package.rglob("*.py") if p.name not in ("__init__.py", "__main__.py")]
    missing = [str(p.relative_to(package)) for p in modules if f"`{p.name}`" not in section]
    folders = {p.parent.name for p in modules if p.parent != package}
    missing += [f"{folder}/" for folder in folders if f"`{folder}/`" not in section]
    assert not missing, missing
    existing = {p.name for p in package.rglob("*.py")}
    assert set(re.findall(r"`(\w+\.py)`", section)) <= existing
