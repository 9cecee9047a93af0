"""An HTTP client over the app in-process (its lifespan running), as a client of the given key sees it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from api.app import create_app
from pjs.settings import Settings
from pjs.wiring import api_resources
from support.auth import bearer

LOOPBACK_CLIENT = ("127.0.0.1", 40000)
# Endpoints for every channel (nothing listens at them): an API with these saves journeys naming any.
EVERY_CHANNEL = {
    "webhook_url": "http://127.0.0.1:9/hook",
    "sms_url": "http://127.0.0.1:9/sms",
    "smtp_host": "127.0.0.1",
}


@asynccontextmanager
async def app_client(
    settings: Settings,
    key: str | None,
    *,
    client: tuple[str, int] = LOOPBACK_CLIENT,
    base_url: str = "http://pjs",
) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    """The client (sending `key` as a bearer token unless None) and the app, from the `client` address,
    asking `base_url` (https to see the cookies a browser elsewhere would get)."""
    app = create_app(api_resources(settings))
    transport = httpx.ASGITransport(app=app, client=client)
    headers = bearer(key) if key is not None else None
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url=base_url, headers=headers) as http,
    ):
        yield http, app
