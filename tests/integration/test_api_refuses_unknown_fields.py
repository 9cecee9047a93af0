"""Writes refuse fields the contract does not have, naming each, instead of dropping them in silence."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime

import asyncpg
import httpx
import orjson
import pytest

from api.examples import SEED_JOURNEY, SEED_PATIENT
from support.journeys import typo_journey
from support.stored import journey_versions_in_store, runs_in_store


def paths(response: httpx.Response) -> list[str]:
    assert response.status_code == 400, response.text
    return [problem["path"] for problem in response.json()["problems"]]


@pytest.fixture
async def journey_id(api: httpx.AsyncClient) -> str:
    journey_id: str = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]
    return journey_id


async def test_a_journey_with_misspelt_fields_is_refused_naming_each_and_nothing_is_stored(
    api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    response = await api.post("/journeys", json=typo_journey())

    assert paths(response) == ["quiet_hour", "nodes[0].chanel", "nodes[0].translation"]
    assert "Did you mean 'channel'?" in response.json()["problems"][1]["message"]
    assert await journey_versions_in_store(pool) == 0


async def test_a_new_version_with_an_unknown_field_is_refused_and_the_journey_stays_at_version_1(
    api: httpx.AsyncClient, journey_id: str
) -> None:
    edited = {**copy.deepcopy(SEED_JOURNEY), "version": 99}

    assert paths(await api.put(f"/journeys/{journey_id}", json=edited)) == ["version"]
    assert (await api.get(f"/journeys/{journey_id}")).json()["version"] == 1


async def test_a_batch_with_a_dry_run_flag_it_does_not_have_starts_no_run(
    api: httpx.AsyncClient, journey_id: str, pool: asyncpg.Pool
) -> None:
    items = [
        {"idempotencyKey": "b-1", "patient": {"id": "pb1", "age": 30, "language": "en"}},
        {"idempotencyKey": "b-2", "priority": 9, "patient": {**SEED_PATIENT, "id": "pb2"}},
    ]

    response = await api.post(f"/journeys/{journey_id}/trigger-batch", json={"items": items, "dryRun": True})

    assert paths(response) == ["dryRun", "items[1].priority"]
    assert await runs_in_store(pool) == 0


async def test_the_patients_own_fields_are_still_free(api: httpx.AsyncClient, journey_id: str) -> None:
    patient = {**SEED_PATIENT, "ward": "B2", "allergies": ["latex"]}
    items = [{"idempotencyKey": "b-1", "patient": patient}]

    response = await api.post(f"/journeys/{journey_id}/trigger-batch", json={"items": items})

    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == 1


async def test_a_journey_stored_with_a_field_no_longer_known_is_still_read_and_triggered(
    api: httpx.AsyncClient, journey_id: str, pool: asyncpg.Pool
) -> None:
    # A version written before the refusal, as the store would hold it: the field is ignored on reading.
    stored = {**copy.deepcopy(SEED_JOURNEY), "notes": "kept from an older client"}
    await pool.execute(
        "INSERT INTO journeys (tenant_id, journey_id, version, name, definition, created_at)"
        " SELECT tenant_id, journey_id, 2, name, $2::jsonb, $3 FROM journeys WHERE journey_id = $1",
        uuid.UUID(journey_id),
        orjson.dumps(stored).decode(),
        datetime.now(UTC),
    )

    read = await api.get(f"/journeys/{journey_id}")
    triggered = await api.post(f"/journeys/{journey_id}/trigger", json=SEED_PATIENT)

    assert read.status_code == 200 and read.json()["version"] == 2
    assert "notes" not in read.json()
    assert triggered.status_code == 202, triggered.text
