"""On the real stack: a trigger whose idempotency key carries surrounding spaces finds the run that key
started in a release that did not trim keys, instead of starting a second run under the trimmed key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

from api.examples import SEED_JOURNEY, SEED_PATIENT
from api.resources import Resources
from engine.commands import RunAccepted, run_id_for_key
from pjs.settings import Settings
from support.api import app_client
from support.triggers import trigger_run

PADDED = "booking-4711 "


@pytest.fixture
async def stack(settings: Settings, api_key: str) -> AsyncIterator[tuple[httpx.AsyncClient, Resources]]:
    async with app_client(settings, api_key) as (client, app):
        yield client, app.state.resources


@pytest.fixture
async def journey_id(stack: tuple[httpx.AsyncClient, Resources]) -> UUID:
    return UUID((await stack[0].post("/journeys", json=SEED_JOURNEY)).json()["journeyId"])


async def tenant_of(pool: asyncpg.Pool, journey_id: UUID) -> UUID:
    tenant: UUID = await pool.fetchval("SELECT tenant_id FROM journeys WHERE journey_id = $1", journey_id)
    return tenant


async def started_before_trimming(
    resources: Resources, tenant: UUID, journey_id: UUID, key: str, patient: dict[str, Any]
) -> UUID:
    """Start a run as a release before trimming did: its id derived from the key as the client sent it."""
    async with resources.for_tenant_id(tenant) as scope:
        accepted = await trigger_run(
            scope.store, scope.heads, scope.journeys,
            run_id=run_id_for_key(tenant, journey_id, key), journey_id=journey_id,
            patient_context=patient, now=datetime.now(UTC), sealer=scope.vault,
        )  # fmt: skip
    assert isinstance(accepted, RunAccepted) and accepted.created, accepted
    return accepted.run_id


async def runs_in_store(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM run_status"))


async def test_a_retry_with_a_padded_header_key_gets_the_run_it_started_before_the_upgrade(
    stack: tuple[httpx.AsyncClient, Resources], journey_id: UUID, pool: asyncpg.Pool
) -> None:
    api, resources = stack
    earlier = await started_before_trimming(
        resources, await tenant_of(pool, journey_id), journey_id, PADDED, SEED_PATIENT
    )

    response = await api.post(
        f"/journeys/{journey_id}/trigger", json=SEED_PATIENT, headers={"Idempotency-Key": PADDED}
    )

    assert response.status_code == 202, response.text
    assert response.json() == {"runId": str(earlier)}
    assert await runs_in_store(pool) == 1
    replayed = "SELECT details->>'replayed' FROM audit_log WHERE action = 'RunTriggered'"
    assert await pool.fetchval(replayed) == "true"


async def test_a_retry_with_a_padded_batch_key_gets_the_run_it_started_before_the_upgrade(
    stack: tuple[httpx.AsyncClient, Resources], journey_id: UUID, pool: asyncpg.Pool
) -> None:
    api, resources = stack
    tenant = await tenant_of(pool, journey_id)
    patient = {**SEED_PATIENT, "id": "patient-other"}
    earlier = await started_before_trimming(resources, tenant, journey_id, f"\t{PADDED}", SEED_PATIENT)
    other = await started_before_trimming(resources, tenant, journey_id, "booking-4712 ", patient)

    items = [
        {"idempotencyKey": f"\t{PADDED}", "patient": SEED_PATIENT},
        {"idempotencyKey": "booking-4712 ", "patient": patient},
        {"idempotencyKey": "booking-4713", "patient": patient},
    ]
    response = await api.post(f"/journeys/{journey_id}/trigger-batch", json={"items": items})

    assert response.status_code == 202, response.text
    entries = response.json()["items"]
    assert entries[:2] == [
        {"idempotencyKey": f"\t{PADDED}", "runId": str(earlier), "created": False},
        {"idempotencyKey": "booking-4712 ", "runId": str(other), "created": False},
    ]
    assert entries[2]["created"] is True
    assert await runs_in_store(pool) == 3


@pytest.mark.parametrize("route", ["trigger", "trigger-batch"])
async def test_a_padded_key_with_no_run_from_before_the_upgrade_starts_one_under_the_trimmed_key(
    stack: tuple[httpx.AsyncClient, Resources], journey_id: UUID, pool: asyncpg.Pool, route: str
) -> None:
    api, _ = stack
    trimmed = run_id_for_key(await tenant_of(pool, journey_id), journey_id, PADDED.strip())

    if route == "trigger":
        response = await api.post(
            f"/journeys/{journey_id}/trigger", json=SEED_PATIENT, headers={"Idempotency-Key": PADDED}
        )
        run_id = response.json()["runId"]
    else:
        items = [{"idempotencyKey": PADDED, "patient": SEED_PATIENT}]
        response = await api.post(f"/journeys/{journey_id}/trigger-batch", json={"items": items})
        run_id = response.json()["items"][0]["runId"]

    assert response.status_code == 202, response.text
    assert run_id == str(trimmed)
    again = await api.post(
        f"/journeys/{journey_id}/trigger", json=SEED_PATIENT, headers={"Idempotency-Key": "booking-4711"}
    )
    assert again.json()["runId"] == str(trimmed)
    assert await runs_in_store(pool) == 1


async def test_a_padded_key_whose_earlier_run_has_another_patient_is_refused_as_a_reused_key(
    stack: tuple[httpx.AsyncClient, Resources], journey_id: UUID, pool: asyncpg.Pool
) -> None:
    api, resources = stack
    tenant = await tenant_of(pool, journey_id)
    await started_before_trimming(resources, tenant, journey_id, PADDED, SEED_PATIENT)

    response = await api.post(
        f"/journeys/{journey_id}/trigger",
        json={**SEED_PATIENT, "age": 41},
        headers={"Idempotency-Key": PADDED},
    )

    assert response.status_code == 422, response.text
    assert await runs_in_store(pool) == 1
