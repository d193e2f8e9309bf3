"""The studio's web app: its routes, each a thin call into the library, behind the token
(`guard.py`). Long work runs in the job queue or worker threads, never on the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import json
from importlib import resources
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from generator import info
from generator.checkpoint import load_checkpoint
from generator.errors import GenError
from generator.studio import catalog, generate, places
from generator.studio.guard import TokenGuard, cookie_name
from generator.studio.jobs import Busy, Models, Queue
from generator.studio.training import Training
from generator.studio.uploads import receive_upload

FORM_BYTES = 256 * 1024  # a form's JSON: primers are text, files are uploads
EVENT_SECONDS = 1.0  # how often training progress is sent to the page
STATIC = ("studio.js", "studio.css")
EXPORTS = {"musicxml": ".musicxml", "pdf": ".pdf", "wav": ".wav"}  # what a music output becomes


def error(exc: Exception, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": str(exc)}, status)


class Studio:
    """The state behind the routes: the checkpoint folder, the jobs and the training."""

    def __init__(self, root: Path, token: str, queue: Queue | None = None):
        self.root, self.token = Path(root), token
        self.queue, self.models = queue or Queue(), Models()
        self.training = Training(self.root)
        self.active: set[str] = set()  # results queued or running in this server

    # -- the page ------------------------------------------------------------------------------
    async def index(self, request: Request) -> Response:
        page = resources.files("generator.studio").joinpath("static/index.html").read_text()
        settings = {"token": self.token, "sample": generate.sample_options(),
                    "corpora": catalog.corpora(), "root": str(self.root.resolve())}  # fmt: skip
        page = page.replace("{{settings}}", json.dumps(settings).replace("</", "<\\/"))
        response = HTMLResponse(page, headers={"Cache-Control": "no-store"})
        response.set_cookie(cookie_name(request), self.token, httponly=True, samesite="strict")
        return response

    async def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return Response("not found", 404)
        path = resources.files("generator.studio").joinpath(f"static/{name}")
        kind = "text/javascript" if name.endswith(".js") else "text/css"
        return Response(path.read_text(), media_type=kind)

    # -- runs and results ------------------------------------------------------------------------
    async def runs(self, request: Request) -> Response:
        found = await run_in_threadpool(catalog.runs, self.root)
        return JSONResponse({"runs": found, "root": str(self.root.resolve())})

    async def run(self, request: Request) -> Response:
        try:
            folder = places.run_dir(self.root, request.path_params["run"])
            about = await run_in_threadpool(info.describe, folder)
        except GenError as exc:
            return error(exc, 404)
        return JSONResponse(about | catalog.more(folder, about))

    async def results(self, request: Request) -> Response:
        try:
            folder = places.run_dir(self.root, request.path_params["run"])
        except GenError as exc:
            return error(exc, 404)
        active = set(self.active)
        found = [self._as_now(r, r.get("id") in active) for r in places.Results(folder).all()]
        return JSONResponse({"results": found, "busy": self.queue.load})

    async def result(self, request: Request) -> Response:
        try:
            results, name = self._results(request), request.path_params["id"]
            active = name in self.active
            return JSONResponse(self._as_now(results.record(name), active))
        except GenError as exc:
            return error(exc, 404)

    async def generate(self, request: Request) -> Response:
        try:
            folder = places.run_dir(self.root, request.path_params["run"])
            form = await _json(request)
            if form.get("primer") and catalog.kind(load_checkpoint(folder).corpus_name) != "verse":
                raise GenError("a music primer is a file: upload it (primer_upload)")
            primer = self._upload(form.get("primer_upload"))
            generate.read_form(form, primer)  # wrong values are refused now, not in the job
            results = places.Results(folder)
            kept = (*generate.NUMBERS, *generate.TEXTS, *generate.PRIMERS)
            name, target = results.new({k: form[k] for k in kept if form.get(k) not in (None, "")})
            try:
                job = (folder, target, form, primer, self.models, results, name)
                self.active.add(name)
                self.queue.submit(self._job, *job)
            except Busy:
                self.active.discard(name)
                results.delete(name)
                raise
        except Busy as exc:
            return error(exc, 503)
        except GenError as exc:
            return error(exc)
        return JSONResponse({"id": name, "status": "queued"})

    async def delete(self, request: Request) -> Response:
        name = request.path_params["id"]
        if name in self.active:
            return error(GenError("it is still being generated; delete it when it is done"), 409)
        try:
            self._results(request).delete(name)
        except GenError as exc:
            return error(exc, 404)
        return JSONResponse({"deleted": request.path_params["id"]})

    async def export(self, request: Request) -> Response:
        """Write one output again as sheet music (.musicxml, .pdf with an engraver) or WAV."""
        try:
            folder = places.run_dir(self.root, request.path_params["run"])
            name, form = request.path_params["id"], await _json(request)
            results = places.Results(folder)
            target = results.file(name, places.plain(str(form.get("file")), "file"))
            suffix = EXPORTS.get(form.get("format"))
            if suffix is None:
                raise GenError(f"format must be one of {', '.join(EXPORTS)}")
            made = await run_in_threadpool(
                generate.export, folder, target.parent, target.name, suffix
            )
        except GenError as exc:
            return error(exc)
        return JSONResponse({"file": made.name})

    async def file(self, request: Request) -> Response:
        try:
            params = request.path_params
            path = self._results(request).file(params["id"], params["name"])
        except GenError:
            return Response("not found", 404)
        return FileResponse(path, media_type=_media_type(path))

    def _job(self, *job) -> None:
        try:
            generate.generate(*job)
        finally:
            self.active.discard(job[-1])

    def _as_now(self, record: dict, active: bool) -> dict:
        """A result as it stands: one left queued or running by a server that stopped is
        shown as failed, with why. `active` is read before the record: a job writes its last
        record before it leaves the active set, so a finished one is never taken for lost."""
        if record.get("status") in ("queued", "running") and not active:
            why = "not finished: the studio stopped before it was done; generate it again"
            return record | {"status": "failed", "error": why}
        return record

    def _results(self, request: Request) -> places.Results:
        return places.Results(places.run_dir(self.root, request.path_params["run"]))

    # -- uploads ---------------------------------------------------------------------------------
    async def upload(self, request: Request) -> Response:
        try:
            folder, name = await receive_upload(request, self.root)
        except GenError as exc:
            return error(exc)
        return JSONResponse({"upload": f"{folder}/{name}", "folder": folder, "name": name})

    def _upload(self, upload) -> Path | None:
        """The uploaded file or folder `FOLDER[/NAME]` a form names, inside the uploads."""
        if not upload:
            return None
        path = places.inside(places.own_folder(self.root, "uploads"), *str(upload).split("/"))
        if not path.exists():
            raise GenError(f"no upload '{upload}'")
        return path

    # -- training --------------------------------------------------------------------------------
    async def train(self, request: Request) -> Response:
        try:
            form = await _json(request)
            run = self.training.start(form, self._upload(form.get("upload")))
        except GenError as exc:
            return error(exc, 409 if str(exc).startswith("busy") else 400)
        return JSONResponse({"run": run})

    async def train_action(self, request: Request) -> Response:
        try:
            if request.path_params["action"] == "stop":
                self.training.stop()
            else:
                self.training.resume((await _json(request)).get("run", ""))
        except GenError as exc:
            return error(exc, 409)
        return JSONResponse(self.training.status())

    async def train_status(self, request: Request) -> Response:
        return JSONResponse(self.training.status())

    async def train_events(self, request: Request) -> Response:
        """Training progress as server-sent events, one whenever it changes."""

        async def events():
            last = None
            while not await request.is_disconnected():
                now = json.dumps(self.training.status() | {"seconds": None})
                if now != last:
                    yield f"data: {now}\n\n"
                    last = now
                await asyncio.sleep(EVENT_SECONDS)

        from starlette.responses import StreamingResponse

        return StreamingResponse(events(), media_type="text/event-stream")

    def routes(self) -> list[Route]:
        return [
            Route("/", self.index),
            Route("/static/{name}", self.static),
            Route("/api/runs", self.runs),
            Route("/api/runs/{run}", self.run),
            Route("/api/runs/{run}/results", self.results),
            Route("/api/runs/{run}/results/{id}", self.result),
            Route("/api/runs/{run}/generate", self.generate, methods=["POST"]),
            Route("/api/runs/{run}/results/{id}/delete", self.delete, methods=["POST"]),
            Route("/api/runs/{run}/results/{id}/export", self.export, methods=["POST"]),
            Route("/files/{run}/{id}/{name}", self.file),
            Route("/api/uploads", self.upload, methods=["POST"]),
            Route("/api/train", self.train, methods=["POST"]),
            Route("/api/train", self.train_status),
            Route("/api/train/events", self.train_events),
            Route("/api/train/{action:str}", self.train_action, methods=["POST"]),
        ]

    def shutdown(self) -> None:
        self.queue.shutdown()
        self.training.shutdown()


def make_app(root: Path, token: str, queue: Queue | None = None) -> TokenGuard:
    """The studio over the checkpoint folder `root`, guarded by `token`."""
    studio = Studio(root, token, queue)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        studio.shutdown()

    async def bug(request, exc):  # one line on the page; the traceback stays in the log
        return JSONResponse({"error": f"{type(exc).__name__}: {exc}"}, 500)

    app = Starlette(routes=studio.routes(), lifespan=lifespan, exception_handlers={500: bug})
    app.state.studio = studio
    return TokenGuard(app, token)


async def _json(request: Request) -> dict:
    too_big = GenError(f"the request is over {FORM_BYTES // 1024} KB; forms are smaller")
    if int(request.headers.get("content-length") or 0) > FORM_BYTES:
        raise too_big
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > FORM_BYTES:
            raise too_big
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        raise GenError("the request is not JSON") from None
    if not isinstance(data, dict):
        raise GenError("the request is not a JSON object")
    return data


def _media_type(path: Path) -> str | None:
    types = {
        ".oga": "audio/ogg",
        ".mid": "audio/midi",
        ".txt": "text/plain; charset=utf-8",
        ".musicxml": "application/vnd.recordare.musicxml+xml",
        ".wav": "audio/wav",
    }
    return types.get(path.suffix.lower())  # fmt: skip
