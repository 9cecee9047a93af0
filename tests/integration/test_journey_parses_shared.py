"""Parsed journeys are shared: one API process parses each stored journey version once for every request,
and still shows each tenant only its own journeys (a trigger reads its journey's latest version through the
tenant's row-level security before any parse is reused); a long-lived repository that had to let a parse go
reads that version again."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx

from engine.journey_repository import ParsedJourneys, PostgresJourneyRepository
from pjs.settings import Settings
from support.api import LOOPBACK_CLIENT, app_client
from support.auth import bearer, issue_test_key
from support.journeys import message, patient, save_journey

JOURNEY: dict[str, Any] = {
    "name": "Reminder",
    "start_node_id": "hello",
    "nodes": [
        {"id": "hello", "type": "MESSAGE", "message": "Welcome, {{ patient.id }}.", "next_node_id": "wait"},
        {"id": "wait", "type": "DELAY", "duration_seconds": 86_400, "next_node_id": None},
    ],
}
PATIENT = patient()


async def created(api: httpx.AsyncClient, definition: dict[str, Any]) -> str:
    response = await api.post("/journeys", json=definition)
    assert response.status_code == 201, response.text
    journey_id: str = response.json()["journeyId"]
    return journey_id


async def triggered_run(api: httpx.AsyncClient, journey_id: str) -> dict[str, Any]:
    response = await api.post(f"/journeys/{journey_id}/trigger", json=PATIENT)
    assert response.status_code == 202, response.text
    run: dict[str, Any] = (await api.get(f"/journeys/runs/{response.json()['runId']}")).json()
    return run


async def test_two_tenants_on_one_api_process_each_trigger_only_their_own_latest_journey(
    settings: Settings,
) -> None:
    key_a = await issue_test_key(settings.resolved_migration_database_url())
    key_b = await issue_test_key(settings.resolved_migration_database_url())
    async with (
        app_client(settings, key_a) as (a, app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=LOOPBACK_CLIENT),
            base_url="http://pjs",
            headers=bearer(key_b),
        ) as b,
    ):
        ours = await created(a, JOURNEY)
        assert (await triggered_run(a, ours))["journeyVersion"] == 1  # parsed here, kept for later triggers

        refused = await b.post(f"/journeys/{ours}/trigger", json=PATIENT)
        assert refused.status_code == 404, refused.text

        theirs = await created(b, JOURNEY)  # the very same definition text, stored by the other tenant
        their_run = await triggered_run(b, theirs)
        assert (their_run["journeyId"], their_run["journeyVersion"]) == (theirs, 1)

        edited = {**JOURNEY, "start_node_id": "wait"}
        assert (await a.put(f"/journeys/{ours}", json=edited)).json()["version"] == 2
        our_run = await triggered_run(a, ours)
        assert (our_run["journeyVersion"], our_run["currentNodeId"]) == (2, "wait")
        assert (await triggered_run(b, theirs))["currentNodeId"] == "hello"


async def test_a_long_lived_repository_reads_a_version_again_once_its_parse_made_room(
    pool: asyncpg.Pool,
) -> None:
    first, _ = await save_journey(pool, "hello", message("hello"))
    second, _ = await save_journey(pool, "bye", message("bye"))
    text = await pool.fetchval("SELECT definition::text FROM journeys WHERE journey_id = $1", first)
    journeys = PostgresJourneyRepository(pool, parsed=ParsedJourneys(max_text_bytes=len(text.encode())))

    read_first = await journeys.definition(first, 1)
    read_second = await journeys.definition(second, 1)  # room for one: the first one's parse goes
    read_first_again = await journeys.definition(first, 1)

    assert read_first is not None and read_second is not None and read_first_again is not None
    assert (read_first.start_node_id, read_second.start_node_id) == ("hello", "bye")
    assert read_first_again == read_first and read_first_again is not read_first
