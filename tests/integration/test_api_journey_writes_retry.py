"""On the real API: journey writes can be retried safely. Concurrent edits each save their own next version,
and an Idempotency-Key on POST /journeys or PUT makes a retry answer as the first request did."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
import pytest

from api.examples import SEED_JOURNEY
from support.database import settled
from support.stored import journey_versions_in_store


def renamed(name: str) -> dict[str, Any]:
    return {**SEED_JOURNEY, "name": name}


@pytest.fixture
async def journey_id(api: httpx.AsyncClient) -> str:
    journey_id: str = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]
    return journey_id


async def test_twenty_concurrent_edits_each_save_their_own_next_version(
    api: httpx.AsyncClient, journey_id: str
) -> None:
    edits = [api.put(f"/journeys/{journey_id}", json=renamed(f"Edit {n}")) for n in range(20)]

    responses = await asyncio.gather(*edits)

    assert [response.status_code for response in responses] == [201] * 20, [r.text for r in responses]
    assert sorted(response.json()["version"] for response in responses) == list(range(2, 22))
    latest = (await api.get(f"/journeys/{journey_id}")).json()
    assert latest["version"] == 21


async def test_a_create_retried_with_its_key_is_the_same_journey_and_creates_no_other(
    api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    headers = {"Idempotency-Key": "pre-op-2026"}

    responses = [await api.post("/journeys", json=SEED_JOURNEY, headers=headers) for _ in range(3)]

    assert [response.status_code for response in responses] == [201] * 3
    assert len({response.json()["journeyId"] for response in responses}) == 1
    assert len({response.headers["Location"] for response in responses}) == 1
    await settled(pool)  # the journeys listing shows settled journeys only
    assert len((await api.get("/journeys")).json()["journeys"]) == 1
    assert await journey_versions_in_store(pool) == 1


async def test_concurrent_creates_with_one_key_make_one_journey(
    api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    headers = {"Idempotency-Key": "pre-op-2026"}

    responses = await asyncio.gather(
        *(api.post("/journeys", json=SEED_JOURNEY, headers=headers) for _ in range(5))
    )

    assert [response.status_code for response in responses] == [201] * 5
    assert len({response.json()["journeyId"] for response in responses}) == 1
    assert await journey_versions_in_store(pool) == 1


async def test_a_create_key_reused_with_another_journey_is_unprocessable(
    api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    headers = {"Idempotency-Key": "pre-op-2026"}
    first = await api.post("/journeys", json=SEED_JOURNEY, headers=headers)

    response = await api.post("/journeys", json=renamed("Another"), headers=headers)

    assert response.status_code == 422, response.text
    assert first.json()["journeyId"] in response.json()["message"]
    assert await journey_versions_in_store(pool) == 1


async def test_an_edit_retried_with_its_key_is_the_same_version_even_after_a_later_edit(
    api: httpx.AsyncClient, journey_id: str, pool: asyncpg.Pool
) -> None:
    keyed = {"Idempotency-Key": "edit-1"}
    first = await api.put(f"/journeys/{journey_id}", json=renamed("Edit 1"), headers=keyed)
    await api.put(f"/journeys/{journey_id}", json=renamed("Edit 2"))

    retried = await api.put(f"/journeys/{journey_id}", json=renamed("Edit 1"), headers=keyed)

    assert first.status_code == retried.status_code == 201, retried.text
    assert retried.json() == first.json() == {"journeyId": journey_id, "version": 2}
    assert retried.headers["Location"] == first.headers["Location"]
    assert await journey_versions_in_store(pool) == 3


async def test_an_edit_key_reused_with_another_body_is_unprocessable_and_saves_nothing(
    api: httpx.AsyncClient, journey_id: str, pool: asyncpg.Pool
) -> None:
    keyed = {"Idempotency-Key": "edit-1"}
    await api.put(f"/journeys/{journey_id}", json=renamed("Edit 1"), headers=keyed)

    response = await api.put(f"/journeys/{journey_id}", json=renamed("Other"), headers=keyed)

    assert response.status_code == 422, response.text
    assert "version 2" in response.json()["message"]
    assert await journey_versions_in_store(pool) == 2


async def test_one_edit_key_on_two_journeys_saves_a_version_of_each(
    api: httpx.AsyncClient, journey_id: str, pool: asyncpg.Pool
) -> None:
    other: str = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]
    keyed = {"Idempotency-Key": "edit-1"}

    responses = [
        await api.put(f"/journeys/{j}", json=renamed("Edit"), headers=keyed) for j in (journey_id, other)
    ]

    assert [response.json()["version"] for response in responses] == [2, 2]
    assert await journey_versions_in_store(pool) == 4


async def test_two_idempotency_key_headers_on_a_journey_write_are_refused(api: httpx.AsyncClient) -> None:
    headers = [("Idempotency-Key", "a"), ("Idempotency-Key", "b")]

    response = await api.post("/journeys", json=SEED_JOURNEY, headers=headers)

    assert response.status_code == 400, response.text
