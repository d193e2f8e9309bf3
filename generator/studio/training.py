"""Training from the page: `gen train` in a process of its own, one at a time.

The process is the command line's own (`python -m generator train ...`), in its own session,
so the server stays responsive, closing the page changes nothing, and Stop is the SIGTERM that
saves a checkpoint as Ctrl-C does. Its output goes to a log in the studio's folder; progress
and the loss curve are read from the run folder's metrics as each epoch ends, and a failure is
the command's own one-line `Error:`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from generator.errors import GenError
from generator.studio import places

# the page's training fields: option of `gen train`, and the type each takes
FIELDS = {
    "corpus": str, "path": str, "run": str, "epochs": int, "max_minutes": float,
    "layers": int, "units": int, "embed_dim": int, "batch_size": int, "seq_len": int,
    "learning_rate": float, "seed": int, "epoch_steps": int, "patience": int,
}  # fmt: skip
TAIL = 20  # lines of the process's output the page sees
CURRENT = "training.json"  # in .studio/logs: the process training now, for a later studio
ENDED = "ended"  # what an adopted process's poll gives once it has ended (its status unknown)


class Training:
    """The one training process of the studio, and what the page is told about it."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.process: subprocess.Popen | _Adopted | None = None
        self.run: str | None = None
        self.log: Path | None = None
        self.started = 0.0
        self.stopping = False
        self.lock = threading.Lock()
        self._adopt()

    def _adopt(self) -> None:
        """Take over a training an earlier studio started and did not stop (killed, or its
        terminal closed): it shows on the page again, and Stop stops it."""
        try:
            known = json.loads((self.root / places.OWN / "logs" / CURRENT).read_text())
            process = _Adopted(int(known["pid"]))
            run, started = places.plain(known["run"]), float(known["started"])
        except (OSError, ValueError, KeyError, TypeError, GenError):
            return
        if process.poll() is None:
            self.process, self.run, self.started = process, run, started
            self.log = places.own_folder(self.root, "logs") / f"{run}.log"

    def start(self, form: dict, upload: Path | None = None) -> str:
        """Start `gen train` with the page's settings; the run's name. Settings are checked
        as the command checks them before any process starts."""
        options = _options(form)
        if upload is not None:
            options["path"] = str(upload)
        corpus = options.get("corpus") or "midi"
        named = options.pop("run", None) or f"{corpus}-{time.strftime('%Y%m%d-%H%M%S')}"
        run = places.plain(named, "run name")
        argv = ["train", "--checkpoint-dir", str(self.root), "--run", run]
        for name, value in options.items():
            argv += [f"--{name.replace('_', '-')}", str(value)]
        return self._launch(argv, run)

    def resume(self, run: str) -> str:
        places.run_dir(self.root, run)
        return self._launch(["train", "--resume", str(self.root / run)], run)

    def _launch(self, argv: list[str], run: str) -> str:
        with self.lock:
            if self.running:
                raise GenError(f"busy: run '{self.run}' is training; stop it first")
            self.log = places.own_folder(self.root, "logs") / f"{run}.log"
            with open(self.log, "w", encoding="utf-8") as out:
                self.process = subprocess.Popen(
                    [sys.executable, "-m", "generator", *argv], stdout=out,
                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                )  # fmt: skip
            self.run, self.started, self.stopping = run, time.time(), False
            known = {"pid": self.process.pid, "run": run, "started": self.started}
            (self.log.parent / CURRENT).write_text(json.dumps(known))
            return run

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """Ask the process to save a checkpoint and stop (SIGTERM, as `kill` would)."""
        with self.lock:
            if not self.running:
                raise GenError("nothing is training")
            self.stopping = True
            self.process.send_signal(signal.SIGTERM)

    def status(self) -> dict:
        """What the page shows: state, run, the last lines of output, the loss per epoch."""
        if self.process is None:
            return {"state": "idle"}
        code = self.process.poll()
        lines = _tail(self.log)
        error = next((line[7:] for line in reversed(lines) if line.startswith("Error: ")), None)
        if code is ENDED:  # an adopted process: its end is read from what it said
            saved = any("gen train --resume" in line for line in lines[-3:])
            code = 1 if error else 143 if saved else 0
            self.stopping = self.stopping or saved
        state = "running" if code is None else "done" if code == 0 else "stopped"
        if code not in (None, 0) and not self.stopping:
            state = "failed"
            error = error or (lines[-1] if lines else f"gen train exited with status {code}")
        metrics = _metrics(self.root / self.run)
        return {
            "state": "stopping" if state == "running" and self.stopping else state,
            "run": self.run, "error": error, "lines": lines, "seconds": time.time() - self.started,
            "history": metrics.get("history", []), "loss_unit": metrics.get("loss_unit"),
        }  # fmt: skip

    def shutdown(self) -> None:
        """When the server stops: the training saves and stops, to be resumed later."""
        if self.running:
            self.stop()


class _Adopted:
    """A training process an earlier studio started: not this one's child, so watched by its
    process id (and its command line, in case the id was reused)."""

    def __init__(self, pid: int):
        self.pid = pid

    def poll(self):
        try:
            command = Path(f"/proc/{self.pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return ENDED
        return None if b"generator" in command and b"train" in command else ENDED

    def send_signal(self, signum: int) -> None:
        try:
            os.kill(self.pid, signum)
        except OSError:  # it ended meanwhile
            pass


def _options(form: dict) -> dict:
    """The page's training settings as `gen train` options, checked like the command's."""
    from generator.config import TrainConfig
    from generator.studio.generate import number

    options = {}
    for name, kind in FIELDS.items():
        value = form.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        options[name] = str(value) if kind is str else number(name, value, kind)
    fields = TrainConfig.__dataclass_fields__
    TrainConfig(**{k: v for k, v in options.items() if k in fields})  # its range errors
    if options.get("path") and not Path(options["path"]).exists():
        raise GenError(f"path '{options['path']}' does not exist")
    return options


def _tail(log: Path | None) -> list[str]:
    """The last lines of the training output, progress bars' carriage returns as lines."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except (OSError, AttributeError):
        return []
    lines = [line.strip() for line in text.replace("\r", "\n").splitlines()]
    return [line for line in lines if line][-TAIL:]


def _metrics(run: Path) -> dict:
    try:
        return json.loads((run / "metrics.json").read_text())
    except (OSError, ValueError):
        return {}
