"""Tenancy: a caller sees and touches only its own tenant's data, Postgres' row-level security holds the line
even for a query that forgot the tenant, and the workers still run every tenant's runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

from api.api_keys import parse_key
from events.tenancy import bind_tenant
from pjs.settings import Settings
from support.api import app_client
from support.auth import issue_test_key
from support.database import settled
from support.roles import eventually, in_process

# Every table whose rows belong to one tenant (migration 0015): row-level security on each.
TENANT_TABLES = (
    "events",
    "run_status",
    "delays",
    "message_deliveries",
    "journeys",
    "run_timeline",
    "journey_stats",
    "journey_stats_progress",
    "audit_log",
    "audit_log_runs",
    "patient_keys",
    "dead_letters",
    "parked_events",
)
# Read by authentication before a tenant is known; they hold no patient data.
NOT_ROW_SECURED = ("tenants", "api_keys", "ui_sessions")  # read before the tenant is known

JOURNEY: dict[str, Any] = {
    "name": "Reminder",
    "start_node_id": "hello",
    "nodes": [
        {"id": "hello", "type": "MESSAGE", "message": "Welcome.", "next_node_id": "wait"},
        {"id": "wait", "type": "DELAY", "duration_seconds": 0.3, "next_node_id": "bye"},
        {"id": "bye", "type": "MESSAGE", "message": "See you.", "next_node_id": None},
    ],
}
LONG_WAIT: dict[str, Any] = {
    "name": "Long wait",
    "start_node_id": "wait",
    "nodes": [{"id": "wait", "type": "DELAY", "duration_seconds": 86_400, "next_node_id": None}],
}


def patient(patient_id: str) -> dict[str, Any]:
    return {"id": patient_id, "age": 70, "language": "en"}


@dataclass
class Clinic:
    """One tenant as its API client sees it."""

    api: httpx.AsyncClient
    tenant_id: UUID
    actor: str

    async def journey(self, definition: dict[str, Any] = LONG_WAIT) -> str:
        response = await self.api.post("/journeys", json=definition)
        assert response.status_code == 201, response.text
        journey_id: str = response.json()["journeyId"]
        return journey_id

    async def trigger(self, journey_id: str, patient_id: str = "p-1", key: str | None = None) -> str:
        headers = {"Idempotency-Key": key} if key else {}
        response = await self.api.post(
            f"/journeys/{journey_id}/trigger", json=patient(patient_id), headers=headers
        )
        assert response.status_code == 202, response.text
        run_id: str = response.json()["runId"]
        return run_id


@asynccontextmanager
async def clinic(settings: Settings) -> AsyncIterator[Clinic]:
    key = await issue_test_key(settings.resolved_migration_database_url())
    presented = parse_key(key)
    assert presented is not None
    connection = await asyncpg.connect(settings.resolved_migration_database_url())
    try:
        tenant_id = await connection.fetchval(
            "SELECT tenant_id FROM api_keys WHERE key_id = $1", presented.key_id
        )
    finally:
        await connection.close()
    async with app_client(settings, key) as (api, _):
        yield Clinic(api, tenant_id, f"key:{presented.key_id}")


@pytest.fixture
async def clinics(settings: Settings) -> AsyncIterator[tuple[Clinic, Clinic]]:
    async with clinic(settings) as a, clinic(settings) as b:
        yield a, b


async def test_every_operation_on_another_tenants_data_is_not_found(clinics: tuple[Clinic, Clinic]) -> None:
    a, b = clinics
    theirs = await b.journey()
    their_run = await b.trigger(theirs, patient_id="only-at-b")
    attempts = [
        a.api.get(f"/journeys/{theirs}"),
        a.api.get(f"/journeys/{theirs}", params={"version": 1}),
        a.api.put(f"/journeys/{theirs}", json=LONG_WAIT),
        a.api.get(f"/journeys/{theirs}/stats"),
        a.api.post(f"/journeys/{theirs}/trigger", json=patient("p-1")),
        a.api.get(f"/journeys/runs/{their_run}"),
        a.api.get(f"/journeys/runs/{their_run}/events"),
        a.api.post(f"/journeys/runs/{their_run}/cancel"),
        a.api.post("/patients/only-at-b/erasure"),
    ]
    for attempt in attempts:
        response = await attempt
        assert response.status_code == 404, (response.request.method, response.request.url, response.text)
        assert "only-at-b" not in response.text
    # Nothing of B's changed, and B itself reaches all of it.
    run = await b.api.get(f"/journeys/runs/{their_run}")
    assert run.status_code == 200 and run.json()["status"] != "cancelled" and not run.json()["erased"]
    assert (await b.api.get(f"/journeys/{theirs}")).json()["version"] == 1
    for path in (f"/journeys/{theirs}/stats", f"/journeys/runs/{their_run}/events"):
        assert (await b.api.get(path)).status_code == 200


async def test_listings_searches_and_the_audit_log_show_only_the_callers_tenant(
    clinics: tuple[Clinic, Clinic], pool: asyncpg.Pool
) -> None:
    a, b = clinics
    ours, theirs = await a.journey(), await b.journey()
    # The same idempotency key and patient in both tenants: two runs, each its own tenant's.
    our_run = await a.trigger(ours, key="booking-1")
    their_run = await b.trigger(theirs, key="booking-1")
    assert our_run != their_run
    assert await a.trigger(ours, key="booking-1") == our_run  # a retry still finds its run
    assert (await a.api.get(f"/journeys/runs/{our_run}")).status_code == 200
    assert (await a.api.get(f"/journeys/runs/{our_run}/events")).status_code == 200

    await settled(pool)  # the journeys listing shows settled journeys only
    journeys = (await a.api.get("/journeys")).json()["journeys"]
    assert [j["journeyId"] for j in journeys] == [ours]
    await eventually_listed(a, our_run)
    listed = (await a.api.get("/journeys/runs")).json()["runs"]
    assert [r["runId"] for r in listed] == [our_run]
    searched = await a.api.post("/journeys/runs/search", json={"patientId": "p-1"})
    assert searched.status_code == 200 and [r["runId"] for r in searched.json()["runs"]] == [our_run]

    entries = (await a.api.get("/audit")).json()["entries"]
    assert {e["runId"] for e in entries} <= {our_run, None}
    assert {e["journeyId"] for e in entries} <= {ours, None}
    ours_by_action = {e["action"]: e for e in entries if e["actor"] == a.actor}
    for action in ("JourneyCreated", "RunTriggered", "RunRead", "RunTimelineRead", "RunsListed"):
        assert action in ours_by_action, action
    assert ours_by_action["RunRead"]["runId"] == our_run
    assert ours_by_action["RunsListed"]["details"]["runs"] == [our_run]
    audit_search = await a.api.post("/audit/search", json={"patientId": "p-1"})
    assert audit_search.status_code == 200
    found = audit_search.json()["entries"]
    assert {e["runId"] for e in found} == {our_run, None}
    listings = [e["details"]["runs"] for e in found if e["runId"] is None]  # the listings that answered it
    assert listings and all(runs == [our_run] for runs in listings)
    # Reading the audit log is itself audited, as the next read shows.
    actions = [e["action"] for e in (await a.api.post("/audit/search", json={})).json()["entries"]]
    assert actions.count("AuditRead") == 2  # this read is logged after it read
    their_entries = (await b.api.get("/audit")).json()["entries"]
    assert our_run not in {e["runId"] for e in their_entries}


async def eventually_listed(clinic: Clinic, run_id: str) -> None:
    """Until the run shows in listings (a run is listed once its start has settled in the feed)."""

    async def listed() -> bool:
        runs = (await clinic.api.get("/journeys/runs")).json()["runs"]
        return run_id in {r["runId"] for r in runs}

    await eventually(listed)


async def test_erasure_reaches_only_the_callers_tenants_patient(clinics: tuple[Clinic, Clinic]) -> None:
    a, b = clinics
    ours = await a.trigger(await a.journey(), patient_id="p-same")
    theirs = await b.trigger(await b.journey(), patient_id="p-same")

    erased = await a.api.post("/patients/p-same/erasure")

    assert erased.status_code == 202 and erased.json()["runsCancelled"] == 1
    assert (await a.api.get(f"/journeys/runs/{ours}")).json()["erased"] is True
    kept = (await b.api.get(f"/journeys/runs/{theirs}")).json()
    assert kept["erased"] is False and kept["patientContext"] == patient("p-same")
    assert kept["status"] != "cancelled"


async def test_workers_run_every_tenants_runs_and_row_security_shows_each_tenant_only_its_own(
    settings: Settings, clinics: tuple[Clinic, Clinic], api_database_url: str
) -> None:
    a, b = clinics
    runs = {}
    async with in_process(settings, "relay", "engine", "delivery", "timer", "projector", "audit"):
        for clinic_ in (a, b):
            runs[clinic_.tenant_id] = await clinic_.trigger(await clinic_.journey(JOURNEY))

        async def all_done() -> bool:
            for clinic_ in (a, b):
                run_id = runs[clinic_.tenant_id]
                if (await clinic_.api.get(f"/journeys/runs/{run_id}")).json()["status"] != "completed":
                    return False
                audit = (await clinic_.api.get("/audit", params={"runId": run_id})).json()["entries"]
                if "RunCompleted" not in {e["action"] for e in audit}:
                    return False
            return True

        await eventually(all_done)

    app = await asyncpg.connect(api_database_url)  # the API's role, bound by row-level security
    try:
        for table in TENANT_TABLES:  # without the tenant setting: nothing, of any tenant
            assert await app.fetchval(f"SELECT count(*) FROM {table}") == 0, table
        for clinic_ in (a, b):
            async with app.transaction():
                await bind_tenant(app, clinic_.tenant_id)
                for table in TENANT_TABLES:
                    tenants = {row[0] for row in await app.fetch(f"SELECT DISTINCT tenant_id FROM {table}")}
                    assert tenants <= {clinic_.tenant_id}, table
                    if table not in ("delays", "dead_letters", "parked_events", "audit_log_runs"):  # none now
                        assert tenants == {clinic_.tenant_id}, table
                run_ids = {row[0] for row in await app.fetch("SELECT run_id FROM run_status")}
                assert run_ids == {UUID(runs[clinic_.tenant_id])}
        async with app.transaction():  # nor can a bound transaction write another tenant's row
            await bind_tenant(app, a.tenant_id)
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await app.execute(
                    "INSERT INTO journeys (journey_id, version, name, definition, created_at, tenant_id)"
                    " VALUES (gen_random_uuid(), 1, 'x', '{}', now(), $1)",
                    b.tenant_id,
                )
        secured = await app.fetch(
            "SELECT c.relname, c.relrowsecurity FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid"
            " WHERE a.attname = 'tenant_id' AND c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace"
        )
    finally:
        await app.close()
    assert {row["relname"] for row in secured} == {*TENANT_TABLES, *NOT_ROW_SECURED}
    assert {row["relname"] for row in secured if row["relrowsecurity"]} == set(TENANT_TABLES)
