"""A client that never finishes its request head cannot hold a connection of the API process: at
PJS_API_HEADER_TIMEOUT_SECONDS it is answered 408 and disconnected (having sent nothing, just disconnected),
however slowly it trickles bytes; heads sent in time, and idle keep-alive connections, are untouched."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from pjs.settings import Settings
from support.connections import connection
from support.roles import eventually, free_port, role_processes

HEADER_SECONDS = 1.0
LATE = 1.5  # how much later than the timeout a close may come, on a busy two-core machine
STALLED = 200
TIMED_OUT_LINE = "request head did not arrive within 1.0 s"


@dataclass(frozen=True)
class ApiProcess:
    """A real api process (uvloop, httptools) on loopback, with a one-second header timeout."""

    port: int
    log_file: Path

    def log(self) -> str:
        return self.log_file.read_text()


@pytest.fixture
async def api_process(settings: Settings, tmp_path: Path) -> AsyncIterator[ApiProcess]:
    settings = settings.model_copy(
        update={"http_port": free_port(), "api_header_timeout_seconds": HEADER_SECONDS}
    )
    started = ApiProcess(settings.http_port, tmp_path / "api_process.log")
    with role_processes(settings, "api", log_file=started.log_file):
        await eventually(lambda: _healthy(started.port), seconds=60)
        yield started


async def _healthy(port: int) -> bool | None:
    try:
        async with httpx.AsyncClient() as client:
            return (await client.get(f"http://127.0.0.1:{port}/health")).status_code == 200
    except httpx.TransportError:
        return None


async def _until_closed(reader: asyncio.StreamReader, since: float = 0.0) -> tuple[bytes, float]:
    """Everything the server sends until it disconnects, and when (monotonic clock, less `since`)."""
    received = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := await reader.read(65536):
            received += chunk
    return received, time.monotonic() - since


async def _trickle(writer: asyncio.StreamWriter, data: bytes, every: float) -> None:
    """Send `data` a byte at a time, until its end or until the server hangs up."""
    with contextlib.suppress(ConnectionError):
        for byte in data:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(every)


def _status_and_headers(head: bytes) -> tuple[int, dict[str, str]]:
    status_line, *lines = head.decode("latin-1").strip().split("\r\n")
    return int(status_line.split(" ")[1]), dict(line.lower().split(": ", 1) for line in lines)


def _timeout_message(response: bytes) -> str:
    """The message of a 408 answer with `Connection: close`; fails on any other answer."""
    head, _, content = response.partition(b"\r\n\r\n")
    status, headers = _status_and_headers(head)
    assert (status, headers["connection"], headers["content-type"]) == (408, "close", "application/json")
    message: str = orjson.loads(content)["message"]
    return message


async def _answer_status(reader: asyncio.StreamReader) -> int:
    """The status of the next answer on the connection, read whole so the next can follow."""
    status, headers = _status_and_headers(await reader.readuntil(b"\r\n\r\n"))
    await reader.readexactly(int(headers["content-length"]))
    return status


async def _timeouts_counted(port: int) -> float:
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    samples = [s for family in text_string_to_metric_families(text) for s in family.samples]
    return sum(s.value for s in samples if s.name == "pjs_http_header_timeouts_total")


async def test_a_client_that_connects_and_sends_nothing_is_disconnected_at_the_header_timeout(
    api_process: ApiProcess,
) -> None:
    async with connection(api_process.port) as (reader, _):
        opened = time.monotonic()

        async with asyncio.timeout(HEADER_SECONDS + LATE + 5):
            received, closed = await _until_closed(reader)

    assert received == b""  # nothing was asked, so nothing is answered
    assert HEADER_SECONDS - 0.1 <= closed - opened <= HEADER_SECONDS + LATE


async def test_a_client_trickling_its_headers_is_answered_408_at_the_timeout_and_nothing_it_sent_is_logged(
    api_process: ApiProcess,
) -> None:
    async with connection(api_process.port) as (reader, writer):
        opened = time.monotonic()
        writer.write(b"GET /runs/patient-canary-4711 HTTP/1.1\r\nAuthorization: Bearer key-canary-0815\r\n")
        # A byte every 50 ms: the head would end after 10 s; the timer must not restart with each byte.
        trickle = b"X-Slow: " + b"a" * 200 + b"\r\n\r\n"
        trickling = asyncio.create_task(_trickle(writer, trickle, every=0.05))

        async with asyncio.timeout(HEADER_SECONDS + LATE + 5):
            received, closed = await _until_closed(reader)
        still_sending = not trickling.done()
        trickling.cancel()

    assert still_sending  # the server hung up on it; it did not just finish
    assert HEADER_SECONDS - 0.1 <= closed - opened <= HEADER_SECONDS + LATE
    assert _timeout_message(received).startswith(
        "The request headers did not arrive within 1 s (PJS_API_HEADER_TIMEOUT_SECONDS)"
    )
    log = api_process.log()
    assert f"{TIMED_OUT_LINE}; answered 408 and closed" in log
    assert "canary" not in log


async def test_heads_sent_in_pieces_within_the_timeout_on_a_connection_idle_longer_between_are_served(
    api_process: ApiProcess,
) -> None:
    async with connection(api_process.port) as (reader, writer):
        statuses = []
        for request in range(3):
            if request:
                await asyncio.sleep(HEADER_SECONDS * 1.5)  # idle: uvicorn's keep-alive timeout (75 s) applies
            for piece in (b"GET /hea", b"lth HTTP/1.1\r\nHost: 127.0.0.1\r\n", b"\r\n"):
                writer.write(piece)
                await asyncio.sleep(HEADER_SECONDS / 10)  # leaving a busy machine most of the timeout
            statuses.append(await _answer_status(reader))

    assert statuses == [200, 200, 200]


async def test_two_hundred_stalled_connections_are_all_closed_while_health_answers_throughout(
    api_process: ApiProcess,
) -> None:
    async with contextlib.AsyncExitStack() as connections:
        closing = []
        for number in range(STALLED):
            reader, writer = await connections.enter_async_context(connection(api_process.port))
            if number % 2:
                writer.write(b"GET /health HTTP/1.1\r\nHost: 127.0.")  # half a head, then nothing
            closing.append(asyncio.create_task(_until_closed(reader, since=time.monotonic())))

        assert await _healthy(api_process.port)  # while every one of them holds a connection
        async with asyncio.timeout(HEADER_SECONDS + LATE + 5):
            results = await asyncio.gather(*closing)

    assert max(seconds for _, seconds in results) <= HEADER_SECONDS + LATE
    assert all(_timeout_message(received) for received, _ in results[1::2])
    assert [received for received, _ in results[::2]] == [b""] * (STALLED // 2)
    assert await _healthy(api_process.port)
    assert await _timeouts_counted(api_process.port) == STALLED
    # One line for the whole flood: the rest are held back (pjs.logs.QuietRepeats), and counted.
    assert api_process.log().count(TIMED_OUT_LINE) == 1
