"""The audit log as an auditor reads it, on the real stack: every act on a run found by the run and by the
patient, acts on many runs included; each entry once to a reader tailing the log; who asked for what."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from api.examples import SEED_JOURNEY, SEED_PATIENT
from events.catalogue import RecordedEvent
from events.feed import FEED_START, read_feed
from events.store import AppendRequest
from pjs.wiring import event_store
from subscribers.audit import record, record_accesses
from support.database import settled
from support.plans import GENERIC_PLANS, rows_read_in_transaction
from support.runs import JOURNEY_ID, envelopes, run_started

Entry = dict[str, Any]


@pytest.fixture
async def journey_id(api: httpx.AsyncClient) -> str:
    journey_id: str = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]
    return journey_id


async def trigger(api: httpx.AsyncClient, journey_id: str, patient_id: str, key: str | None = None) -> str:
    headers = {"Idempotency-Key": key} if key else {}
    body = {**SEED_PATIENT, "id": patient_id}
    response = await api.post(f"/journeys/{journey_id}/trigger", json=body, headers=headers)
    assert response.status_code == 202, response.text
    return str(response.json()["runId"])


async def trigger_batch(api: httpx.AsyncClient, journey_id: str, *patient_ids: str) -> list[str]:
    items = [{"idempotencyKey": f"key-{p}", "patient": {**SEED_PATIENT, "id": p}} for p in patient_ids]
    response = await api.post(f"/journeys/{journey_id}/trigger-batch", json={"items": items})
    assert response.status_code == 202, response.text
    return [item["runId"] for item in response.json()["items"]]


async def audit_of(api: httpx.AsyncClient, **search: str) -> list[Entry]:
    response = await api.post("/audit/search", json={**search, "limit": 1000})
    assert response.status_code == 200, response.text
    entries: list[Entry] = response.json()["entries"]
    return entries


async def tail(api: httpx.AsyncClient, cursor: str | None) -> tuple[list[Entry], str | None]:
    """Every entry after `cursor`, read as a reader tailing the log reads it: small pages, and where to go
    on from, the last entry's id."""
    entries: list[Entry] = []
    while True:
        response = await api.get("/audit", params={"limit": 2, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        page = response.json()
        entries += page["entries"]
        cursor = str(entries[-1]["auditId"]) if entries else cursor
        if page["nextCursor"] is None:
            return entries, cursor


def actions(entries: list[Entry]) -> list[str]:
    return [entry["action"] for entry in entries if entry["action"] != "AuditRead"]


async def test_a_runs_audit_by_run_and_by_patient_shows_the_batch_that_started_it_and_the_listings_of_it(
    api: httpx.AsyncClient, journey_id: str, pool: asyncpg.Pool
) -> None:
    patients = dict(zip(await trigger_batch(api, journey_id, "anna", "ben"), ("anna", "ben"), strict=True))
    await settled(pool)
    listed = (await api.get("/journeys/runs", params={"limit": 1})).json()["runs"][0]["runId"]
    searched = next(run for run in patients if run != listed)  # the other run, found by its patient
    found = (await api.post("/journeys/runs/search", json={"patientId": patients[searched]})).json()["runs"]
    assert [run["runId"] for run in found] == [searched]

    by_run = {run: await audit_of(api, runId=run) for run in patients}
    by_patient = {run: await audit_of(api, patientId=patient) for run, patient in patients.items()}

    for run in patients:
        assert actions(by_run[run]) == actions(by_patient[run]) == ["RunsTriggered", "RunsListed"]
        batch, listing = by_run[run]
        assert batch["runId"] is None and batch["details"]["runs"] == list(patients)
        assert listing["runId"] is None and listing["details"]["runs"] == [run]


async def test_a_reader_tailing_the_log_gets_an_entry_committed_after_a_later_one_exactly_once(
    default_tenant_api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    api, now = default_tenant_api, datetime.now(UTC)  # the workers' role writes the default tenant's rows
    async with pool.acquire() as writer, writer.transaction():
        await record_accesses(writer, [("key:early", None)], action="EarlyWrite", occurred_at=now)
        # A later writer takes a higher id and commits first, while the early one is still open.
        await record_accesses(pool, [("key:late", None)], action="LateWrite", occurred_at=now)
        while_open, cursor = await tail(api, None)
    after_commit, _ = await tail(api, cursor)

    def writes(entries: list[Entry]) -> list[str]:  # the test's own, not the tenant's key administration
        return [action for action in actions(entries) if action.endswith("Write")]

    assert sorted(writes(while_open + after_commit)) == ["EarlyWrite", "LateWrite"]
    assert writes(while_open) == []  # nothing is shown while a write that began before it is open


async def test_a_runs_audit_shows_the_erasure_request_naming_the_key_beside_the_cancel_it_caused(
    api: httpx.AsyncClient, journey_id: str, pool: asyncpg.Pool
) -> None:
    run_id = await trigger(api, journey_id, "anna")
    assert (await api.post("/patients/anna/erasure")).status_code == 202
    await settled(pool)
    await record(pool, (await read_feed(pool, FEED_START, 10_000)).events)  # the audit subscriber's work

    entries = await audit_of(api, runId=run_id)

    [request] = [entry for entry in entries if entry["action"] == "PatientErasureRequested"]
    assert request["actor"].startswith("key:")
    assert request["details"] == {"runsCancelled": 1, "runs": [run_id]}
    later = actions(entries)[actions(entries).index("PatientErasureRequested") :]
    assert {"RunCancelled", "PatientErased"} <= set(later)


async def test_a_retried_trigger_is_audited_as_a_replay_unlike_the_trigger_that_started_the_run(
    api: httpx.AsyncClient, journey_id: str
) -> None:
    run_id = await trigger(api, journey_id, "anna", key="booking-4711")
    assert await trigger(api, journey_id, "anna", key="booking-4711") == run_id
    runs = await trigger_batch(api, journey_id, "ben", "cleo")
    assert await trigger_batch(api, journey_id, "ben", "cleo") == runs

    triggered = [entry for entry in await audit_of(api, runId=run_id) if entry["action"] == "RunTriggered"]
    batches = [entry for entry in await audit_of(api, runId=runs[0]) if entry["action"] == "RunsTriggered"]

    assert [entry["details"].get("replayed", False) for entry in triggered] == [False, True]
    assert [entry["details"].get("replayedRuns", []) for entry in batches] == [[], runs]


async def test_every_entry_is_logged_no_earlier_than_the_act_it_records(
    api: httpx.AsyncClient, journey_id: str, pool: asyncpg.Pool
) -> None:
    run_id = await trigger(api, journey_id, "anna")
    assert (await api.get(f"/journeys/runs/{run_id}")).status_code == 200
    await settled(pool)
    await record(pool, (await read_feed(pool, FEED_START, 10_000)).events)

    entries = await audit_of(api, runId=run_id)

    assert {"RunTriggered", "RunRead", "RunStarted"} <= set(actions(entries))
    for entry in entries:
        logged, occurred = (datetime.fromisoformat(entry[name]) for name in ("loggedAt", "occurredAt"))
        assert logged >= occurred, entry["action"]


async def test_auditing_a_runs_events_reads_only_that_runs_status_even_under_a_plan_made_on_an_empty_table(
    database_url: str,
) -> None:
    connection = await asyncpg.connect(database_url)  # the audit subscriber's role
    await connection.execute(GENERIC_PLANS)  # as a plan cached for the session
    store = event_store(connection)
    stray = uuid.uuid4()
    try:
        # Planned now: a run whose status no one stored yet, while run_status is empty.
        await record(
            connection,
            [RecordedEvent(**dict(event), position=1) for event in envelopes(stray, 0, [run_started()])],
        )
        others = [uuid.uuid4() for _ in range(2_000)]  # the other runs of the clinics
        await store.append_many(
            [AppendRequest(r, 0, envelopes(r, 0, [run_started(f"p-{r}")])) for r in others]
        )
        run_id = uuid.uuid4()
        events = await store.append(run_id, 0, envelopes(run_id, 0, [run_started("anna")]))
        assert isinstance(events, list)
        async with connection.transaction():
            before = await rows_read_in_transaction(connection, "run_status")
            await record(connection, events)
            read = await rows_read_in_transaction(connection, "run_status") - before
        status = await connection.fetchrow(
            "SELECT patient_id, journey_id FROM run_status WHERE run_id = $1", run_id
        )
        audited = await connection.fetchrow(
            "SELECT patient_id, journey_id FROM audit_log WHERE source_id = $1", f"event:{events[0].event_id}"
        )
    finally:
        await connection.close()

    assert status is not None and audited is not None
    assert tuple(audited) == tuple(status) and audited["journey_id"] == JOURNEY_ID
    assert read <= 1
