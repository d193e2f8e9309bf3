"""Where the studio reads and writes: plain names only, inside the checkpoint folder.

Every name that comes from a request (a run, a result, a file, an upload) must be a plain name
(letters, digits, `.`, `_`, `-`, not starting with a dot), and the path it makes must resolve
inside the checkpoint folder, so `../`, absolute paths and symlinks that lead out are refused.
A run's results live in its `studio/` folder, one folder each with `result.json`; uploads and
training logs live in the checkpoint folder's `.studio/`, which `gen info` does not list.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import time
from pathlib import Path

from generator.atomic import atomic_path
from generator.errors import GenError

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
RESULTS = "studio"  # in a run folder: what the page generated from it
OWN = ".studio"  # in the checkpoint folder: uploads and training logs
RECORD = "result.json"


def plain(name: str, what: str = "name") -> str:
    """`name` if it is a plain file name; a `GenError` otherwise."""
    if not isinstance(name, str) or not NAME.fullmatch(name) or ".." in name:
        raise GenError(f"'{name}' is not a valid {what}: letters, digits, '.', '_' and '-' only")
    return name


def inside(root: Path, *names: str) -> Path:
    """`root/names...`, each a plain name, refused unless it resolves inside `root`."""
    path = Path(root).joinpath(*(plain(n) for n in names))
    if not path.resolve().is_relative_to(Path(root).resolve()):
        raise GenError(f"'{'/'.join(names)}' leads outside the checkpoint folder")
    return path


def run_dir(root: Path, run: str) -> Path:
    """The run folder `run` under `root`; a `GenError` if there is none."""
    path = inside(root, run)
    if not (path / "config.json").is_file():
        raise GenError(f"no run '{run}' in the checkpoint folder")
    return path


def new_id() -> str:
    """A result or upload name: sortable by time (to the millisecond), unguessable by the
    rest."""
    now = time.time()
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    return f"{stamp}{int(now * 1000) % 1000:03d}-{secrets.token_hex(3)}"


def own_folder(root: Path, *names: str) -> Path:
    """A folder of the studio's own under `root/.studio`, created."""
    path = Path(root) / OWN
    path = path.joinpath(*(plain(n) for n in names)) if names else path
    path.mkdir(parents=True, exist_ok=True)
    return path


class Results:
    """The results kept beside one run: `RUN/studio/ID/` with `result.json` and its files."""

    def __init__(self, run: Path):
        self.folder = Path(run) / RESULTS

    def new(self, settings: dict) -> tuple[str, Path]:
        """A new, empty result folder, its record saying it is queued."""
        name = new_id()
        folder = self.folder / name
        folder.mkdir(parents=True)
        self.save(folder, {"id": name, "status": "queued", "settings": settings,
                           "created": time.time(), "outputs": [], "log": []})  # fmt: skip
        return name, folder

    def path(self, name: str) -> Path:
        folder = inside(self.folder, name) if self.folder.is_dir() else None
        if folder is None or not (folder / RECORD).is_file():
            raise GenError(f"no result '{name}'")
        return folder

    def record(self, name: str) -> dict:
        try:
            record = json.loads((self.path(name) / RECORD).read_text())
        except (OSError, ValueError):
            record = None
        if not isinstance(record, dict):
            raise GenError(f"result '{name}' cannot be read")
        return record

    @staticmethod
    def save(folder: Path, record: dict) -> None:
        with atomic_path(folder / RECORD) as tmp:
            tmp.write_text(json.dumps(record, indent=1))

    def update(self, name: str, **changes) -> dict:
        record = self.record(name) | changes
        self.save(self.path(name), record)
        return record

    def all(self) -> list[dict]:
        """Every readable result, newest first."""
        if not self.folder.is_dir():
            return []
        found = []
        for folder in sorted(self.folder.iterdir(), reverse=True):
            try:
                record = json.loads((inside(self.folder, folder.name) / RECORD).read_text())
            except (OSError, ValueError, GenError):  # half-made, foreign or leading out
                continue
            if isinstance(record, dict) and isinstance(record.get("settings"), dict):
                found.append(record)
        return found

    def delete(self, name: str) -> None:
        shutil.rmtree(self.path(name))

    def file(self, name: str, filename: str) -> Path:
        """A file of result `name`, to serve: a plain name that exists there."""
        path = inside(self.path(name), filename)
        if not path.is_file() or path.is_symlink():
            raise GenError(f"no file '{filename}' in result '{name}'")
        return path
