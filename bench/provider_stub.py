"""A stand-in message provider for the `costs` scenario: answers every POST 200 with a provider id.

It runs as its own uvicorn process (`provider_stub`), so the CPU the scenario measures on its own thread
is the service's channel alone, not the provider's.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

from bench.errors import BenchFailure
from bench.pipeline_stack import free_loopback_port
from bench.roles import role_process

_ANSWER = b'{"id": "provider-message"}'
_START_SECONDS = 15.0

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


async def app(scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
    """The ASGI app: reads the request's body, answers 200 with a JSON id."""
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(_ANSWER)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": _ANSWER})


@contextlib.asynccontextmanager
async def provider_stub() -> AsyncIterator[str]:
    """The stub listening on a loopback port; yields the URL messages are POSTed to."""
    port = free_loopback_port()
    arguments = ["-m", "uvicorn", "bench.provider_stub:app", "--host", "127.0.0.1", "--port", str(port)]
    async with role_process([*arguments, "--log-level", "warning"], {}) as process:
        await _listening(port, process)
        yield f"http://127.0.0.1:{port}/messages"


async def _listening(port: int, process: asyncio.subprocess.Process) -> None:
    deadline = asyncio.get_running_loop().time() + _START_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        if process.returncode is not None:
            raise BenchFailure(f"the provider stub exited with {process.returncode}")
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            await writer.wait_closed()
            return
        await asyncio.sleep(0.1)
    raise BenchFailure(f"the provider stub did not listen on port {port} within {_START_SECONDS:.0f}s")
