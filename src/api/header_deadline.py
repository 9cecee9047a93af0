"""A deadline on each request's head: a client that has not sent its whole request line and headers within
PJS_API_HEADER_TIMEOUT_SECONDS is answered 408 and disconnected, so silent or trickling clients cannot hold
the API's connections (and file descriptors) for ever.

uvicorn times out an idle keep-alive connection but nothing while a request's head arrives, and the head
never reaches the ASGI app (`api/deadline.py` bounds the body). So this is a subclass of uvicorn's
httptools protocol. It relies on uvicorn internals: the parser callbacks it overrides, and the protocol's
`transport`, `cycle`, `loop` and `server_state.default_headers`; tests/unit/test_header_deadline.py and
tests/integration/test_api_header_deadline.py fail if an upgrade changes them.
"""

from __future__ import annotations

import asyncio
import logging
from typing import ClassVar

import orjson
from prometheus_client import Counter
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.errors import body

log = logging.getLogger(__name__)

TIMED_OUT = "a connection's request head did not arrive within %.1f s; %s"
"""The one log line (a template: pjs.logs.QuietRepeats holds back its repeats). No address, path or header:
they may carry keys or patient data."""

HEADER_TIMEOUTS = Counter(
    "pjs_http_header_timeouts",
    "Connections the API closed because a request's head did not arrive within "
    "PJS_API_HEADER_TIMEOUT_SECONDS.",
)


def timeout_response(seconds: float, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    """The 408 written in place of an answer: the error shape of every other refusal, then a close."""
    content = orjson.dumps(
        body(
            f"The request headers did not arrive within {seconds:g} s (PJS_API_HEADER_TIMEOUT_SECONDS); "
            "send the request line and headers at once."
        )
    )
    lines = [b"HTTP/1.1 408 Request Timeout"]
    lines += [name + b": " + value for name, value in default_headers]
    lines += [
        b"content-type: application/json",
        b"content-length: " + str(len(content)).encode("ascii"),
        b"connection: close",
    ]
    return b"\r\n".join(lines) + b"\r\n\r\n" + content


class HeaderDeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, plus a timer from the moment a request's head is awaited (the connection
    opened, or the first byte after a response, when uvicorn's own keep-alive timer stops) to the end of its
    headers. Bytes arriving do not restart it, so a trickle gains nothing."""

    header_seconds: ClassVar[float] = 10.0
    _head_timer: asyncio.TimerHandle | None = None
    _awaiting_head = True  # no request under way: the next bytes are a request head
    _head_begun = False  # the awaited head's first byte was parsed

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._awaiting_head:
            self._arm()  # the keep-alive timer's end: uvicorn cancels it on any byte
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._awaiting_head = self._head_begun = True
        self._arm()  # a pipelined head may begin in the same bytes that ended the request before

    def on_headers_complete(self) -> None:
        self._disarm()
        self._awaiting_head = self._head_begun = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._awaiting_head = True

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.header_seconds, self._head_late)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_late(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        HEADER_TIMEOUTS.inc()
        if self.cycle is not None and not self.cycle.response_complete:
            # The request before is still being answered: finish that answer, then close.
            self.cycle.keep_alive = False
            log.info(TIMED_OUT, self.header_seconds, "closed after the answer under way")
        elif self._head_begun:
            self.transport.write(timeout_response(self.header_seconds, self.server_state.default_headers))
            self.transport.close()
            log.info(TIMED_OUT, self.header_seconds, "answered 408 and closed")
        else:
            # Nothing of a request came: like an idle keep-alive connection, closed without an answer (a
            # browser's unused preconnection would otherwise read a 408 it never asked for).
            self.transport.close()
            log.info(TIMED_OUT, self.header_seconds, "closed")


def with_header_deadline(seconds: float) -> type[HeaderDeadlineProtocol]:
    """The protocol class to hand `uvicorn.Config(http=...)`: uvicorn makes one per connection itself."""

    class ConfiguredHeaderDeadline(HeaderDeadlineProtocol):
        header_seconds = seconds

    return ConfiguredHeaderDeadline
