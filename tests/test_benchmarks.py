"""The benchmarks: the speed benchmark's pure helpers against answers worked out by hand, its
memory probe against a known allocation, one quick end-to-end run whose figures must agree with
each other, the sonnet corpus conversion, and the music benchmark's grid."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import script, write_midi

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `benchmarks` is a folder of the checkout, not installed

from benchmarks import common, encoding, memory, sampling, training  # noqa: E402

sonnets = script("benchmarks/sonnets.py")
music = script("benchmarks/music.py")
time_to_quality = script("benchmarks/time_to_quality.py")


def test_train_flops_count_every_multiply_add_of_two_layers_by_hand():
    # 2 layers of 4 units, embedding 64, vocabulary 400; multiply-adds per token, forward:
    # layer 1: 4 gates x 4 units x (64 inputs + 4 recurrent) = 1088
    # layer 2: 4 gates x 4 units x (4 inputs + 4 recurrent)  = 128
    # dense:   4 units x 400 tokens                           = 1600
    # 2816 multiply-adds = 5632 FLOPs forward, x 3 with the backward pass = 16896
    assert training.train_flops_per_token(2, 4) == 16896
    # 1 layer of 1 unit: 4 x 1 x 65 + 1 x 400 = 660 multiply-adds, 1320 FLOPs, x 3
    assert training.train_flops_per_token(1, 1) == 3960


def test_products_ceiling_shares_the_products_among_the_cores():
    # two chains of 100 products: 0.1 s and 0.3 s, so 4 ms of products per step
    seconds = [0.1, 0.3]
    # 1 thread per op on 2 cores: two products side by side, 2 ms a step, 16 streams
    assert sampling.products_ceiling(seconds, 16, 100, 1, 2) == pytest.approx(8000)
    # 2 threads per op on 2 cores: one at a time, 4 ms a step
    assert sampling.products_ceiling(seconds, 16, 100, 2, 2) == pytest.approx(4000)
    assert sampling.products_ceiling(seconds, 1, 100, 2, 2) == pytest.approx(250)


def test_rounds_takes_turns_and_keeps_each_contenders_fastest_call(monkeypatch):
    now = [0.0]  # a clock that moves only when a contender "runs"
    monkeypatch.setattr(common.time, "perf_counter", lambda: now[0])
    sleeps = []
    monkeypatch.setattr(common.time, "sleep", sleeps.append)
    calls = []

    def reports(times):  # a contender in another process: it reports its own seconds
        times = iter(times)
        return lambda: calls.append("own") or next(times)

    def clocked(times):  # a contender timed here: it takes its seconds on the clock
        times = iter(times)

        def run():
            calls.append("clocked")
            now[0] += next(times)

        return run

    best = common.rounds(
        {"own": reports([0.01, 3.0, 1.0, 2.0]), "clocked": clocked([0.01, 5.0, 4.0, 6.0])}, 3
    )
    # the warm-up calls (0.01 s) do not count
    assert best == {"own": 1.0, "clocked": 4.0}
    assert calls == ["own", "clocked"] * 4
    assert sleeps == [0.5] * 6


def test_table_renders_markdown_with_formats_and_blank_cells():
    rows = [{"name": "gen", "rate": 12345.678, "ratio": 1.0}, {"name": "keras", "rate": 9.4}]
    rows.append({"name": "torch", "rate": 0.25, "ratio": None})
    columns = [("name", "who", ""), ("rate", "tokens/s", ",.0f"), ("ratio", "gen / this", ".2f")]
    assert common.table("Speed", rows, columns) == (
        "### Speed\n"
        "\n"
        "| who | tokens/s | gen / this |\n"
        "| --- | --- | --- |\n"
        "| gen | 12,346 | 1.00 |\n"
        "| keras | 9 |  |\n"
        "| torch | 0 |  |\n"
    )


def test_peak_figures_read_the_last_report_in_bytes():
    stderr = "PEAK_KB 9 ANON_KB 9\nepoch 1: done\nPEAK_KB 2048 ANON_KB 1000\n"
    assert memory.peak_figures(stderr) == (2048 * 1024, 1000 * 1024)


def test_peak_script_counts_memory_the_process_fills_itself():
    def own(extra: str) -> tuple[int, int]:
        script = memory.PEAK.replace("from generator.cli", f"{extra}\nfrom generator.cli")
        cmd = [sys.executable, "-c", script, "--help"]
        run = subprocess.run(cmd, capture_output=True, text=True)
        assert run.returncode == 0 and "Usage:" in run.stdout, run.stderr[-2000:]
        return memory.peak_figures(run.stderr)

    plain_peak, plain_anon = own("")
    full_peak, full_anon = own("filled = b'x' * 200_000_000")  # 200 MB, every page written
    assert 0 < plain_anon <= plain_peak and full_anon <= full_peak
    assert 195e6 < full_anon - plain_anon < 215e6


def test_synthetic_midi_is_the_same_for_a_seed_with_four_instruments(tmp_path):
    import mido

    first = encoding.synthetic_midi(tmp_path / "a", 2)
    again = encoding.synthetic_midi(tmp_path / "b", 2)
    other = encoding.synthetic_midi(tmp_path / "c", 2, seed=1)
    assert [p.name for p in first] == ["synthetic0000.mid", "synthetic0001.mid"]
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in again]
    assert first[0].read_bytes() != other[0].read_bytes()
    tracks = mido.MidiFile(first[0]).tracks
    channels = [{m.channel for m in t if not m.is_meta} for t in tracks]
    assert channels == [set(), {0}, {1}, {2}, {9}]  # tempo, piano, bass, strings, drums


def test_text_units_are_different_files_of_at_least_the_asked_size(tmp_path):
    import random

    size = memory.write_text_units(tmp_path / "text", 3, 1000, random.Random(0))
    texts = [p.read_text() for p in sorted((tmp_path / "text").iterdir())]
    assert len(texts) == 3 and len(set(texts)) == 3 and size == sum(map(len, texts))
    # whole lines until 1000 characters are reached; a line: 8 words of at most 5 letters,
    # 7 spaces and a newline, 48 characters at most
    assert all(1000 <= len(t) < 1000 + 48 for t in texts)


@pytest.fixture(scope="module")
def quick(tmp_path_factory) -> tuple[dict, str]:
    """One `run.py --quick`, started outside the checkout: its JSON report and its stdout."""
    folder = tmp_path_factory.mktemp("bench")
    out = folder / "bench.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        cwd=folder,
        env={**os.environ, "GEN_CACHE_DIR": str(folder / "cache")},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(out.read_text()), result.stdout


def close(a: float, b: float) -> bool:
    return a == pytest.approx(b, rel=1e-9)


TORCH = importlib.util.find_spec("torch") is not None  # its rows are skipped without it


@pytest.mark.slow
def test_quick_benchmark_prints_every_table_of_its_json(quick):
    from benchmarks import run

    report, stdout = quick
    info = report["machine"]
    printed = [run.machine_line(info, info["matmul_peak_gflops"])]
    printed += [common.table(title, report[key], cols) for _, key, title, cols in run.SECTIONS]
    assert stdout == "\n".join(printed) + "\n"
    assert info["cores"] == common.cores() and info["matmul_peak_gflops"] > 0


@pytest.mark.slow
def test_quick_training_ratios_and_flops_follow_from_tokens_per_second(quick):
    report, _ = quick
    rows, peak = report["training"], report["machine"]["matmul_peak_gflops"]
    expected = ["gen", "gen, Keras' LSTM layers", "keras"] + (["torch"] if TORCH else [])
    assert [r["trainer"] for r in rows] == expected
    gen = rows[0]["tokens_per_s"]
    flops = training.train_flops_per_token(1, 32)
    for r in rows:
        assert r["size"] == "1x32" and close(r["gen_ratio"], gen / r["tokens_per_s"])
        assert close(r["gflops"], r["tokens_per_s"] * flops / 1e9)
        assert close(r["peak_share"], r["gflops"] / peak)


@pytest.mark.slow
def test_quick_sampling_has_every_contender_and_ratios_to_gen_one_stream(quick):
    rows = quick[0]["sampling"]
    expected = [(name, n) for name in ("gen", "gen, music grammar") for n in (1, 16)]
    expected += [("floor: matrix multiplies alone", n) for n in (1, 16)]
    expected += [("torch step loop", n) for n in (1, 16)] if TORCH else []
    expected += [("keras window per token", 1), ("ceiling: products alone, all cores busy", 16)]
    assert [(r["sampler"], r["streams"]) for r in rows] == expected
    gen_one = rows[0]["tokens_per_s"]
    assert all(close(r["gen_1_stream_ratio"], gen_one / r["tokens_per_s"]) for r in rows)


@pytest.mark.slow
def test_quick_encoding_and_startup_rows(quick):
    report, _ = quick
    enc = report["encoding"]
    assert [(r["corpus"], r["run"], r["files"]) for r in enc] == [
        ("Bach chorales", "first run", 8),
        ("Bach chorales", "cached", 8),
        ("synthetic 4-track", "first run", 20),
        ("synthetic 4-track", "cached", 20),
    ]
    assert enc[0]["events"] == enc[1]["events"] > 0 and enc[2]["events"] == enc[3]["events"] > 0
    for r in enc:
        assert close(r["files_per_s"], r["files"] / r["seconds"])
        assert close(r["events_per_s"], r["events"] / r["seconds"])
    assert [r["command"] for r in report["startup"]] == [
        "gen --help",
        "gen sample, 1 token",
        "gen train, cached corpus: corpus loaded",
        "gen train, cached corpus: first step, validation and checkpoint done",
    ]
    assert all(r["seconds"] > 0 for r in report["startup"])


@pytest.mark.slow
def test_quick_memory_rows_hold_both_runs_and_their_ratio(quick):
    report, _ = quick
    small, large = report["memory"]
    assert 4.9 < large["tokens_m"] / small["tokens_m"] < 5.1  # 5 units of text against 1
    assert close(large["ratio_to_small"], large["anon_mb"] / small["anon_mb"])
    few, many = report["memory_sample"]
    assert [(r["outputs"], r["files"]) for r in (few, many)] == [(16, 16), (2000, 2000)]
    assert close(many["ratio_to_small"], many["anon_mb"] / few["anon_mb"])
    assert "ratio_to_small" not in small and "ratio_to_small" not in few
    for r in (small, large, few, many):
        assert 0 < r["anon_mb"] <= r["peak_mb"]
    assert all(r["seconds"] > 0 for r in (few, many))


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


def test_grid_share_counts_onsets_near_sixteenths_at_the_files_tempo(tmp_path):
    # 120 bpm: a sixteenth is 125 ms; onsets at 0, 125 ms, 250 ms on the grid, 60 ms off it
    on = [(0, 0.25, 60, 80), (0.25, 0.25, 62, 80), (0.5, 0.25, 64, 80), (0.75 + 0.12, 0.1, 65, 80)]
    assert music.grid_share(write_midi(tmp_path / "a.mid", on)) == pytest.approx(0.75)
    # 60 bpm: sixteenths are 250 ms, so an onset at 125 ms (half a beat at 120) is off the grid
    half = [(0, 0.5, 60, 80), (0.125, 0.5, 64, 80)]  # onsets at 0 and 125 ms
    assert music.grid_share(write_midi(tmp_path / "c.mid", half, tempo=1_000_000)) == 0.5


def test_time_to_quality_finds_the_first_epoch_at_the_target():
    history = [
        {"epoch": 1, "val_loss": 2.0, "seconds": 10.0},
        {"epoch": 2, "val_loss": 1.5, "seconds": 21.0},
        {"epoch": 3, "val_loss": 1.4, "seconds": 30.0},
    ]
    assert time_to_quality.reached(history, 1.5) == (2, 21.0)
    assert time_to_quality.reached(history, 1.0) is None
    run = {"label": "b16", "options": ["--batch-size", "16"], "wall_s": 40.0, "history": history,
           "best_val_loss": 1.4, "best_epoch": 3, "train_seconds": 30.0}  # fmt: skip
    row = time_to_quality.table([run], 1.45, "nats/event").splitlines()[-1]
    assert row == "| b16 | `--batch-size 16` | 1.4000 (epoch 3) | 3 | 30 | 40 | 3, 30 |"
