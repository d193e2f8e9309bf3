"""Files uploaded from the page: a primer to continue, or a corpus to train on.

Each upload is written into `.studio/uploads/FOLDER/NAME` under the checkpoint folder, where
FOLDER is new unless the request names one made before (several files, one corpus). Names must
be plain, suffixes ones a corpus plugin reads, MIDI files must start as MIDI files do, and a
file past `MAX_BYTES` is refused and removed. What a plugin cannot read in a file that passes
is found where the CLI finds it: a primer when sampling, a corpus file when training (skipped
with its reason).
"""

from __future__ import annotations

from pathlib import Path

from generator.errors import GenError
from generator.studio import places

MAX_BYTES = 64 * 2**20  # one uploaded file
MIDI = (".mid", ".midi")


def accepted_suffixes() -> set[str]:
    """The suffixes some installed corpus plugin reads."""
    from generator.corpora import discover

    found = set()
    for plugin in discover().values():
        if plugin.cls is not None and not plugin.error:
            found.update(s.lower() for s in plugin.cls.input_suffixes)
    return found


async def receive_upload(request, root: Path) -> tuple[str, str]:
    """Write the request's body as the upload `?name=` (into `?folder=` if given); returns
    (folder, name)."""
    name = places.plain(request.query_params.get("name", ""), "file name")
    suffix = Path(name).suffix.lower()
    if suffix not in accepted_suffixes():
        known = ", ".join(sorted(accepted_suffixes()))
        raise GenError(f"'{name}': not a file gen reads (it reads {known})")
    folder = request.query_params.get("folder") or places.new_id()
    target = places.inside(places.own_folder(root, "uploads", places.plain(folder)), name)
    size = 0
    try:
        with open(target, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_BYTES:
                    raise GenError(f"'{name}' is over the {MAX_BYTES // 2**20} MB upload limit")
                if size == len(chunk) and suffix in MIDI and not chunk.startswith(b"MThd"):
                    raise GenError(f"'{name}' is not a MIDI file (it does not start with MThd)")
                out.write(chunk)
        if size == 0:
            raise GenError(f"'{name}' is empty")
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return folder, name
