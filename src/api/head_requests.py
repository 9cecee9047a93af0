"""HEAD is answered as GET would be, without the body: one middleware for every GET route (RFC 9110 9.3.2).

FastAPI's routes take only the methods they declare (Starlette's own add HEAD to a GET, FastAPI's do not),
so a HEAD reaches every route as a GET: the same authentication, scopes, tenancy, 4xx answers and headers,
a `Content-Length` of the body GET would send (none if GET streams one), and no body. The app is handed a
copy of the scope, so the server's own stays a HEAD (it expects no body); the metrics, logs and the audit
log still know the request as a HEAD (`sent_method`, `answering_head`), and the audit log records that
only the status and headers were sent.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_HEAD_KEY = "pjs.head"

answering_head: ContextVar[bool] = ContextVar("answering_head", default=False)
"""True while a HEAD request is being answered: what the access audit notes of the reads it makes."""


def sent_method(scope: Scope) -> str:
    """The method the client sent: HEAD, where the routes below this middleware see GET."""
    return "HEAD" if scope.get(_HEAD_KEY) else str(scope["method"])


class HeadAsGet:
    """ASGI middleware, outermost: every answer below it (a route's, a 405, the deadline's 503) loses its
    body when it answers a HEAD."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {**message, "body": b""}
            await send(message)

        as_get: dict[str, Any] = {**scope, "method": "GET", _HEAD_KEY: True}
        token = answering_head.set(True)
        try:
            await self.app(as_get, receive, headers_only)
        finally:
            answering_head.reset(token)
