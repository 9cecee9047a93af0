"""Hostile input is a 4xx naming the limit it broke, writes nothing, and the next trigger still works."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx
import pytest

from api.examples import SEED_JOURNEY, SEED_PATIENT
from support.database import settled
from support.stored import events_in_store, journey_versions_in_store, runs_in_store

SECRET = "patient-secret-0xC0FFEE"


def nested(depth: int) -> Any:
    value: Any = SECRET
    for _ in range(depth):
        value = {"inner": value}
    return value


def journey(**changes: Any) -> dict[str, Any]:
    return {**SEED_JOURNEY, **changes}


def chain(count: int) -> dict[str, Any]:
    nodes = [
        {
            "id": f"n{i}",
            "type": "MESSAGE",
            "message": "",
            "next_node_id": f"n{i + 1}" if i + 1 < count else None,
        }
        for i in range(count)
    ]
    return {"name": "Long", "start_node_id": "n0", "nodes": nodes}


def with_condition_value(value: Any) -> dict[str, Any]:
    nodes = [dict(node) for node in SEED_JOURNEY["nodes"]]
    nodes[1] = {**nodes[1], "condition": {"field": "patient.age", "operator": "=", "value": value}}
    return journey(nodes=nodes)


@pytest.fixture
async def journey_id(api: httpx.AsyncClient) -> AsyncIterator[str]:
    journey_id: str = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]
    yield journey_id
    # Whatever was refused, an ordinary trigger right after still works.
    assert (await api.post(f"/journeys/{journey_id}/trigger", json=SEED_PATIENT)).status_code == 202


async def assert_nothing_written(api: httpx.AsyncClient, pool: asyncpg.Pool, journey_id: str) -> None:
    # Counted in the tables: the run listing hides runs past the transaction horizon, so it can't see one.
    assert await runs_in_store(pool) == 0
    assert await events_in_store(pool) == 0
    assert await journey_versions_in_store(pool) == 1
    await settled(pool)  # the journeys listing shows settled journeys only
    assert [j["journeyId"] for j in (await api.get("/journeys")).json()["journeys"]] == [journey_id]
    assert (await api.get(f"/journeys/{journey_id}", params={"version": 2})).status_code == 404


def assert_refused(response: httpx.Response, status: int, limit: str) -> None:
    assert response.status_code == status, response.text
    assert limit in response.json()["message"], response.json()
    assert SECRET not in response.text


# Factories, not values: a failing case then reports its id, not megabytes of parameters.
@pytest.mark.parametrize(
    ("patient", "status", "limit"),
    [
        pytest.param(lambda: {"note": "x" * 3_000_000}, 413, "PJS_MAX_BODY_BYTES", id="3MB string"),
        pytest.param(
            lambda: {f"note{i}": "x" * 9_000 for i in range(9)},
            413,
            "PJS_MAX_PATIENT_CONTEXT_BYTES",
            id="80kB context",
        ),
        pytest.param(lambda: {"note": SECRET * 1_000}, 400, "PJS_MAX_TEXT_LENGTH", id="long text"),
        pytest.param(lambda: {"id": f"\u0000{SECRET}"}, 400, "NUL", id="NUL in id"),
        pytest.param(lambda: {"notes": {"deep": [f"{SECRET}\u0000"]}}, 400, "NUL", id="NUL in nested value"),
        pytest.param(lambda: {"notes": {f"{SECRET}\u0000": 1}}, 400, "NUL", id="NUL in key"),
        pytest.param(lambda: {"history": nested(300)}, 400, "PJS_MAX_JSON_DEPTH", id="depth 300"),
    ],
)
async def test_a_hostile_patient_context_is_refused(
    api: httpx.AsyncClient,
    pool: asyncpg.Pool,
    journey_id: str,
    patient: Callable[[], dict[str, Any]],
    status: int,
    limit: str,
) -> None:
    response = await api.post(f"/journeys/{journey_id}/trigger", json={**SEED_PATIENT, **patient()})

    assert_refused(response, status, limit)
    await assert_nothing_written(api, pool, journey_id)


async def test_a_streamed_body_over_the_limit_is_refused_without_content_length(
    api: httpx.AsyncClient, pool: asyncpg.Pool, journey_id: str
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"id": "p-1", "age": 70, "language": "en", "note": "'
        for _ in range(20):
            yield b"x" * 65_536
        yield b'"}'

    response = await api.post(
        f"/journeys/{journey_id}/trigger", content=chunks(), headers={"Content-Type": "application/json"}
    )

    assert "content-length" not in response.request.headers
    assert_refused(response, 413, "PJS_MAX_BODY_BYTES")
    await assert_nothing_written(api, pool, journey_id)


@pytest.mark.parametrize(
    ("body", "status", "limit"),
    [
        pytest.param(lambda: journey(name=f"Pre-op\u0000{SECRET}"), 400, "NUL", id="NUL in name"),
        pytest.param(lambda: journey(name="N" * 256), 400, "PJS_MAX_ID_LENGTH", id="long name"),
        pytest.param(lambda: with_condition_value(f"{SECRET}\u0000"), 400, "NUL", id="NUL in condition"),
        pytest.param(
            lambda: with_condition_value(nested(300)), 400, "PJS_MAX_JSON_DEPTH", id="condition depth 300"
        ),
        pytest.param(lambda: chain(20_000), 413, "PJS_MAX_BODY_BYTES", id="20000 nodes"),
        pytest.param(lambda: chain(1_001), 400, "PJS_MAX_JOURNEY_NODES", id="1001 nodes"),
        pytest.param(
            lambda: journey(nodes=[{**SEED_JOURNEY["nodes"][0], "pad": ["p" * 9_999] * 60}]),
            413,
            "PJS_MAX_JOURNEY_BYTES",
            id="600kB journey",
        ),
    ],
)
async def test_a_hostile_journey_is_refused_on_create_and_on_edit(
    api: httpx.AsyncClient,
    pool: asyncpg.Pool,
    journey_id: str,
    body: Callable[[], dict[str, Any]],
    status: int,
    limit: str,
) -> None:
    assert_refused(await api.post("/journeys", json=body()), status, limit)
    assert_refused(await api.put(f"/journeys/{journey_id}", json=body()), status, limit)
    await assert_nothing_written(api, pool, journey_id)


@pytest.mark.parametrize(
    ("path", "params", "named"),
    [
        ("/journeys/{journey_id}", {"version": "2147483648"}, "version"),
        ("/journeys/{journey_id}", {"version": "99999999999999999999999"}, "version"),
        ("/journeys/runs/{run_id}/events", {"afterVersion": "2147483648"}, "afterVersion"),
        ("/journeys/runs/{run_id}/events", {"afterVersion": "-1"}, "afterVersion"),
        ("/audit", {"cursor": "²"}, "cursor"),
        ("/audit", {"cursor": "9223372036854775808"}, "cursor"),
        ("/audit", {"patientId": "\u0000"}, "NUL"),
        ("/journeys/runs", {"patientId": "\u0000"}, "NUL"),
        ("/journeys/runs", {"cursor": "²"}, "cursor"),
        ("/journeys/runs", {"cursor": "not base64!"}, "cursor"),
        ("/journeys/runs", {"cursor": "MToxOjE="}, "cursor"),  # "1:1:1"
        ("/journeys/runs", {"cursor": "OTk5OTk5OTk5OTk5OTk5OTk5OTk6MQ=="}, "cursor"),  # beyond bigint
    ],
)
async def test_out_of_range_or_malformed_parameters_are_a_bad_request(
    api: httpx.AsyncClient, journey_id: str, path: str, params: dict[str, str], named: str
) -> None:
    run_id = (await api.post(f"/journeys/{journey_id}/trigger", json=SEED_PATIENT)).json()["runId"]

    response = await api.get(path.format(journey_id=journey_id, run_id=run_id), params=params)

    assert response.status_code == 400, response.text
    assert named in response.text


@pytest.mark.parametrize("operator", [{"op": ">"}, [">"]], ids=["object", "list"])
async def test_a_condition_operator_that_is_an_object_or_a_list_is_a_bad_request_naming_it(
    api: httpx.AsyncClient, pool: asyncpg.Pool, journey_id: str, operator: Any
) -> None:
    nodes = [dict(node) for node in SEED_JOURNEY["nodes"]]
    nodes[1] = {**nodes[1], "condition": {"field": "patient.age", "operator": operator, "value": 65}}

    for response in (
        await api.post("/journeys", json=journey(nodes=nodes)),
        await api.put(f"/journeys/{journey_id}", json=journey(nodes=nodes)),
    ):
        assert response.status_code == 400, response.text
        [problem] = response.json()["problems"]
        assert problem["path"] == "nodes[1].condition.operator"
    await assert_nothing_written(api, pool, journey_id)
