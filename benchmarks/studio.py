"""gen studio in a real browser: page load, and the time from clicking Generate to a playable
piece, with the model already loaded; and the README's screenshots.

    python benchmarks/studio.py checkpoints/MUSIC_RUN [--verse checkpoints/VERSE_RUN]
                                [--repeats 5] [--seconds 30] [--screenshots docs/images]

The runs are copied into a temporary checkpoint folder (the page keeps its results beside the
run, and the benchmark leaves yours as they were). A server runs on a free loopback port and
Debian's Chromium, driven by Playwright, loads the page. Page load is from navigation to the
runs being listed; Generate is from the click to the audio element knowing its duration
(sampling, the MIDI file, the piano roll, FluidSynth's Ogg Vorbis and the browser's fetch all
included), after one warm-up that loads the model. Medians and maxima over `--repeats`.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TOKEN = "benchmark"
DURATION = """audio => new Promise(done => audio.readyState >= 1 ? done(audio.duration)
    : audio.addEventListener('loadedmetadata', () => done(audio.duration)))"""


def serve(root: Path):
    """The studio over `root` on a free loopback port: (url, server)."""
    import uvicorn

    from generator.studio.app import make_app

    sock = socket.create_server(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(make_app(root, TOKEN), log_level="warning"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    return f"http://127.0.0.1:{sock.getsockname()[1]}", server


def pick(page, run: str) -> None:
    page.click(f"li[data-run={run}]")
    page.wait_for_selector(f"#generate-form[data-run={run}]")


def generate(page, fields: dict, count: int) -> float:
    """Click Generate with `fields`; seconds until the newest result is done (and, for music,
    its audio playable)."""
    for name, value in fields.items():
        page.fill(f"[name={name}]", str(value))
    start = time.perf_counter()
    page.click("#generate-button")
    page.wait_for_function(f"document.querySelectorAll('.result.done').length >= {count}",
                           timeout=600_000)  # fmt: skip
    newest = page.locator(".result").first
    if newest.locator("audio").count():
        assert newest.locator("audio").evaluate(DURATION) > 0
    return time.perf_counter() - start


def measure(url: str, music: str, verse: str | None, args) -> dict:
    from playwright.sync_api import sync_playwright

    figures = {"load": [], "generate": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        for _ in range(args.repeats):
            start = time.perf_counter()
            page.goto(f"{url}/?token={TOKEN}")
            page.wait_for_selector("#runs li[data-run]")
            figures["load"].append(time.perf_counter() - start)
        pick(page, music)
        generate(page, {"seconds": args.seconds, "seed": 0}, 1)  # loads the model
        for k in range(args.repeats):
            seconds = generate(page, {"seconds": args.seconds, "seed": k + 1}, k + 2)
            figures["generate"].append(seconds)
        if args.screenshots:
            generate(page, {"seconds": 20, "seed": 3}, args.repeats + 2)
            page.locator(".result img.roll").first.wait_for()
            page.evaluate("scrollTo(0, document.querySelector('#generate').offsetTop - 8)")
            page.screenshot(path=str(args.screenshots / "studio-music.png"))
        if verse:
            pick(page, verse)
            page.select_option("select[name=form]", "sonnet")
            figures["sonnet"] = [generate(page, {"seed": 1}, 1)]
            if args.screenshots:
                page.locator(".result .poem").first.scroll_into_view_if_needed()
                page.screenshot(path=str(args.screenshots / "studio-verse.png"), full_page=True)
        browser.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("music", type=Path, help="a music run folder")
    parser.add_argument("--verse", type=Path, help="a verse run folder")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--screenshots", type=Path, help="folder for studio-*.png")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gen-studio-bench-") as tmp:
        root = Path(tmp) / "checkpoints"
        for run in filter(None, (args.music, args.verse)):
            shutil.copytree(run, root / run.name, ignore=shutil.ignore_patterns("studio"))
        url, server = serve(root)
        verse = args.verse.name if args.verse else None
        figures = measure(url, args.music.name, verse, args)
        server.should_exit = True
    print("| what | median | max | of |\n| --- | --- | --- | --- |")
    names = {"load": "page load", "generate": f"Generate to playable {args.seconds:g} s",
             "sonnet": "Generate a sonnet"}  # fmt: skip
    for key, values in figures.items():
        print(f"| {names[key]} | {statistics.median(values):.2f} s | {max(values):.2f} s | "
              f"{len(values)} |")  # fmt: skip


if __name__ == "__main__":
    main()
