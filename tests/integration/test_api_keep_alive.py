"""An idle keep-alive connection outlives common client pools' expiry, so a reused one is never dropped.

uvicorn's default keep-alive timeout (5 s) equals httpx's default pool expiry (5 s): the server closed an
idle connection just as the client reused it, and the client saw `httpx.ReadError` with nothing logged.
"""

from __future__ import annotations

import asyncio

import httpx

from pjs.settings import Settings
from support.auth import issue_test_key
from support.roles import eventually, free_port, role_processes

CLIENT_POOL_EXPIRY_SECONDS = 5.0  # httpx's default keepalive_expiry


async def _ready(base_url: str) -> bool | None:
    try:
        async with httpx.AsyncClient(base_url=base_url) as client:
            return (await client.get("/ready")).status_code == 200
    except httpx.TransportError:
        return None


async def _get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str, key: str) -> int:
    """One HTTP/1.1 request on an open connection; its status (the body is read so the next can follow)."""
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n\r\n".encode("ascii")
    )
    await writer.drain()
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    lines = head.split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
    await reader.readexactly(int(headers["content-length"]))
    return int(lines[0].split(" ")[1])


async def test_a_connection_idle_longer_than_a_client_pools_expiry_is_still_served(
    settings: Settings,
) -> None:
    settings = settings.model_copy(update={"http_port": free_port()})
    key = await issue_test_key(settings.resolved_migration_database_url())
    base_url = f"http://127.0.0.1:{settings.http_port}"
    with role_processes(settings, "api"):
        await eventually(lambda: _ready(base_url), seconds=60)
        reader, writer = await asyncio.open_connection("127.0.0.1", settings.http_port)
        try:
            assert await _get(reader, writer, "/journeys", key) == 200
            await asyncio.sleep(CLIENT_POOL_EXPIRY_SECONDS + 1.5)

            assert await _get(reader, writer, "/journeys", key) == 200  # the same connection, reused
        finally:
            writer.close()
