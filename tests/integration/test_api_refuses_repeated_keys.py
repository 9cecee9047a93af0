"""On the real API: a JSON body that names a key twice in one object is a 400 naming where, never read as
whichever of the two values a parser keeps."""

from __future__ import annotations

import asyncpg
import httpx

from api.examples import SEED_JOURNEY
from support.stored import journey_versions_in_store, runs_in_store

JSON = {"Content-Type": "application/json"}


async def test_a_trigger_naming_a_context_field_twice_is_refused_and_starts_no_run(
    api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    journey_id = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]
    body = b'{"id": "p-1", "age": 70, "language": "en", "age": 40}'

    response = await api.post(f"/journeys/{journey_id}/trigger", content=body, headers=JSON)

    assert response.status_code == 400, response.text
    assert response.json()["message"] == "The request body names a key twice in one object."
    assert [problem["path"] for problem in response.json()["problems"]] == ["age"]
    assert await runs_in_store(pool) == 0


async def test_a_journey_naming_its_start_twice_is_refused_and_not_stored(
    api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    body = (
        b'{"name": "Two starts", "start_node_id": "a", "start_node_id": "b", "nodes": ['
        b'{"id": "a", "type": "MESSAGE", "message": "Hi", "next_node_id": null},'
        b'{"id": "b", "type": "MESSAGE", "message": "Hello", "next_node_id": null}]}'
    )

    response = await api.post("/journeys", content=body, headers=JSON)

    assert response.status_code == 400, response.text
    assert [problem["path"] for problem in response.json()["problems"]] == ["start_node_id"]
    assert await journey_versions_in_store(pool) == 0


async def test_a_batch_item_naming_its_key_twice_refuses_the_whole_request(
    api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    journey_id = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]
    body = (
        b'{"items": [{"idempotencyKey": "a", "context": {"id": "p-1", "age": 70, "language": "en"}},'
        b' {"idempotencyKey": "b", "idempotencyKey": "c",'
        b' "context": {"id": "p-2", "age": 70, "language": "en"}}]}'
    )

    response = await api.post(f"/journeys/{journey_id}/trigger-batch", content=body, headers=JSON)

    assert response.status_code == 400, response.text
    assert [problem["path"] for problem in response.json()["problems"]] == ["items[1].idempotencyKey"]
    assert await runs_in_store(pool) == 0
