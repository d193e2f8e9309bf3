"""The access token: every request needs it, and a change needs it in a header.

A request carries the token `gen studio` prints in the URL's `?token=`, then in the same-site
cookie the page sets, or in the `X-Gen-Token` header. A request that changes anything is a POST
and must carry it in the header, which a link or another site's form cannot send. Without it
the answer is a bare 403 that tells nothing else.
"""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import Response

COOKIE = "gen_studio_token"


class TokenGuard:
    """ASGI middleware: refuse, with a bare 403, any request without the token."""

    def __init__(self, app, token: str):
        self.app, self.token = app, token

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and not self.allowed(Request(scope)):
            return await Response("403 Forbidden", 403)(scope, receive, send)
        await self.app(scope, receive, send)

    def allowed(self, request: Request) -> bool:
        given = request.headers.get("x-gen-token")
        if request.method in ("GET", "HEAD") and not given:
            given = request.query_params.get("token") or request.cookies.get(cookie_name(request))
        return bool(given) and hmac.compare_digest(given.encode(), self.token.encode())


def cookie_name(request: Request) -> str:
    """The token's cookie, one per port: browsers share cookies across the ports of a host,
    and two studios there have two tokens."""
    return f"{COOKIE}-{request.url.port or 0}"
