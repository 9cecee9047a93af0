"""The innermost middleware: a route's error that no handler maps is answered (a 500) and ends there.

Left to Starlette's outermost handler, the same 500 went out and the error was raised again to the server,
which closes a connection whose request raised after its answer started, unannounced: a client reusing
its kept-alive connection met ECONNRESET. An error after the answer started cannot be answered: it still
goes up, and the server drops that connection, as it must.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from api.response_start import NotedSend


class UnhandledErrors:
    """ASGI middleware: `answer(request, error)` is the response to an error the app raised unanswered."""

    def __init__(self, app: ASGIApp, answer: Callable[[Request, Exception], Awaitable[Response]]) -> None:
        self.app = app
        self.answer = answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        noted = NotedSend(send)
        try:
            await self.app(scope, receive, noted)
        except Exception as error:
            if noted.started:
                raise
            response = await self.answer(Request(scope, receive), error)
            await response(scope, receive, send)
