"""A deadline on every request: one the service cannot answer in time gets a 503, never an endless wait.

A frozen database (a stopped server, a lock held by a stuck transaction) would otherwise hold the
client's connection until the statement timeout, and a client without a timeout of its own forever.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import body

log = logging.getLogger(__name__)


class RequestDeadline:
    """ASGI middleware: a request still unanswered after `seconds` is cancelled and answered 503 with
    Retry-After. Cancelling is safe: an append either committed (a retry with the same Idempotency-Key
    finds it) or did not."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        answering = False

        async def noting_send(message: Message) -> None:
            nonlocal answering
            answering = answering or message["type"] == "http.response.start"
            await send(message)

        try:
            async with asyncio.timeout(self.seconds):
                await self.app(scope, receive, noting_send)
        except TimeoutError:
            if answering:
                raise  # half a response is out: nothing better to do than drop the connection
            log.warning(
                "a %s request was not answered within %.1f s; answered 503", scope["method"], self.seconds
            )
            message = (
                f"The service did not answer within {self.seconds:g} s (PJS_API_REQUEST_SECONDS); "
                "retry shortly."
            )
            response = JSONResponse(body(message), status_code=503, headers={"Retry-After": "1"})
            await response(scope, receive, send)
