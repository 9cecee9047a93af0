"""The header deadline on uvicorn's own protocol class, over a recording transport: which connections it
answers 408, closes silently, or leaves alone. These lean on uvicorn's internals as the API process does,
so an upgrade that moves them fails here first (the real process: test_api_header_deadline.py).
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import httptools
import orjson
from starlette.types import Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from api.header_deadline import TIMED_OUT, HeaderDeadlineProtocol, timeout_response, with_header_deadline
from pjs.logs import QuietRepeats

SECONDS = 0.05
HEAD = b"GET /health HTTP/1.1\r\nHost: pjs\r\n\r\n"


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 40000)}.get(name, default)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class App:
    """Answers 200 once `release` is set."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})


def connect(app: App) -> tuple[HttpToolsProtocol, RecordingTransport]:
    config = Config(app, http=with_header_deadline(SECONDS), log_config=None, timeout_keep_alive=60)
    config.load()
    protocol = config.http_protocol_class(  # type: ignore[call-arg]
        config=config, server_state=ServerState(), app_state={}, _loop=asyncio.get_running_loop()
    )
    assert isinstance(protocol, HttpToolsProtocol)
    transport = RecordingTransport()
    protocol.connection_made(transport)
    return protocol, transport


def statuses(written: bytes | bytearray) -> list[int]:
    return [int(status) for status in re.findall(rb"HTTP/1\.1 (\d{3}) ", written)]


async def test_a_connection_that_sends_nothing_is_closed_without_an_answer() -> None:
    _, transport = connect(App())
    await asyncio.sleep(SECONDS * 3)

    assert transport.closed
    assert transport.written == b""


async def test_a_head_begun_but_not_finished_is_answered_408_and_closed() -> None:
    protocol, transport = connect(App())
    protocol.data_received(b"GET /health HTTP/1.1\r\nHo")
    await asyncio.sleep(SECONDS * 3)

    assert transport.closed
    assert statuses(transport.written) == [408]


async def test_a_connection_idle_after_an_answer_is_left_to_the_keep_alive_timeout() -> None:
    protocol, transport = connect(App())
    protocol.data_received(HEAD)
    await asyncio.sleep(SECONDS * 3)
    protocol.data_received(b"\r\n" + HEAD)  # a stray line break between requests is allowed
    await asyncio.sleep(SECONDS * 3)

    assert not transport.closed
    assert statuses(transport.written) == [200, 200]


async def test_the_next_head_on_a_kept_alive_connection_has_the_same_deadline() -> None:
    protocol, transport = connect(App())
    protocol.data_received(HEAD)
    await asyncio.sleep(SECONDS * 3)
    protocol.data_received(b"GET /health HT")
    await asyncio.sleep(SECONDS * 3)

    assert transport.closed
    assert statuses(transport.written) == [200, 408]


async def test_line_breaks_trickled_between_requests_do_not_hold_the_connection() -> None:
    protocol, transport = connect(App())
    protocol.data_received(HEAD)
    await asyncio.sleep(SECONDS * 3)
    for _ in range(6):
        protocol.data_received(b"\r\n")  # not a request's first byte to the parser, but bytes all the same
        await asyncio.sleep(SECONDS / 2)

    assert transport.closed
    assert statuses(transport.written) == [200]


async def test_a_pipelined_head_stalled_behind_an_answer_closes_the_connection_after_that_answer() -> None:
    app = App()
    app.release.clear()
    protocol, transport = connect(app)
    protocol.data_received(HEAD + b"GET /health HTTP/1.1\r\n")  # the second head never ends
    await asyncio.sleep(SECONDS * 3)
    assert not transport.closed  # the first answer is still being made

    app.release.set()
    await asyncio.sleep(0.01)

    assert transport.closed
    assert statuses(transport.written) == [200]


def test_the_408_is_one_whole_response_in_the_error_shape_then_a_close() -> None:
    seen: dict[str, Any] = {"headers": {}, "body": b""}

    class Response:
        def on_header(self, name: bytes, value: bytes) -> None:
            seen["headers"][name.decode()] = value.decode()

        def on_body(self, body: bytes) -> None:
            seen["body"] += body

        def on_message_complete(self) -> None:
            seen["complete"] = True

    parser = httptools.HttpResponseParser(Response())
    parser.feed_data(timeout_response(10.0, [(b"server", b"uvicorn")]))

    assert (parser.get_status_code(), seen["complete"]) == (408, True)
    assert seen["headers"]["connection"] == "close"
    assert seen["headers"]["content-type"] == "application/json"
    assert orjson.loads(seen["body"]) == {
        "message": "The request headers did not arrive within 10 s (PJS_API_HEADER_TIMEOUT_SECONDS); "
        "send the request line and headers at once."
    }


def test_a_flood_of_slow_clients_logs_one_line_a_window_by_default() -> None:
    quiet = QuietRepeats(window_seconds=60)
    lines = [
        logging.LogRecord(
            HeaderDeadlineProtocol.__module__, logging.INFO, __file__, 1, TIMED_OUT, (10.0, "x"), None
        )
        for _ in range(200)
    ]

    assert sum(quiet.filter(line) for line in lines) == 1
