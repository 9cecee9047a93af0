"""Reading the identity provider's HTTP answers: whole, however they arrive, and never past a size bound."""

from __future__ import annotations

import aiohttp


async def bounded_body(response: aiohttp.ClientResponse, most_bytes: int) -> bytes:
    """The whole body (it may arrive in many pieces); `ValueError` once it passes `most_bytes`."""
    body = bytearray()
    async for chunk in response.content.iter_any():
        body += chunk
        if len(body) > most_bytes:
            raise ValueError(f"the answer is over {most_bytes} bytes")
    return bytes(body)
