"""gen studio's server, through Starlette's test client: the token, the paths it will touch,
uploads, generating and keeping results, the queue under a burst, and training."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest
from conftest import copy_runs, run, scale_corpus, tiny, write_midi
from starlette.testclient import TestClient

from generator.errors import GenError
from generator.studio import places, uploads
from generator.studio.app import make_app
from generator.studio.jobs import Queue

TOKEN = "secret-token"
AUTH = {"X-Gen-Token": TOKEN}


def client(root: Path, queue: Queue | None = None) -> TestClient:
    return TestClient(make_app(root, TOKEN, queue), headers=AUTH)


def wait(check, seconds: float = 120):
    """Poll `check()` until it returns something true; its value."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("not done in time")


def finished(studio: TestClient, run_name: str, result: str) -> dict:
    def done():
        record = studio.get(f"/api/runs/{run_name}/results/{result}").json()
        return record if record["status"] in ("done", "failed") else None

    return wait(done)


@pytest.fixture
def root(two_runs, tmp_path):
    return copy_runs(two_runs, tmp_path / "checkpoints")


def test_every_request_needs_the_token_and_changes_need_it_in_a_header(root):
    bare = TestClient(make_app(root, TOKEN))
    for path in ("/", "/api/runs", "/api/runs/music", "/static/studio.js"):
        refused = bare.get(path)
        assert (refused.status_code, refused.text) == (403, "403 Forbidden")
        assert bare.get(path, params={"token": "wrong"}).status_code == 403
    page = bare.get("/", params={"token": TOKEN})
    assert page.status_code == 200 and "gen studio" in page.text
    assert bare.get("/api/runs").status_code == 200  # the page's cookie now carries it
    # a change needs the header: a link or another site's form cannot send it
    for sent in ({"params": {"token": TOKEN}}, {}):
        posted = bare.post("/api/runs/music/generate", json={"seed": 1}, **sent)
        assert posted.status_code == 403
    assert not (root / "music" / places.RESULTS).exists()


def test_runs_are_listed_newest_first_with_their_kind_and_history(root):
    studio = client(root)
    runs = studio.get("/api/runs").json()["runs"]
    assert [r["name"] for r in runs] == ["verse", "music"]
    assert [r["kind"] for r in runs] == ["verse", "music"]
    about = studio.get("/api/runs/music").json()
    assert about["corpus"]["name"] == "midi" and len(about["history"]) == about["epochs"] == 2
    assert about["temperature"] == 0.7  # what a sample gets when none is asked
    assert studio.get("/api/runs/verse").json()["temperature"] == 1.0


@pytest.mark.parametrize(
    "path",
    ["/api/runs/..", "/api/runs/.studio", "/api/runs/%2Fetc", "/api/runs/a%2F..%2Fmusic",
     "/files/music/..%2F..%2Fconfig.json/x", "/files/music/x/..", "/files/%2E%2E/x/config.json"],
)  # fmt: skip
def test_names_that_lead_elsewhere_are_refused(root, path):
    response = client(root).get(path)
    assert response.status_code == 404, response.text


def test_names_in_requests_cannot_reach_a_run_or_result_outside(root, tmp_path):
    """A real run and a real result lie outside the checkpoint folder; no name a request can
    give (in the address or in its JSON) reaches them."""
    import shutil

    outside = tmp_path / "outside"
    shutil.copytree(root / "music", outside / "music")
    made = places.Results(outside / "music").new({"seed": 1})[1]
    (made / "sample.mid").write_bytes(b"MThd secret")
    studio = client(root)
    escapes = ["../outside/music", "..%2Foutside%2Fmusic", str(outside / "music")]
    for name in escapes:
        assert studio.post("/api/train/resume", json={"run": name}).status_code == 409
        assert (
            studio.post("/api/runs/music/generate", json={"primer_upload": name}).status_code == 400
        )
        far = f"../../../outside/music/studio/{made.name}/sample.mid"
        exported = studio.post(f"/api/runs/music/results/{made.name}/export",
                               json={"file": far, "format": "wav"})  # fmt: skip
        assert exported.status_code == 400
    (root / "linked").symlink_to(outside / "music")
    assert studio.get("/api/runs/linked").status_code == 404
    assert studio.get(f"/files/linked/{made.name}/sample.mid").status_code == 404
    folder = root / "music" / places.RESULTS
    folder.mkdir()
    (folder / made.name).symlink_to(made)
    assert studio.get(f"/files/music/{made.name}/sample.mid").status_code == 404
    assert studio.get(f"/api/runs/music/results/{made.name}").status_code == 404
    (folder / "20990101-000000000-abcdef").mkdir()
    (folder / "20990101-000000000-abcdef" / places.RECORD).write_text("[1, 2]")
    assert studio.get("/api/runs/music/results").json()["results"] == []  # not a record


def test_symlinks_out_of_the_checkpoint_folder_are_refused(root, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("not yours")
    (outside / places.RECORD).write_text('{"id": "r1", "settings": {}}')
    (root / "escape").symlink_to(outside)
    with pytest.raises(GenError, match="leads outside"):
        places.inside(root, "escape")
    folder = root / "music" / places.RESULTS
    folder.mkdir()
    (folder / "r1").symlink_to(outside)
    assert client(root).get("/files/music/r1/secret.txt").status_code == 404
    for name in ("../x", "/etc", ".hidden", "a b", "", "x" * 200):
        with pytest.raises(GenError):
            places.plain(name)


def test_uploads_are_checked_and_a_refused_one_leaves_nothing(root, monkeypatch, tmp_path):
    studio = client(root)
    song = write_midi(tmp_path / "song.mid", [(0, 1, 60, 80), (1, 1, 64, 80)])
    good = studio.post("/api/uploads", params={"name": "song.mid"}, content=song.read_bytes())
    assert good.status_code == 200
    stored = root / places.OWN / "uploads" / good.json()["folder"] / "song.mid"
    assert stored.read_bytes() == song.read_bytes()
    refused = {
        "song.exe": (b"MZ", "not a file gen reads"),
        "fake.mid": (b"RIFF....", "not a MIDI file"),
        "..%2Fx.mid": (b"MThd", "not a valid file name"),
        "empty.txt": (b"", "is empty"),
    }
    for name, (body, message) in refused.items():
        answer = studio.post(f"/api/uploads?name={name}", content=body)
        assert answer.status_code == 400 and message in answer.json()["error"]
    monkeypatch.setattr(uploads, "MAX_BYTES", 1000)
    big = studio.post("/api/uploads", params={"name": "big.txt"}, content=b"a" * 5000)
    assert "upload limit" in big.json()["error"]
    assert not list((root / places.OWN / "uploads").glob("*/big.txt"))


def test_generated_music_is_kept_replayable_and_deletable(root):
    studio = client(root)
    form = {"seconds": 2, "seed": 5, "temperature": 0.9}
    first = studio.post("/api/runs/music/generate", json=form).json()["id"]
    record = finished(studio, "music", first)
    assert record["status"] == "done", record
    (output,) = record["outputs"]
    assert output["seed"] == 5 and output["piano_roll"] == "sample.png"
    assert "audio" in output or "FluidSynth" in output["audio_error"]
    midi = studio.get(f"/files/music/{first}/{output['file']}")
    assert midi.status_code == 200 and midi.content.startswith(b"MThd")
    again = studio.post("/api/runs/music/generate", json=record["settings"]).json()["id"]
    finished(studio, "music", again)
    assert studio.get(f"/files/music/{again}/sample.mid").content == midi.content
    kept = [r["id"] for r in studio.get("/api/runs/music/results").json()["results"]]
    assert kept == [again, first]  # newest first, on disk beside the run
    assert json.loads((root / "music" / "studio" / first / "result.json").read_text())["seed"] == 5
    made = studio.post(f"/api/runs/music/results/{first}/export",
                       json={"file": "sample.mid", "format": "musicxml"})  # fmt: skip
    assert made.status_code == 200, made.text
    assert b"<score-partwise" in studio.get(f"/files/music/{first}/{made.json()['file']}").content
    assert studio.post(f"/api/runs/music/results/{first}/delete").status_code == 200
    assert studio.get(f"/api/runs/music/results/{first}").status_code == 404
    assert not (root / "music" / "studio" / first).exists()


def test_an_uploaded_primer_is_continued_and_a_typed_music_primer_refused(root, tmp_path):
    import io

    import mido

    studio = client(root)
    song = write_midi(tmp_path / "p.mid", [(0, 1, 60, 80), (1, 1, 62, 80), (2, 1, 67, 80)])
    upload = studio.post("/api/uploads", params={"name": "p.mid"}, content=song.read_bytes())
    form = {"primer_upload": upload.json()["upload"], "seconds": 4, "seed": 1}
    record = finished(
        studio, "music", studio.post("/api/runs/music/generate", json=form).json()["id"]
    )
    assert record["status"] == "done", record
    written = studio.get(f"/files/music/{record['id']}/sample.mid").content
    notes = [m.note for m in mido.MidiFile(file=io.BytesIO(written)) if m.type == "note_on"
             and m.velocity]  # fmt: skip
    assert notes[:3] == [60, 62, 67] and len(notes) > 3
    typed = studio.post("/api/runs/music/generate", json={"primer": str(song)})
    assert typed.status_code == 400 and "upload it" in typed.json()["error"]
    escape = studio.post("/api/runs/music/generate", json={"primer_upload": "../../music"})
    assert escape.status_code == 400


def test_a_result_a_stopped_server_left_unfinished_says_so(root):
    name, _ = places.Results(root / "music").new({"seed": 1})
    record = client(root).get(f"/api/runs/music/results/{name}").json()
    assert record["status"] == "failed" and "the studio stopped" in record["error"]


def test_verse_is_written_with_its_report(root):
    studio = client(root)
    form = {"lines": 2, "seed": 3, "words": "any", "rhyme": "AA", "time_limit": 5}
    result = studio.post("/api/runs/verse/generate", json=form).json()["id"]
    record = finished(studio, "verse", result)
    assert record["status"] == "done", record
    poem = record["outputs"][0]["text"]
    assert poem == (root / "verse" / "studio" / result / "poem.txt").read_text()
    assert "form" in record["outputs"][0] and any("rhyme" in line for line in record["log"])


def test_wrong_values_get_the_command_line_s_message(root):
    studio = client(root)
    for form, option in (({"top_p": 2}, "--top-p"), ({"seconds": 0}, "--seconds")):
        answer = studio.post("/api/runs/music/generate", json=form)
        value = str(next(iter(form.values())))
        said = run("sample", "--checkpoint", root / "music", "--out", "x.mid", option, value)
        assert answer.status_code == 400
        assert f"Error: {answer.json()['error']}" in said.output
    assert studio.post("/api/runs/music/generate", json={"seed": "x"}).status_code == 400
    for form, said in (({"top_k": 1.5}, "top-k must be a whole number"),
                       ({"seed": 1e300}, "seed must be in"), ({"num_outputs": 0}, "num-outputs"),
                       ({"weights": "x"}, "weights must be one of")):  # fmt: skip
        answer = studio.post("/api/runs/music/generate", json=form)
        assert answer.status_code == 400 and said in answer.json()["error"], answer.text
    huge = studio.post("/api/runs/music/generate", content=b"{" + b" " * 300_000 + b"}")
    assert huge.status_code == 400 and "over 256 KB" in huge.json()["error"]
    assert studio.post("/api/runs/music/generate", content=b"[1]").status_code == 400
    assert studio.post("/api/runs/nope/generate", json={}).status_code == 400
    assert not (root / "music" / places.RESULTS).exists() or not os.listdir(
        root / "music" / places.RESULTS
    )


def test_a_burst_of_requests_finishes_or_is_refused_as_busy(root):
    studio = client(root, Queue(workers=1, waiting=6))
    answers: list = []

    def one_client(k):
        for i in range(5):
            form = {"seconds": 0.5, "seed": 10 * k + i, "length": 50}
            answers.append(studio.post("/api/runs/music/generate", json=form))

    threads = [threading.Thread(target=one_client, args=(k,)) for k in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    codes = sorted(a.status_code for a in answers)
    assert len(codes) == 50 and set(codes) <= {200, 503}, codes
    assert all("busy" in a.json()["error"] for a in answers if a.status_code == 503)
    accepted = [a.json()["id"] for a in answers if a.status_code == 200]
    assert accepted and all(finished(studio, "music", r)["status"] == "done" for r in accepted)
    kept = studio.get("/api/runs/music/results").json()["results"]
    assert sorted(r["id"] for r in kept) == sorted(accepted)  # none lost, no refused one kept


def status_after(studio, check):
    return wait(lambda: (lambda s: s if check(s) else None)(studio.get("/api/train").json()))


@pytest.mark.slow
def test_training_starts_stops_resumes_and_is_the_command_line_s_run(root, tmp_path):
    corpus = scale_corpus(tmp_path / "scales", files=6)
    options = dict(zip(*[iter(tiny(epochs=500, epoch_steps=2))] * 2))
    form = {k.lstrip("-").replace("-", "_"): v for k, v in options.items()}
    with client(root) as studio:  # leaving it shuts the server down, as Ctrl-C does
        _train_stop_resume(studio, form | {"path": str(corpus), "run": "page"})
    training = studio.app.app.state.studio.training
    assert training.process.wait(timeout=120) != 0  # stopped by the shutdown, not finished
    about = client(root).get("/api/runs/page").json()
    assert about["resumable"], about["resume_note"]
    sampled = run("sample", "--checkpoint", root / "page", "--out", tmp_path / "x.mid")
    assert sampled.exit_code == 0, sampled.output


def _train_stop_resume(studio, form):
    started = studio.post("/api/train", json=form)
    assert started.json() == {"run": "page"}
    assert studio.post("/api/train", json=form).status_code == 409  # one training at a time
    status_after(studio, lambda s: len(s["history"]) >= 2)
    assert studio.post("/api/train/stop").status_code == 200
    stopped = status_after(studio, lambda s: s["state"] == "stopped")
    assert stopped["error"] is None
    about = studio.get("/api/runs/page").json()
    assert about["resumable"], about["resume_note"]
    studio.post("/api/train/resume", json={"run": "page"})
    status_after(studio, lambda s: s["state"] == "running" and len(s["history"]) > 2)


@pytest.mark.slow
def test_a_failing_training_is_one_line_and_the_server_goes_on(root, tmp_path):
    studio = client(root)
    bad = tmp_path / "not-music"
    bad.mkdir()
    (bad / "a.txt").write_text("no midi here")
    studio.post("/api/train", json={"corpus": "midi", "path": str(bad), "run": "bad"})
    failed = status_after(studio, lambda s: s["state"] in ("failed", "done"))
    assert failed["state"] == "failed" and "no .mid, .midi files found" in failed["error"]
    assert studio.get("/api/runs").status_code == 200
    refused = studio.post("/api/train", json={"epochs": 0})
    assert refused.json() == {"error": "epochs must be in [1, 1,000,000], got 0"}


def test_gen_studio_prints_its_address_with_a_token_and_stops_on_ctrl_c(tmp_path):
    import signal
    import subprocess
    import sys
    import urllib.error
    import urllib.request

    command = [sys.executable, "-m", "generator", "studio", "--port", "0"]
    command += ["--checkpoint-dir", str(tmp_path / "ck")]
    server = subprocess.Popen(command, stderr=subprocess.STDOUT, stdout=subprocess.PIPE, text=True)
    try:
        line = ""
        while not line.startswith("gen studio: "):  # after any warning an import prints
            line = server.stdout.readline()
            assert line, "gen studio ended before printing its address"
        assert line.startswith("gen studio: http://127.0.0.1:") and "/?token=" in line, line
        url = line.split(": ", 1)[1].strip()
        assert b"gen studio" in urllib.request.urlopen(url, timeout=30).read()
        with pytest.raises(urllib.error.HTTPError, match="403"):
            urllib.request.urlopen(url.split("?")[0] + "api/runs", timeout=30)
    finally:
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=60) in (0, 130)
    assert "Error" not in server.stdout.read()


def test_a_port_out_of_range_is_one_line():
    result = run("studio", "--port", "70000")
    assert result.exit_code == 1
    assert result.output.strip() == "Error: port must be in [0, 65,535], got 70000"


@pytest.mark.slow
def test_a_training_left_by_a_killed_studio_is_adopted_and_stopped_by_the_next(root, tmp_path):
    from generator.studio.training import Training

    corpus = scale_corpus(tmp_path / "scales", files=6)
    options = dict(zip(*[iter(tiny(epochs=500, epoch_steps=2))] * 2))
    form = {k.lstrip("-").replace("-", "_"): v for k, v in options.items()}
    first = Training(root)
    first.start(form | {"path": str(corpus), "run": "left"})
    wait(lambda: len(first.status()["history"]) >= 1)
    later = Training(root)  # a new studio over the same folder: the first one is gone
    assert later.status()["state"] == "running" and later.status()["run"] == "left"
    later.stop()
    assert first.process.wait(timeout=120) != 0
    stopped = wait(
        lambda: (lambda s: None if s["state"] in ("running", "stopping") else s)(later.status())
    )
    assert stopped["state"] == "stopped" and stopped["error"] is None
    assert Training(root).status() == {"state": "idle"}  # nothing left to adopt


def test_the_training_form_starts_from_gen_train_s_defaults():
    import re

    from generator.cli.train import train as train_command
    from generator.studio.training import FIELDS

    page = (Path(places.__file__).parent / "static" / "index.html").read_text()
    shown = dict(re.findall(r'<input name="(\w+)" type="number"[^>]*value="([^"]+)"', page))
    defaults = {p.name: p.default for p in train_command.params}
    assert shown and set(shown) <= set(FIELDS)
    assert {name: float(value) for name, value in shown.items()} == {
        name: float(defaults[name]) for name in shown
    }
    unset = re.findall(r'<input name="(\w+)" type="number"(?![^>]*value=)', page)
    given_none = train_command.make_context("train", []).params  # what an empty field means
    assert "epochs" in unset and all(given_none[name] is None for name in unset)
