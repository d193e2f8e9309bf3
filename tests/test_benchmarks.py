"""The benchmarks: the speed benchmark runs end to end; the sonnet corpus conversion."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("sonnets", ROOT / "benchmarks" / "sonnets.py")
sonnets = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sonnets)


def test_to_verse_detokenises_and_breaks_lines():
    line = "o night and death , to whom we grudged him then <eos> when in man 's sight <eos> "
    assert (
        sonnets.to_verse(line) == "o night and death, to whom we grudged him then\n"
        "when in man's sight\n"
    )
    assert sonnets.to_verse("do n't ( go ) ! <eos>") == "don't (go)!\n"


def test_real_sonnets_become_fourteen_lines():
    path = sonnets.DATA / "test.txt"
    if not path.exists():
        pytest.skip(f"the shared sonnet corpus is not at {sonnets.DATA}")
    first = path.read_text(encoding="utf-8").splitlines()[0]
    verse = sonnets.to_verse(first)
    assert len(verse.splitlines()) == 14 and " ," not in verse and "<eos>" not in verse


@pytest.mark.slow
def test_speed_benchmark_runs_and_reports_every_section(tmp_path):
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["machine"]["cores"] >= 1 and report["machine"]["matmul_peak_gflops"] > 0
    trainers = {r["trainer"] for r in report["training"]}
    assert {"gen", "gen, Keras' LSTM layers", "keras"} <= trainers
    assert all(r["tokens_per_s"] > 0 and r["gen_ratio"] > 0 for r in report["training"])
    samplers = {(r["sampler"], r["streams"]) for r in report["sampling"]}
    assert {("gen", 1), ("gen", 16), ("keras window per token", 1)} <= samplers
    assert {("floor: matrix multiplies alone", n) for n in (1, 16)} <= samplers
    ceilings = [r for r in report["sampling"] if r["sampler"].startswith("ceiling")]
    assert [r["streams"] for r in ceilings] == [16] and ceilings[0]["tokens_per_s"] > 0
    runs = {(r["corpus"], r["run"]) for r in report["encoding"]}
    assert ("synthetic 4-track", "cached") in runs
    assert all(r["events"] > 0 for r in report["encoding"])
    assert [r["command"] for r in report["startup"]][0] == "gen --help"
    small, large = report["memory"]
    assert large["tokens_m"] > 4 * small["tokens_m"] and large["peak_mb"] > 0
    assert "| gen |" in result.stdout  # the printed tables
