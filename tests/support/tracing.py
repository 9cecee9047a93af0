"""An API client over an app traced into memory, as `pjs run` traces into an OTLP collector."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from api.app import create_app
from pjs.settings import Settings
from pjs.tracing import enable_tracing, instrument_api, stop_tracing
from pjs.wiring import api_resources
from support.auth import bearer


@asynccontextmanager
async def traced_api(
    settings: Settings, key: str
) -> AsyncIterator[tuple[httpx.AsyncClient, InMemorySpanExporter]]:
    """Tracing on, into memory, and an API client over a traced app."""
    exporter = InMemorySpanExporter()
    provider = enable_tracing("pjs-test", SimpleSpanProcessor(exporter))
    try:
        app = create_app(api_resources(settings))
        instrument_api(app)
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://pjs", headers=bearer(key)) as client,
        ):
            yield client, exporter
    finally:
        stop_tracing(provider)
