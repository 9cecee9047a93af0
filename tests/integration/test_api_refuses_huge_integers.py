"""On the real API: an integer beyond 64 bits in any JSON body is a 400 naming where it is, never rounded to
the nearest float and stored; large floats, written as floats, are still taken as they are."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from api.examples import SEED_JOURNEY, SEED_PATIENT
from support.stored import journey_versions_in_store, runs_in_store

BEYOND_64_BITS = [12345678901234567890123, 18446744073709551615, -9223372036854775809, 10**300]


@pytest.fixture
async def journey_id(api: httpx.AsyncClient) -> str:
    journey_id: str = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]
    return journey_id


def assert_refused_at(response: httpx.Response, path: str) -> None:
    assert response.status_code == 400, response.text
    [problem] = response.json()["problems"]
    assert problem == {"path": path, "message": problem["message"]}
    assert "64 bits" in problem["message"]
    assert "12345678901234567890" not in response.text


@pytest.mark.parametrize("mrn", BEYOND_64_BITS)
async def test_a_trigger_with_an_integer_beyond_64_bits_is_refused_and_starts_no_run(
    api: httpx.AsyncClient, journey_id: str, pool: asyncpg.Pool, mrn: int
) -> None:
    response = await api.post(f"/journeys/{journey_id}/trigger", json={**SEED_PATIENT, "ids": {"mrn": [mrn]}})

    assert_refused_at(response, "ids.mrn[0]")
    assert await runs_in_store(pool) == 0


async def test_two_huge_record_numbers_that_differ_in_the_last_digit_are_never_one_run(
    api: httpx.AsyncClient, journey_id: str, pool: asyncpg.Pool
) -> None:
    headers = {"Idempotency-Key": "booking-4711"}
    for mrn in (12345678901234567890123, 12345678901234567890124):
        response = await api.post(
            f"/journeys/{journey_id}/trigger", json={**SEED_PATIENT, "mrn": mrn}, headers=headers
        )

        assert_refused_at(response, "mrn")
    assert await runs_in_store(pool) == 0


async def test_large_floats_and_the_largest_64_bit_integers_are_still_taken(
    api: httpx.AsyncClient, journey_id: str
) -> None:
    body = (
        b'{"id": "p-1", "age": 70, "language": "en", "a": 1e22, "b": -1.5e300,'
        b' "c": 9223372036854775807, "d": -9223372036854775807}'
    )

    response = await api.post(
        f"/journeys/{journey_id}/trigger", content=body, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 202, response.text


async def test_a_journey_comparing_with_an_integer_beyond_64_bits_is_refused_at_save(
    api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    nodes = [dict(node) for node in SEED_JOURNEY["nodes"]]
    condition = {"field": "patient.mrn", "operator": "=", "value": BEYOND_64_BITS[0]}
    nodes[1] = {**nodes[1], "condition": condition}

    response = await api.post("/journeys", json={**SEED_JOURNEY, "nodes": nodes})

    assert_refused_at(response, "nodes[1].condition.value")
    assert await journey_versions_in_store(pool) == 0


async def test_in_a_batch_only_the_patient_with_an_integer_beyond_64_bits_is_refused(
    api: httpx.AsyncClient, journey_id: str, pool: asyncpg.Pool
) -> None:
    items = [
        {"idempotencyKey": "k-huge", "patient": {**SEED_PATIENT, "id": "p-1", "mrn": BEYOND_64_BITS[0]}},
        {"idempotencyKey": "k-fine", "patient": {**SEED_PATIENT, "id": "p-2", "mrn": 4711}},
    ]

    response = await api.post(f"/journeys/{journey_id}/trigger-batch", json={"items": items})

    assert response.status_code == 202, response.text
    refused, accepted = response.json()["items"]
    assert refused["status"] == 400 and refused["error"]["problems"][0]["path"] == "mrn"
    assert "64 bits" in refused["error"]["problems"][0]["message"]
    assert "runId" in accepted
    assert await runs_in_store(pool) == 1
