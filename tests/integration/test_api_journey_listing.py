"""GET /journeys by keyset pages, as the runs listing pages: oldest first, each journey exactly once, the
same limits and the same 400s; the run explorer still shows every journey."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest

from api.examples import SEED_JOURNEY
from domain.validation import validate_journey
from engine.journey_repository import PostgresJourneyRepository
from pjs.settings import Settings
from support.api import app_client
from support.database import settled
from support.ui import sign_in

INVALID_CURSOR = "cursor is not valid; pass back the nextCursor of a previous page."


def named(name: str) -> dict[str, object]:
    journey = copy.deepcopy(SEED_JOURNEY)
    journey["name"] = name
    return journey


async def create(api: httpx.AsyncClient, name: str) -> str:
    response = await api.post("/journeys", json=named(name))
    assert response.status_code == 201, response.text
    return str(response.json()["journeyId"])


async def list_all(api: httpx.AsyncClient, limit: int) -> list[str]:
    """Every journey id, page by page, following nextCursor until it is null."""
    listed: list[str] = []
    params: dict[str, str | int] = {"limit": limit}
    while True:
        response = await api.get("/journeys", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["journeys"]) <= limit
        listed.extend(journey["journeyId"] for journey in body["journeys"])
        if body["nextCursor"] is None:
            return listed
        params = {"limit": limit, "cursor": body["nextCursor"]}


async def test_pages_of_journeys_list_each_once_oldest_first_with_its_latest_version(
    api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    created = [await create(api, f"Journey {n}") for n in range(5)]
    await api.put(f"/journeys/{created[0]}", json=named("Journey 0, edited"))
    await settled(pool)

    first = (await api.get("/journeys", params={"limit": 2})).json()
    every = await list_all(api, limit=2)

    assert every == created
    assert [(j["name"], j["latestVersion"]) for j in first["journeys"]] == [
        ("Journey 0, edited", 2),
        ("Journey 1", 1),
    ]
    assert first["nextCursor"]


async def test_a_client_that_sends_no_paging_gets_the_journeys_and_a_null_cursor_as_before(
    api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    created = [await create(api, f"Journey {n}") for n in range(3)]
    await settled(pool)

    body = (await api.get("/journeys")).json()

    assert set(body) == {"journeys", "nextCursor"}
    assert [journey["journeyId"] for journey in body["journeys"]] == created
    assert body["nextCursor"] is None


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "limit=ten", "cursor=", "cursor=%25%25%25"])
async def test_a_bad_limit_or_cursor_is_the_400_the_runs_listing_answers(
    api: httpx.AsyncClient, query: str
) -> None:
    journeys = await api.get(f"/journeys?{query}")
    runs = await api.get(f"/journeys/runs?{query}")

    assert journeys.status_code == runs.status_code == 400, journeys.text
    assert journeys.json() == runs.json()
    assert [problem["path"] for problem in journeys.json()["problems"]] == [query.partition("=")[0]]


async def test_a_cursor_of_another_listing_is_refused_naming_the_cursor(api: httpx.AsyncClient) -> None:
    runs_cursor = "MTox"  # what the runs listing hands out ("1:1"): no place in this one

    response = await api.get("/journeys", params={"cursor": runs_cursor})

    assert response.status_code == 400
    assert response.json() == {
        "message": INVALID_CURSOR,
        "problems": [{"path": "cursor", "message": INVALID_CURSOR}],
    }


async def test_a_journey_whose_creation_began_first_but_commits_late_is_never_passed_by_a_cursor(
    default_tenant_api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    api = (
        default_tenant_api  # the late journey is saved straight through the repository: the default tenant's
    )
    definition = validate_journey(SEED_JOURNEY)
    assert not isinstance(definition, list)
    before = [await create(api, f"Before {n}") for n in range(3)]
    late_id = uuid.uuid4()
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("SELECT pg_current_xact_id()")  # its transaction id comes before the others'
        after = [await create(api, f"After {n}") for n in range(2)]

        while_open = await list_all(api, limit=2)
        await PostgresJourneyRepository(connection).create(late_id, definition, now=datetime.now(UTC))
    await settled(pool)

    assert while_open == before, "a journey behind a transaction still open was listed"
    assert await list_all(api, limit=2) == [*before, str(late_id), *after]


async def test_the_run_explorer_still_shows_every_journey_beyond_one_page(
    api: httpx.AsyncClient, settings: Settings, api_key: str
) -> None:
    names = [f"Journey number {n:03}" for n in range(55)]  # more than the listing's 50 a page
    for name in names:
        await create(api, name)

    async with app_client(settings, None) as (browser, _):
        await sign_in(browser, api_key)
        page = await browser.get("/ui/journeys")

    assert page.status_code == 200
    assert all(name in page.text for name in names)
