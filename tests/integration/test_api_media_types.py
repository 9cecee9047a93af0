"""On the real API: a body sent as another media type than JSON is a 415 on every route that reads JSON,
documented in the OpenAPI document; an API-key caller may leave the Content-Type out; and a browser's
run explorer session opens none of these routes, so a page of another site cannot use it to change
anything (the explorer's own forms need their CSRF token, and a form body)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import orjson
import pytest

from api.examples import SEED_JOURNEY, SEED_PATIENT
from api.ui.sessions import SESSION_COOKIE
from pjs.settings import Settings
from support.api import app_client
from support.stored import journey_versions_in_store, runs_in_store
from support.ui import sign_in

# (method, path): {journey} is a saved journey's id.
JSON_ROUTES = [
    ("POST", "/journeys"),
    ("PUT", "/journeys/{journey}"),
    ("POST", "/journeys/{journey}/trigger"),
    ("POST", "/journeys/{journey}/trigger-batch"),
    ("POST", "/journeys/runs/search"),
    ("POST", "/audit/search"),
]
# The media types an HTML form of any site can send without asking the browser's leave (CORS).
FORM_TYPES = ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]


@pytest.fixture
async def journey(api: httpx.AsyncClient) -> str:
    journey_id: str = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]
    return journey_id


@pytest.fixture
async def browser(settings: Settings, api_key: str) -> AsyncIterator[httpx.AsyncClient]:
    """A browser signed in to the run explorer: it holds a session cookie, and no API key."""
    async with app_client(settings, None) as (client, _):
        await sign_in(client, api_key)
        yield client


@pytest.mark.parametrize(("method", "path"), JSON_ROUTES)
async def test_every_route_that_reads_json_answers_415_to_another_media_type(
    api: httpx.AsyncClient, journey: str, pool: asyncpg.Pool, method: str, path: str
) -> None:
    body = orjson.dumps(SEED_PATIENT)

    response = await api.request(
        method, path.format(journey=journey), content=body, headers={"Content-Type": "text/plain"}
    )

    assert response.status_code == 415, response.text
    assert response.json()["message"] == (
        "The request body must be JSON (Content-Type: application/json), not text/plain."
    )
    assert (await journey_versions_in_store(pool), await runs_in_store(pool)) == (1, 0)


@pytest.mark.parametrize("media_type", FORM_TYPES)
async def test_a_journey_posted_as_a_form_is_415_and_not_saved(
    api: httpx.AsyncClient, pool: asyncpg.Pool, media_type: str
) -> None:
    response = await api.post(
        "/journeys", content=orjson.dumps(SEED_JOURNEY), headers={"Content-Type": media_type}
    )

    assert response.status_code == 415, response.text
    assert await journey_versions_in_store(pool) == 0


async def test_the_openapi_document_lists_the_415_of_every_route_that_reads_json(
    api: httpx.AsyncClient,
) -> None:
    paths = (await api.get("/openapi.json")).json()["paths"]

    for method, path in JSON_ROUTES:
        operation = paths[path.replace("{journey}", "{journeyId}")][method.lower()]
        assert "415" in operation["responses"], (method, path)


async def test_an_api_key_caller_may_leave_the_content_type_out(
    api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    saved = await api.post("/journeys", content=orjson.dumps(SEED_JOURNEY))
    assert saved.status_code == 201, saved.text

    started = await api.post(
        f"/journeys/{saved.json()['journeyId']}/trigger", content=orjson.dumps(SEED_PATIENT)
    )

    assert started.status_code == 202, started.text
    assert await runs_in_store(pool) == 1


@pytest.mark.parametrize("headers", [{}, {"Content-Type": "text/plain"}], ids=["no type", "text/plain"])
async def test_the_explorers_session_cookie_opens_no_json_route(
    browser: httpx.AsyncClient, journey: str, pool: asyncpg.Pool, headers: dict[str, str]
) -> None:
    # The cookie's path is /ui, so a browser would not even send it here: sent anyway, it counts for nothing.
    session = {"Cookie": f"{SESSION_COOKIE}={browser.cookies[SESSION_COOKIE]}", **headers}

    saved = await browser.post("/journeys", content=orjson.dumps(SEED_JOURNEY), headers=session)
    started = await browser.post(
        f"/journeys/{journey}/trigger", content=orjson.dumps(SEED_PATIENT), headers=session
    )

    assert (saved.status_code, started.status_code) == (401, 401)
    assert (await journey_versions_in_store(pool), await runs_in_store(pool)) == (1, 0)


async def test_an_explorer_form_sent_as_json_is_415_and_changes_nothing(
    api: httpx.AsyncClient, browser: httpx.AsyncClient, journey: str
) -> None:
    started = await api.post(f"/journeys/{journey}/trigger", json=SEED_PATIENT)
    run_id = started.json()["runId"]

    response = await browser.post(f"/ui/runs/{run_id}/cancel", json={"confirm": "yes"})

    assert response.status_code == 415
    assert (await api.get(f"/journeys/runs/{run_id}")).json()["status"] != "cancelled"
