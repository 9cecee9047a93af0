"""A deadline on every request: one the service cannot answer in time gets a 503, never an endless wait;
one whose body the client has not finished sending by then gets a 408, the client's fault, not ours.

A frozen database (a stopped server, a lock held by a stuck transaction) would otherwise hold the
client's connection until the statement timeout, and a client without a timeout of its own forever.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import body
from api.head_requests import sent_method
from api.response_start import NotedSend

log = logging.getLogger(__name__)


class RequestDeadline:
    """ASGI middleware: a request still unanswered after `seconds` is cancelled and answered 503 with
    Retry-After, or 408 when the route was still waiting for the rest of its body. Cancelling is safe: an
    append either committed (a retry with the same Idempotency-Key finds it) or did not."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        arrival = _BodyArrival(receive)
        noted = NotedSend(send)
        try:
            async with asyncio.timeout(self.seconds):
                await self.app(scope, arrival.receive, noted)
        except TimeoutError:
            if noted.started:
                raise  # half a response is out: nothing better to do than drop the connection
            response = self._body_late(scope) if arrival.awaited else self._unanswered(scope)
            await response(scope, receive, send)

    def _unanswered(self, scope: Scope) -> JSONResponse:
        log.warning(
            "a %s request was not answered within %.1f s; answered 503", sent_method(scope), self.seconds
        )
        message = (
            f"The service did not answer within {self.seconds:g} s (PJS_API_REQUEST_SECONDS); retry shortly."
        )
        return JSONResponse(body(message), status_code=503, headers={"Retry-After": "1"})

    def _body_late(self, scope: Scope) -> JSONResponse:
        # The client's doing (a stalled or lying Content-Length), so no warning and no 5xx in the metrics.
        log.info(
            "a %s request's body did not arrive within %.1f s; answered 408", sent_method(scope), self.seconds
        )
        message = (
            f"The request body did not arrive within {self.seconds:g} s (PJS_API_REQUEST_SECONDS); "
            "send the whole body promptly, as long as its Content-Length says."
        )
        # The rest of the body may still come: the connection cannot carry another request.
        return JSONResponse(body(message), status_code=408, headers={"Connection": "close"})


class _BodyArrival:
    """Wraps `receive` to tell whether the route was still waiting for its request body."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._waiting = False
        self._complete = False

    @property
    def awaited(self) -> bool:
        """The route is waiting for body bytes that have not come (not for a disconnect after them)."""
        return self._waiting and not self._complete

    async def receive(self) -> Message:
        self._waiting = True
        message = await self._receive()
        # Not reset when the deadline cancels the wait: that is the moment this flag speaks of.
        self._waiting = False
        if message["type"] == "http.request" and not message.get("more_body", False):
            self._complete = True
        return message
