"""Every hostile input of the field report, then ordinary runs: they complete on time and every role is up.

The HTTP rows are refused at the edge (4xx); the records no consumer can read are set aside in dead_letters.
The roles run as real processes, as `pjs dev` runs them.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx

from api.examples import SEED_JOURNEY, SEED_PATIENT
from pjs.settings import Settings
from support.journeys import delay, message
from support.kafka import RawRecord, ce_headers, produce
from support.roles import eventually, role_processes

PIPELINE = ("relay", "engine", "delivery", "timer", "projector", "audit", "analytics")
ORDINARY_RUNS = 10
LATE_SECONDS = 5  # the timer's own lateness on a loaded machine; it is well under a second when idle
ON_TIME_SECONDS = 45  # a 1 s delay; generous for a loaded CI machine, far below "never"


def nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = {"inner": value}
    return value


def looping_journey() -> dict[str, Any]:
    nodes = [message("ping", "pause"), delay("pause", 0, "pong"), message("pong", "ping")]
    return {"name": "Loop", "start_node_id": "ping", "nodes": nodes}


def huge_journey(count: int) -> dict[str, Any]:
    nodes = [message(f"n{i}", f"n{i + 1}" if i + 1 < count else None) for i in range(count)]
    return {"name": "Huge", "start_node_id": "n0", "nodes": nodes}


def with_deep_condition_value() -> dict[str, Any]:
    nodes = [dict(node) for node in SEED_JOURNEY["nodes"]]
    nodes[1] = {**nodes[1], "condition": {"field": "patient.age", "operator": "=", "value": nested(300)}}
    return {**SEED_JOURNEY, "nodes": nodes}


async def send_every_hostile_request(api: httpx.AsyncClient, journey_id: str, run_id: str) -> list[int]:
    trigger = f"/journeys/{journey_id}/trigger"
    responses = [
        await api.post(trigger, json={**SEED_PATIENT, "note": "x" * 3_000_000}),
        await api.post(trigger, json={**SEED_PATIENT, "id": "p\u00001"}),
        await api.post("/journeys", json={**SEED_JOURNEY, "name": "Bad\u0000name"}),
        await api.post(trigger, json={**SEED_PATIENT, "history": nested(300)}),
        await api.post("/journeys", json=with_deep_condition_value()),
        await api.get(f"/journeys/{journey_id}", params={"version": "2147483648"}),
        await api.get(f"/journeys/runs/{run_id}/events", params={"afterVersion": "2147483648"}),
        await api.get("/audit", params={"cursor": "²"}),
        await api.get("/journeys/runs", params={"patientId": "\u0000"}),
        await api.post("/journeys", json=looping_journey()),
        await api.post("/journeys", json=huge_journey(20_000)),
    ]
    return [response.status_code for response in responses]


async def put_unreadable_records_on_the_topic(settings: Settings) -> None:
    await produce(
        settings.kafka_connection(),
        settings.run_events_topic,
        [
            RawRecord(0, b"{}", [("ce_type", b"\xff\xfenot utf-8"), *ce_headers(None)]),
            RawRecord(1, b"not json at all", ce_headers("pjs.run.RunStarted.v1")),
        ],
    )


async def test_after_every_hostile_input_ordinary_runs_complete_on_time_with_every_role_up(
    settings: Settings, pool: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    quick = {"name": "Quick", "start_node_id": "hello", "nodes": [message("hello", "wait"), delay("wait", 1)]}
    journey_id = (await api.post("/journeys", json=quick)).json()["journeyId"]
    with role_processes(settings, *PIPELINE) as roles:
        first = (await api.post(f"/journeys/{journey_id}/trigger", json=SEED_PATIENT)).json()["runId"]
        statuses = await send_every_hostile_request(api, journey_id, first)
        await put_unreadable_records_on_the_topic(settings)

        triggered = [
            (await api.post(f"/journeys/{journey_id}/trigger", json={**SEED_PATIENT, "id": f"p-{i}"})).json()
            for i in range(ORDINARY_RUNS)
        ]
        run_ids = [uuid.UUID(run["runId"]) for run in triggered] + [uuid.UUID(first)]

        async def all_completed() -> bool:
            done = await pool.fetchval(
                "SELECT count(*) FROM run_status WHERE run_id = ANY($1) AND status = 'completed'", run_ids
            )
            return bool(done == len(run_ids))

        await eventually(all_completed, seconds=ON_TIME_SECONDS, every=0.2)
        lateness = await pool.fetchval(
            "SELECT max((data->>'fired_at')::timestamptz - (data->>'resume_at')::timestamptz)"
            " FROM events WHERE type = 'DelayElapsed' AND run_id = ANY($1)",
            run_ids,
        )
        set_aside = await eventually(lambda: _groups_that_set_records_aside(pool, at_least=3), seconds=60)
        still_up = {role.role: role.is_running for role in roles}  # after every group met the records

    assert all(400 <= status < 500 for status in statuses), statuses
    assert all(still_up.values()), still_up
    assert lateness.total_seconds() < LATE_SECONDS, f"a delay fired {lateness} after it was due"
    assert set_aside >= 3  # projector, audit and analytics each set the unreadable records aside


async def _groups_that_set_records_aside(pool: asyncpg.Pool, at_least: int) -> int | None:
    groups: int = await pool.fetchval("SELECT count(DISTINCT consumer_group) FROM dead_letters")
    return groups if groups >= at_least else None
