"""A TCP forwarder on a loopback port: a service that comes up late, at the address a role waits on."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


@contextlib.asynccontextmanager
async def forwarding(port: int, to: str) -> AsyncIterator[None]:
    """A TCP forwarder on `port` to `to` (host:port): a service (a broker, a Postgres server) 'starting'
    at the address a role waits on."""
    host, target_port = to.rsplit(":", 1)

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    connections: list[asyncio.Task[object]] = []

    async def forward(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        broker_reader, broker_writer = await asyncio.open_connection(host, int(target_port))
        both = asyncio.gather(pipe(client_reader, broker_writer), pipe(broker_reader, client_writer))
        connections.append(both)
        with contextlib.suppress(asyncio.CancelledError):
            await both

    server = await asyncio.start_server(forward, "127.0.0.1", port)
    try:
        yield
    finally:
        server.close()
        for connection in connections:
            connection.cancel()
        await asyncio.gather(*connections, return_exceptions=True)
