"""`gen studio`: serve the browser app over a checkpoint folder."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import click

from generator.cli.common import checkpoint_dir_option, reporter
from generator.errors import GenError

NEEDS = ("starlette", "uvicorn")


@click.command()
@click.option("--port", default=8765, show_default=True, help="Port to listen on (0: any free).")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; 0.0.0.0 lets other machines in (they still need the token).",
)
@checkpoint_dir_option("The runs the studio shows, trains into and samples from.")
@click.option("--open", "open_page", is_flag=True, help="Open the page in the default browser.")
@click.option(
    "--token", envvar="GEN_STUDIO_TOKEN", help="Access token (default: a new random one)."
)
def studio(port, host, checkpoint_dir, open_page, token):
    """Train, generate, look and listen in a browser page.

    Prints the page's address with its access token; every request needs that token."""
    import secrets

    missing = [name for name in NEEDS if importlib.util.find_spec(name) is None]
    if missing:
        raise GenError(f"gen studio needs {' and '.join(missing)}: pip install {' '.join(NEEDS)}")
    from generator.config import check_range

    check_range("port", port, 0, 65535)
    token = token or secrets.token_urlsafe(24)
    Path(checkpoint_dir).mkdir(parents=True, exist_ok=True)
    _serve(Path(checkpoint_dir), host, port, token, open_page, reporter())


def _serve(root: Path, host: str, port: int, token: str, open_page: bool, log) -> None:
    """Run the server until Ctrl-C, printing the address once it listens."""
    import socket

    import uvicorn

    from generator.studio.app import make_app

    try:
        sock = socket.create_server((host, port))
    except OSError as exc:
        raise GenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    url = f"http://{shown}:{sock.getsockname()[1]}/?token={token}"
    log(f"gen studio: {url}")
    log(f"runs in {root.resolve()}; Ctrl-C stops (training saves and stops)")
    if open_page:
        import webbrowser

        webbrowser.open(url)
    # an open page's event stream must not hold Ctrl-C up
    config = uvicorn.Config(make_app(root, token), log_level="warning", timeout_graceful_shutdown=2)
    uvicorn.Server(config).run(sockets=[sock])
