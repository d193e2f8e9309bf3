"""gen studio's page in a real headless Chromium (Debian's `chromium`, driven by Playwright
with no browser download): pick a run, generate music and verse, train and stop, and the
token. Skipped with the reason where Chromium or Playwright is missing."""

from __future__ import annotations

import shutil
import socket
import threading

import pytest
from conftest import copy_runs, scale_corpus

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="no chromium (apt install chromium)"),
    pytest.mark.slow,
]
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
TOKEN = "page-token"


@pytest.fixture
def served(two_runs, tmp_path):
    """The studio over a copy of the two tiny runs, on a free loopback port; its base URL."""
    import uvicorn

    from generator.studio.app import make_app

    root = copy_runs(two_runs, tmp_path / "checkpoints")
    sock = socket.create_server(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(make_app(root, TOKEN), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", root
    server.should_exit = True
    thread.join(timeout=30)


@pytest.fixture
def browser():
    with playwright.sync_playwright() as p:
        try:
            chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        except playwright.Error as exc:  # installed, but cannot start here
            pytest.skip(f"chromium cannot start: {str(exc).splitlines()[0]}")
        yield chromium
        chromium.close()


def open_page(browser, url):
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{url}/?token={TOKEN}")
    page.wait_for_selector("#runs li[data-run]")
    return page, errors


def generate(page, run: str, fields: dict) -> None:
    page.click(f"li[data-run={run}]")
    page.wait_for_selector(f"#generate-form[data-run={run}]")
    for name, value in fields.items():
        page.fill(f"[name={name}]", str(value))
    page.click("#generate-button")
    page.wait_for_function(
        "['done'].includes(document.querySelector('#generate-status').textContent)",
        timeout=120_000,
    )


IMAGE_WIDTH = """img => new Promise(done => img.complete ? done(img.naturalWidth)
    : img.addEventListener('load', () => done(img.naturalWidth)))"""
AUDIO_DURATION = """audio => new Promise(done => audio.readyState >= 1 ? done(audio.duration)
    : audio.addEventListener('loadedmetadata', () => done(audio.duration)))"""


def test_music_is_generated_drawn_and_playable(served, browser):
    url, _ = served
    page, errors = open_page(browser, url)
    generate(page, "music", {"seconds": 3, "seed": 2})
    assert page.get_attribute("[name=temperature]", "placeholder") == "0.7 (the corpus's)"
    card = page.locator(".result").first
    card.locator("img.roll").wait_for()
    assert card.locator("img.roll").evaluate(IMAGE_WIDTH) > 0
    if shutil.which("fluidsynth"):
        assert card.locator("audio").evaluate(AUDIO_DURATION) > 0
        assert "/files/music/" in card.locator("audio").get_attribute("src")
    else:
        assert "FluidSynth" in card.inner_text()
    assert page.locator("#run-curve").is_visible() and not errors


def test_a_poem_is_shown_with_its_report(served, browser):
    url, root = served
    page, errors = open_page(browser, url)
    generate(page, "verse", {"rhyme": "AA", "lines": 2, "seed": 4, "time_limit": 5})
    card = page.locator(".result").first
    (kept,) = (root / "verse" / "studio").glob("*/poem.txt")
    assert card.locator(".poem").inner_text().strip() == kept.read_text().strip()
    assert "rhyme" in card.locator(".report").inner_text() and not errors


def test_training_shows_its_loss_and_stops(served, browser, tmp_path):
    url, root = served
    page, errors = open_page(browser, url)
    corpus = scale_corpus(tmp_path / "scales")
    for name, value in {
        "path": corpus,
        "run": "fromthepage",
        "epochs": 500,
        "layers": 1,
        "units": 16,
        "batch_size": 8,
        "seq_len": 16,
        "epoch_steps": 2,
    }.items():
        page.fill(f"#train-form [name={name}]", str(value))  # fmt: skip
    page.click("#train-start")
    page.wait_for_function("document.querySelector('#train-log').textContent.includes('epoch 2')",
                           timeout=120_000)  # fmt: skip
    page.click("#train-stop")
    page.wait_for_function("document.querySelector('#train-state').textContent.includes('stopped')",
                           timeout=120_000)  # fmt: skip
    page.wait_for_selector("li[data-run=fromthepage]")
    assert (root / "fromthepage" / "resume.h5").exists() and not errors


def test_the_page_without_the_token_is_refused(served, browser):
    url, _ = served
    page = browser.new_page()
    response = page.goto(f"{url}/")
    assert response.status == 403 and page.inner_text("body") == "403 Forbidden"
    assert page.goto(f"{url}/api/runs?token=wrong").status == 403
