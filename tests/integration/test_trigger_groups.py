"""Single triggers that arrive together share a transaction (api.trigger_groups), on the real stack: each
request still gets its own run, its own answer and its own audit row naming the key that asked."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from uuid import UUID

import asyncpg
import httpx
import pytest

from api.examples import SEED_JOURNEY, SEED_PATIENT
from api.key_store import create_tenant
from engine.commands import run_id_for_key
from events.catalogue import RunStarted, stamp
from events.run_locks import run_lock_key
from events.store import AppendRequest
from events.tenancy import DEFAULT_TENANT_ID
from pjs.settings import Settings
from pjs.wiring import event_store
from support.api import app_client
from support.auth import bearer, issue_test_key
from support.roles import eventually

TRIGGERS = 30


@pytest.fixture
async def two_keys(settings: Settings) -> tuple[str, str]:
    """Two keys of one clinic."""
    url = settings.resolved_migration_database_url()
    connection = await asyncpg.connect(url)
    try:
        await create_tenant(connection, "clinic-groups", by="operator:tests")
    finally:
        await connection.close()
    return (
        await issue_test_key(url, tenant="clinic-groups"),
        await issue_test_key(url, tenant="clinic-groups"),
    )


def patient(n: int) -> dict[str, object]:
    return {**SEED_PATIENT, "id": f"patient-{n}", "age": 20 + n}


async def test_concurrent_triggers_each_get_their_run_and_audit_row_while_sharing_transactions(
    settings: Settings, two_keys: tuple[str, str], pool: asyncpg.Pool
) -> None:
    first_key, second_key = two_keys
    async with app_client(settings, first_key) as (api, _):
        journey_id = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]
        keys = [first_key if n % 2 else second_key for n in range(TRIGGERS)]
        responses = await asyncio.gather(
            *(
                api.post(f"/journeys/{journey_id}/trigger", json=patient(n), headers=bearer(key))
                for n, key in enumerate(keys)
            )
        )
        assert [response.status_code for response in responses] == [202] * TRIGGERS
        run_ids = [uuid.UUID(response.json()["runId"]) for response in responses]
        assert len(set(run_ids)) == TRIGGERS
        for n in (0, 1, TRIGGERS - 1):  # each run holds its own request's patient
            run = (await api.get(f"/journeys/runs/{run_ids[n]}", headers=bearer(keys[n]))).json()
            assert run["patientContext"]["age"] == 20 + n

    per_transaction = await pool.fetch(
        "SELECT count(*) AS runs FROM events WHERE type = 'RunStarted' GROUP BY transaction_id"
    )
    assert sum(row["runs"] for row in per_transaction) == TRIGGERS
    assert max(row["runs"] for row in per_transaction) > 1  # requests that waited went in together

    audited = await pool.fetch("SELECT run_id, actor FROM audit_log WHERE action = 'RunTriggered'")
    actor_of = {row["run_id"]: row["actor"] for row in audited}
    assert len(audited) == len(actor_of) == TRIGGERS  # one row per request
    assert {actor_of[run_id] for run_id, key in zip(run_ids, keys, strict=True) if key == first_key} != {
        actor_of[run_id] for run_id, key in zip(run_ids, keys, strict=True) if key == second_key
    }
    assert len(set(actor_of.values())) == 2


async def test_concurrent_retries_with_one_idempotency_key_start_one_run(
    api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    journey_id = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]
    headers = {"Idempotency-Key": "booking-4711"}
    responses = await asyncio.gather(
        *(api.post(f"/journeys/{journey_id}/trigger", json=patient(1), headers=headers) for _ in range(8))
    )

    assert [response.status_code for response in responses] == [202] * 8
    assert len({response.json()["runId"] for response in responses}) == 1
    assert await pool.fetchval("SELECT count(*) FROM run_status") == 1
    # every request is audited: the one that started the run, and each answered with it
    assert await pool.fetchval("SELECT count(*) FROM audit_log WHERE action = 'RunTriggered'") == 8


async def test_concurrent_triggers_of_a_journey_that_does_not_exist_are_each_answered_404(
    api: httpx.AsyncClient,
) -> None:
    missing = uuid.uuid4()
    responses = await asyncio.gather(
        *(api.post(f"/journeys/{missing}/trigger", json=patient(n)) for n in range(5))
    )

    assert [response.status_code for response in responses] == [404] * 5
    assert all("Journey" in response.json()["message"] for response in responses)


async def test_a_trigger_whose_event_is_too_large_is_refused_alone_and_the_others_still_start(
    settings: Settings, api_key: str, pool: asyncpg.Pool
) -> None:
    # A context limit above what an event may hold: the store, not the edge, refuses the large one.
    loose = settings.model_copy(update={"max_patient_context_bytes": 60_000, "max_event_bytes": 8_000})
    async with app_client(loose, api_key) as (api, _):
        journey_id = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]
        large = {**patient(0), "notes": ["x" * 5_000] * 4}
        responses = await asyncio.gather(
            *(
                api.post(f"/journeys/{journey_id}/trigger", json=large if n == 3 else patient(n))
                for n in range(8)
            )
        )

    assert [response.status_code for response in responses] == [202] * 3 + [413] + [202] * 4
    assert "at most 8000" in responses[3].json()["message"]
    assert await pool.fetchval("SELECT count(*) FROM run_status") == 7


KEY = "booking-race"


async def test_a_trigger_that_waits_while_a_rival_starts_its_run_answers_with_that_run(
    default_tenant_api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    """A rival writes the run's first event, with a later transaction id, while the trigger waits for the
    run's lock: the trigger finds the run started (a conflict at version 0, never a race), the same
    journey and patient, and answers with it."""
    journey_id = UUID((await default_tenant_api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"])
    run_id = run_id_for_key(DEFAULT_TENANT_ID, journey_id, KEY)
    async with pool.acquire() as rival, rival.transaction():
        await rival.execute("SELECT pg_advisory_xact_lock($1)", run_lock_key(run_id))  # no transaction id yet
        trigger = asyncio.create_task(
            default_tenant_api.post(
                f"/journeys/{journey_id}/trigger",
                json=SEED_PATIENT,
                headers={"Idempotency-Key": "booking-race"},
            )
        )
        await eventually(lambda: _someone_waits_for_a_run_lock(pool))  # the trigger, its id already taken
        started = RunStarted(
            journey_id=journey_id, journey_version=1, start_node_id="welcome", patient_context=SEED_PATIENT
        )
        events = stamp(run_id, 0, [started], now=datetime.now(UTC), causation_id=None, correlation_id=run_id)
        await event_store(rival).append_many_in(rival, [AppendRequest(run_id, 0, events)])
    response = await trigger

    assert response.status_code == 202, response.text
    assert response.json()["runId"] == str(run_id)
    assert await pool.fetchval("SELECT count(*) FROM events WHERE run_id = $1", run_id) == 1


async def _someone_waits_for_a_run_lock(pool: asyncpg.Pool) -> bool:
    return bool(
        await pool.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
    )
