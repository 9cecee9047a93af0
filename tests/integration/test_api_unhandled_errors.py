"""A 500 leaves the client's kept-alive connection usable, on the API's real HTTP server (uvicorn with
httptools), as a client that pools connections reuses it.

Starlette answered an unhandled error with our 500 and then raised it again; uvicorn closes the connection
of a request that raised after its response started, without having said `Connection: close`, so the
client's next request on that connection met ECONNRESET or an empty read. The faults here are test-only
routes and middleware added to the real app: nothing in the service raises on purpose.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from api.app import create_app
from api.header_deadline import with_header_deadline
from pjs.settings import Settings
from pjs.wiring import api_resources
from support.connections import connection
from support.roles import free_port

FAULT = "/test-only/fault"


async def fails() -> None:
    raise RuntimeError("a fault no handler maps")


class FailingMiddleware:
    """A fault in a middleware, outside the routes: it reaches Starlette's outermost handler."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/test-only/middleware-fault":
            raise RuntimeError("a fault in a middleware")
        await self.app(scope, receive, send)


@asynccontextmanager
async def served(app: FastAPI, settings: Settings) -> AsyncIterator[int]:
    """The app on uvicorn as the api role configures it (httptools, a header deadline); its port."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="critical", access_log=False, loop="none",
        http=with_header_deadline(settings.api_header_timeout_seconds),
    )  # fmt: skip
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        for _ in range(200):
            if server.started:
                break
            await asyncio.sleep(0.05)
        assert server.started
        yield port
    finally:
        server.should_exit = True
        await serving


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str) -> tuple[int, str]:
    """One HTTP/1.1 request on an open connection: its status and head (the body is read in full)."""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode("ascii"))
    await writer.drain()
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
    length = next(line for line in head.split("\r\n") if line.startswith("content-length:"))
    await reader.readexactly(int(length.split(":", 1)[1]))
    return int(head.split(" ")[1]), head


@pytest.fixture
async def app(settings: Settings) -> FastAPI:
    app = create_app(api_resources(settings))
    app.add_api_route(FAULT, fails)
    app.add_middleware(FailingMiddleware)
    return app


async def test_after_a_500_the_same_kept_alive_connection_serves_the_next_request(
    app: FastAPI, settings: Settings
) -> None:
    async with served(app, settings) as port, connection(port) as (reader, writer):
        for _ in range(8):  # a review lost the connection in 5 of 8 tries
            status, head = await exchange(reader, writer, FAULT)
            assert status == 500 and "connection: close" not in head

            assert (await exchange(reader, writer, "/health"))[0] == 200  # the same connection


async def test_a_500_from_outside_the_routes_says_the_connection_closes(
    app: FastAPI, settings: Settings
) -> None:
    async with served(app, settings) as port, connection(port) as (reader, writer):
        status, head = await exchange(reader, writer, "/test-only/middleware-fault")

        assert status == 500 and "connection: close" in head  # a client opens a new one, never reuses
        assert await reader.read() == b""  # closed cleanly after the answer
