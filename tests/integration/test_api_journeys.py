"""Journeys over HTTP: create, edit as a new version, list, read; invalid journeys list every problem."""

from __future__ import annotations

import asyncio
import copy
import uuid

import asyncpg
import httpx
import pytest

from api.examples import SEED_JOURNEY
from support.database import settled


def renamed(name: str) -> dict[str, object]:
    journey = copy.deepcopy(SEED_JOURNEY)
    journey["name"] = name
    return journey


async def test_a_created_journey_reads_back_as_version_1_in_the_contract_shape(
    api: httpx.AsyncClient,
) -> None:
    created = await api.post("/journeys", json=SEED_JOURNEY)

    assert created.status_code == 201
    journey_id = created.json()["journeyId"]
    assert uuid.UUID(journey_id)
    assert created.headers["location"] == f"/journeys/{journey_id}"
    read = await api.get(f"/journeys/{journey_id}")
    assert read.status_code == 200
    body = read.json()
    assert body["journeyId"] == journey_id
    assert body["version"] == 1
    assert body["createdAt"]
    assert {k: body[k] for k in ("name", "start_node_id")} == {
        "name": "Pre-op reminders",
        "start_node_id": "welcome",
    }
    assert body["nodes"] == SEED_JOURNEY["nodes"]


async def test_an_invalid_journey_is_refused_with_every_problem_listed(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/journeys",
        json={
            "name": "",
            "start_node_id": "missing",
            "nodes": [{"id": "a", "type": "SMS", "next_node_id": "b"}],
        },
    )

    assert response.status_code == 400
    body = response.json()
    assert body["message"]
    paths = {problem["path"] for problem in body["problems"]}
    assert {"name", "start_node_id", "nodes[0].type"} <= paths
    assert all(problem["message"] for problem in body["problems"])


async def test_putting_a_journey_saves_version_2_and_version_1_stays_readable(api: httpx.AsyncClient) -> None:
    journey_id = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]

    updated = await api.put(f"/journeys/{journey_id}", json=renamed("Pre-op reminders, revised"))

    assert updated.status_code == 201
    assert updated.json() == {"journeyId": journey_id, "version": 2}
    latest = (await api.get(f"/journeys/{journey_id}")).json()
    assert (latest["version"], latest["name"]) == (2, "Pre-op reminders, revised")
    first = (await api.get(f"/journeys/{journey_id}", params={"version": 1})).json()
    assert (first["version"], first["name"]) == (1, "Pre-op reminders")


async def test_a_journey_looping_through_a_zero_second_delay_is_refused_naming_the_loop(
    api: httpx.AsyncClient,
) -> None:
    looping = {
        "name": "Ping pong",
        "start_node_id": "ping",
        "nodes": [
            {"id": "ping", "type": "MESSAGE", "message": "Ping", "next_node_id": "pause"},
            {"id": "pause", "type": "DELAY", "duration_seconds": 0, "next_node_id": "pong"},
            {"id": "pong", "type": "MESSAGE", "message": "Pong", "next_node_id": "ping"},
        ],
    }

    response = await api.post("/journeys", json=looping)

    assert response.status_code == 400
    [problem] = response.json()["problems"]
    assert problem["path"] == "nodes"
    assert "ping, pause, pong" in problem["message"] and "at least 60 seconds" in problem["message"]
    assert (await api.get("/journeys")).json()["journeys"] == []


async def test_putting_an_invalid_journey_lists_its_problems_and_saves_nothing(
    api: httpx.AsyncClient,
) -> None:
    journey_id = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]

    response = await api.put(f"/journeys/{journey_id}", json={"name": "x", "start_node_id": "a", "nodes": []})

    assert response.status_code == 400
    assert [p["path"] for p in response.json()["problems"]] == ["nodes", "start_node_id"]
    assert (await api.get(f"/journeys/{journey_id}")).json()["version"] == 1


async def test_putting_an_unknown_journey_is_not_found(api: httpx.AsyncClient) -> None:
    response = await api.put(f"/journeys/{uuid.uuid4()}", json=SEED_JOURNEY)

    assert response.status_code == 404
    assert "does not exist" in response.json()["message"]


async def test_the_listing_shows_each_journey_with_its_latest_version(
    api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    first = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]
    second = (await api.post("/journeys", json=renamed("Post-op check-in"))).json()["journeyId"]
    await api.put(f"/journeys/{first}", json=renamed("Pre-op reminders v2"))
    await settled(pool)  # the listing shows settled journeys only

    response = await api.get("/journeys")

    assert response.status_code == 200
    listed = [(j["journeyId"], j["name"], j["latestVersion"]) for j in response.json()["journeys"]]
    assert listed == [(first, "Pre-op reminders v2", 2), (second, "Post-op check-in", 1)]


@pytest.mark.parametrize("path", ["/journeys/not-a-uuid", f"/journeys/{uuid.uuid4()}"])
async def test_an_unknown_journey_is_not_found(api: httpx.AsyncClient, path: str) -> None:
    response = await api.get(path)

    assert response.status_code == 404
    assert response.json()["message"]


async def test_an_unknown_version_is_not_found_and_version_0_is_a_bad_request(api: httpx.AsyncClient) -> None:
    journey_id = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]

    assert (await api.get(f"/journeys/{journey_id}", params={"version": 7})).status_code == 404
    zero = await api.get(f"/journeys/{journey_id}", params={"version": 0})
    assert zero.status_code == 400
    assert [p["path"] for p in zero.json()["problems"]] == ["version"]


async def test_concurrent_edits_each_get_their_own_version(api: httpx.AsyncClient) -> None:
    journey_id = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]

    responses = await asyncio.gather(
        *(api.put(f"/journeys/{journey_id}", json=renamed(f"edit {i}")) for i in range(5))
    )

    assert sorted(r.json()["version"] for r in responses) == [2, 3, 4, 5, 6]
