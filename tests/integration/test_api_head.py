"""HEAD is answered wherever GET is, as GET would answer it but without the body (RFC 9110 9.3.2): the same
status, the same headers with the Content-Length of GET's body, the same refusals; audited as a HEAD."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
import uvicorn

from api.api_keys import Scope
from api.app import create_app
from api.examples import SEED_JOURNEY, SEED_PATIENT
from pjs.settings import Settings
from pjs.wiring import api_resources
from support.api import app_client
from support.auth import issue_test_key
from support.database import settled
from support.ui import sign_in

# Headers that differ between any two answers (or not sent by both): the rest must be equal.
_PER_ANSWER = {"date", "x-request-id", "traceparent", "set-cookie"}


async def run_of(api: httpx.AsyncClient) -> tuple[str, str]:
    """A journey id and the id of a run of it."""
    journey_id = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]
    triggered = await api.post(f"/journeys/{journey_id}/trigger", json=SEED_PATIENT)
    assert triggered.status_code == 202, triggered.text
    return journey_id, triggered.json()["runId"]


def assert_head_of(get: httpx.Response, head: httpx.Response) -> None:
    """`head` answers as `get` did, without its body."""
    assert head.status_code == get.status_code, head.request.url
    assert head.content == b""
    same = {name: value for name, value in get.headers.items() if name not in _PER_ANSWER}
    assert {name: head.headers.get(name) for name in same} == same, head.request.url
    if "content-length" in get.headers:
        assert int(head.headers["content-length"]) == len(get.content)


async def test_a_head_of_a_run_answers_its_gets_status_and_headers_without_the_body(
    api: httpx.AsyncClient,
) -> None:
    _, run_id = await run_of(api)

    get = await api.get(f"/journeys/runs/{run_id}")
    head = await api.head(f"/journeys/runs/{run_id}")

    assert get.status_code == 200 and get.json()["runId"] == run_id
    assert_head_of(get, head)


async def test_every_get_operation_of_the_document_and_the_explorers_pages_answer_head(
    api: httpx.AsyncClient, settings: Settings, api_key: str, pool: asyncpg.Pool
) -> None:
    journey_id, run_id = await run_of(api)
    document = (await api.get("/openapi.json")).json()
    paths = [path for path, operations in document["paths"].items() if "get" in operations]
    filled = [path.format(journeyId=journey_id, runId=run_id) for path in paths]
    await settled(pool)  # the listings show the journey and the run to both
    changing = {"/metrics", "/ready", "/audit"}  # their body differs from one answer to the next (a read
    # of the audit log is audited)

    for path in filled:
        get, head = await api.get(path), await api.head(path)
        assert get.status_code < 400, path
        if path in changing:
            assert head.status_code == get.status_code and head.content == b"", path
        else:
            assert_head_of(get, head)
    async with app_client(settings, None) as (browser, _):
        assert_head_of(await browser.get("/ui/journeys"), await browser.head("/ui/journeys"))  # to sign in
        await sign_in(browser, api_key)
        for page in ("/ui/journeys", f"/ui/journeys/{journey_id}", "/ui/runs", f"/ui/live/runs/{run_id}"):
            get, head = await browser.get(page), await browser.head(page)
            assert get.status_code == 200, page
            assert_head_of(get, head)


async def test_a_head_is_refused_as_its_get_is_and_its_403_audit_entry_names_the_head(
    api: httpx.AsyncClient, settings: Settings, migration_pool: asyncpg.Pool
) -> None:
    _, run_id = await run_of(api)
    no_scope = await issue_test_key(settings.resolved_migration_database_url(), [Scope.JOURNEYS_READ])
    elsewhere = await issue_test_key(settings.resolved_migration_database_url())
    path = f"/journeys/runs/{run_id}"
    clients = [app_client(settings, key) for key in (None, no_scope, elsewhere)]

    statuses = []
    for client in clients:
        async with client as (caller, _):
            get, head = await caller.get(path), await caller.head(path)
            assert_head_of(get, head)
            statuses.append(head.status_code)
    not_a_uuid = await api.head("/journeys/runs/Jane%20Roe")

    assert statuses == [401, 403, 404]
    assert not_a_uuid.status_code == 404 and not_a_uuid.content == b""
    refusals = await migration_pool.fetch(
        "SELECT details->>'route' AS route, details->>'method' AS method FROM audit_log"
        " WHERE action = 'AccessRefused' ORDER BY audit_id"
    )
    assert [(row["route"], row["method"]) for row in refusals] == [
        ("GET /journeys/runs/{runId}", None),
        ("HEAD /journeys/runs/{runId}", "HEAD"),
    ]


async def test_a_head_where_no_get_is_is_405_and_an_explorer_pages_allow_names_head(
    api: httpx.AsyncClient,
) -> None:
    _, run_id = await run_of(api)

    head_of_a_post = await api.head(f"/journeys/runs/{run_id}/cancel")
    on_a_page = await api.delete("/ui/runs")

    assert head_of_a_post.status_code == 405 and head_of_a_post.headers["Allow"] == "POST"
    assert head_of_a_post.content == b""
    assert on_a_page.status_code == 405 and {"GET", "HEAD"} <= set(on_a_page.headers["Allow"].split(", "))


async def test_a_head_of_a_run_is_audited_once_as_a_read_marked_head(api: httpx.AsyncClient) -> None:
    _, run_id = await run_of(api)

    await api.head(f"/journeys/runs/{run_id}")
    await api.get(f"/journeys/runs/{run_id}")
    entries = (await api.get("/audit", params={"runId": run_id})).json()["entries"]

    reads = [entry["details"] for entry in entries if entry["action"] == "RunRead"]
    assert reads == [{"method": "HEAD"}, {}]


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[int]:
    """The app under uvicorn on a free loopback port: what a client's connection meets in production."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(api_resources(settings)), log_level="critical"))
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    async with asyncio.timeout(60):
        while not server.started:
            assert not serving.done(), "uvicorn stopped before it started serving"
            await asyncio.sleep(0.05)
    yield listener.getsockname()[1]
    server.should_exit = True
    await serving


async def test_on_the_real_server_a_head_sends_no_body_and_its_connection_serves_the_next_request(
    served: int, api_key: str
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", served)
    try:
        heads = []
        for method in ("HEAD", "GET"):
            request = (
                f"{method} /journeys HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {api_key}\r\n\r\n"
            )
            writer.write(request.encode())
            heads.append((await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower())
            if method == "GET":
                length = int(heads[-1].split("content-length: ")[1].split("\r\n")[0])
                body = await reader.readexactly(length)
    finally:
        writer.close()

    assert heads[0].startswith("http/1.1 200") and heads[1].startswith("http/1.1 200")
    assert f"content-length: {len(body)}\r\n" in heads[0]  # the GET's length; the GET's head came next
