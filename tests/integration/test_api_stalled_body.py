"""A client whose request body stops arriving gets a 408 at the request deadline, counted as a client
error; a request the service itself cannot answer in time still gets its 503."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from starlette.types import Message

from api.examples import SEED_JOURNEY
from pjs.settings import Settings
from support.api import app_client
from support.auth import bearer

TRIGGER_ROUTE = "/journeys/{journeyId}/trigger"


@pytest.fixture
async def impatient(settings: Settings, api_key: str) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    """The API with a one-second request deadline, and its app to speak ASGI to directly."""
    async with app_client(settings.model_copy(update={"api_request_seconds": 1.0}), api_key) as pair:
        yield pair


def answered(status_class: str) -> float:
    labels = {"method": "POST", "route": TRIGGER_ROUTE, "status_class": status_class}
    return REGISTRY.get_sample_value("pjs_http_request_duration_seconds_count", labels) or 0.0


async def stalled_trigger(app: FastAPI, journey_id: str, api_key: str) -> list[Message]:
    """POST a trigger whose Content-Length promises 100 bytes, send 10 of them, then nothing more."""
    authorization = bearer(api_key)["Authorization"].encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": f"/journeys/{journey_id}/trigger",
        "raw_path": f"/journeys/{journey_id}/trigger".encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"pjs"),
            (b"authorization", authorization),
            (b"content-type", b"application/json"),
            (b"content-length", b"100"),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("pjs", 80),
    }
    chunks: list[Message] = [{"type": "http.request", "body": b'{"id": "p-', "more_body": True}]

    async def receive() -> Message:
        if chunks:
            return chunks.pop()
        await asyncio.Event().wait()  # the rest of the body never comes
        raise AssertionError("unreachable")

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async with asyncio.timeout(10):
        await app(scope, receive, send)
    return sent


async def test_a_trigger_whose_body_never_finishes_is_answered_408_and_counted_as_the_clients(
    impatient: tuple[httpx.AsyncClient, FastAPI], api: httpx.AsyncClient, api_key: str
) -> None:
    _, app = impatient
    journey_id = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]  # the usual deadline
    client_errors, server_errors = answered("4xx"), answered("5xx")

    start, content = await stalled_trigger(app, journey_id, api_key)

    assert start["status"] == 408
    assert (b"connection", b"close") in start["headers"]
    message = orjson.loads(content["body"])["message"]
    assert message.startswith("The request body did not arrive within 1 s (PJS_API_REQUEST_SECONDS)")
    assert (answered("4xx"), answered("5xx")) == (client_errors + 1, server_errors)
    assert (await api.get("/journeys/runs", params={"journeyId": journey_id})).json()["runs"] == []
