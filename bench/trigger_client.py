"""The HTTP client the load generators trigger with: aiohttp, a real API key, loopback only.

Why not httpx, which the rest of the bench uses for its few set-up calls: its connection pool costs the
client 0.6 ms of CPU per request alone and 2.8 ms at 32 concurrent requests (httpx 0.28, httpcore 1.0,
measured on the 2-core machine against a trivial server), against about 0.1 ms for aiohttp. On a machine
shared with the service, such a client takes a third of the CPU the service is being measured with.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson

LOOPBACK = ("127.0.0.1", "localhost", "::1")

TransportError = (aiohttp.ClientError, asyncio.TimeoutError)
"""What a request raises when the connection failed (refused, reset, closed mid-answer) or timed out."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    retry_after: str | None

    def json(self) -> Any:
        return orjson.loads(self.body)


def require_loopback(base_url: str) -> None:
    """Load goes to this machine's loopback only, never to a host elsewhere."""
    host = urlsplit(base_url).hostname
    if host not in LOOPBACK:
        raise ValueError(f"the load generators only talk to loopback, not {host!r}")


@contextlib.asynccontextmanager
async def trigger_session(
    base_url: str, api_key: str, connections: int, timeout_s: float
) -> AsyncIterator[aiohttp.ClientSession]:
    """A session of at most `connections` keep-alive connections, every request with the key."""
    require_loopback(base_url)
    connector = aiohttp.TCPConnector(limit=connections, limit_per_host=connections)
    async with aiohttp.ClientSession(
        base_url,
        connector=connector,
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=aiohttp.ClientTimeout(total=timeout_s),
    ) as session:
        yield session


async def post_json(
    session: aiohttp.ClientSession, path: str, body: dict[str, Any], idempotency_key: str
) -> Answer:
    """POST `body` as JSON with its Idempotency-Key; the whole answer read."""
    headers = {"Content-Type": "application/json", "Idempotency-Key": idempotency_key}
    async with session.post(path, data=orjson.dumps(body), headers=headers) as response:
        return Answer(response.status, await response.read(), response.headers.get("Retry-After"))
