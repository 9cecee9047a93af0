"""Run listing, journey stats and the audit log over HTTP, on the real stack."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import asyncpg
import httpx

from api.examples import SEED_JOURNEY, SEED_PATIENT
from domain.validation import validate_journey
from engine.journey_repository import PostgresJourneyRepository
from events.feed import FEED_START, read_feed
from pjs.settings import Settings
from pjs.wiring import REBUILDABLE, event_store
from projections.replay import rebuild
from subscribers.audit import record
from support.database import settled
from support.runs import JOURNEY_ID
from support.workload import write_mixed_workload


async def create_journey(api: httpx.AsyncClient) -> str:
    response = await api.post("/journeys", json=SEED_JOURNEY)
    assert response.status_code == 201
    return str(response.json()["journeyId"])


async def trigger(api: httpx.AsyncClient, journey_id: str, patient_id: str) -> str:
    response = await api.post(f"/journeys/{journey_id}/trigger", json={**SEED_PATIENT, "id": patient_id})
    assert response.status_code == 202, response.text
    return str(response.json()["runId"])


async def list_all(api: httpx.AsyncClient, query: str = "", limit: int = 7) -> list[dict[str, object]]:
    runs: list[dict[str, object]] = []
    cursor: str | None = None
    while True:
        params = f"limit={limit}" + (f"&cursor={cursor}" if cursor else "") + (f"&{query}" if query else "")
        response = await api.get(f"/journeys/runs?{params}")
        assert response.status_code == 200, response.text
        body = response.json()
        runs.extend(body["runs"])
        cursor = body["nextCursor"]
        if cursor is None:
            return runs


async def test_listing_pages_through_every_run_once_and_filters_by_journey_and_patient(
    api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    first, second = await create_journey(api), await create_journey(api)
    started = [await trigger(api, first if n % 3 else second, f"p-{n % 4}") for n in range(20)]
    await settled(pool)

    every = await list_all(api)
    assert [run["runId"] for run in every] == started
    assert {run["runId"] for run in await list_all(api, f"journeyId={second}")} == set(started[::3])
    by_patient = await list_all(api, "patientId=p-1")
    assert by_patient and all(run["patientContext"]["id"] == "p-1" for run in by_patient)  # type: ignore[index]
    assert len(await list_all(api, "status=in_progress")) == 20
    assert await list_all(api, "status=completed") == []


async def test_listing_while_runs_are_added_returns_each_run_exactly_once(
    api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    journey_id = await create_journey(api)
    before = [await trigger(api, journey_id, "p") for _ in range(15)]
    await settled(pool)

    async def keep_adding() -> list[str]:
        return [await trigger(api, journey_id, "p") for _ in range(15)]

    adding = asyncio.create_task(keep_adding())
    seen = [run["runId"] for run in await list_all(api, limit=2)]
    added = await adding
    assert len(seen) == len(set(seen)), "a run was listed twice"
    assert set(before) <= set(seen), "a run that existed before listing began was skipped"
    assert set(seen) <= set(before) | set(added)
    await settled(pool)
    again = [run["runId"] for run in await list_all(api, limit=4)]
    assert again == before + added


async def test_bad_listing_parameters_are_400_with_a_message(api: httpx.AsyncClient) -> None:
    for query in ("status=sleeping", "journeyId=nope", "cursor=%%%", "limit=0", "limit=501"):
        response = await api.get(f"/journeys/runs?{query}")
        assert response.status_code == 400, query
        assert response.json()["message"]


async def test_journey_stats_show_runs_per_status_and_node_counters(
    default_tenant_api: httpx.AsyncClient,
    pool: asyncpg.Pool,
    migration_pool: asyncpg.Pool,
    settings: Settings,
) -> None:
    api = default_tenant_api  # the runs are written straight through the store: the default tenant's
    journey = validate_journey(SEED_JOURNEY)
    assert not isinstance(journey, list)
    await PostgresJourneyRepository(pool).create(JOURNEY_ID, journey, now=datetime.now(UTC))
    runs = await write_mixed_workload(event_store(pool), runs=8)
    await settled(pool)
    await rebuild(migration_pool, REBUILDABLE["journey_stats"])  # the projector's work, from the store

    response = await api.get(f"/journeys/{JOURNEY_ID}/stats")
    assert response.status_code == 200
    [version] = response.json()["versions"]
    assert version["version"] == 1
    assert version["runs"] == {
        status: len(ids)
        for status, ids in (
            ("completed", runs["completed"]),
            ("cancelled", runs["cancelled"]),
            ("failed", runs["failed"]),
            ("waiting_delay", runs["waiting"]),
        )
    }
    wait = next(node for node in version["nodes"] if node["nodeId"] == "wait")
    assert wait["entered"] == 8 and wait["waiting"] == len(runs["waiting"])
    assert (await api.get(f"/journeys/{uuid.uuid4()}/stats")).status_code == 404


async def test_the_audit_log_reads_by_run_and_by_patient(
    default_tenant_api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    api = default_tenant_api  # the runs are written straight through the store: the default tenant's
    runs = await write_mixed_workload(event_store(pool), runs=4)
    await settled(pool)
    await record(pool, (await read_feed(pool, FEED_START, 10_000)).events)  # the audit subscriber's work

    run_id = runs["completed"][0]
    entries = (await api.get(f"/audit?runId={run_id}")).json()["entries"]
    assert [entry["action"] for entry in entries][:2] == ["RunStarted", "MessageRequested"]
    assert entries[-1]["action"] == "RunCompleted"
    by_patient = (await api.get("/audit?patientId=p-0&limit=3")).json()
    assert len(by_patient["entries"]) == 3 and by_patient["nextCursor"]
    assert all(entry["patientId"] == "p-0" for entry in by_patient["entries"])
    assert (await api.get("/audit?runId=not-a-uuid")).status_code == 400
