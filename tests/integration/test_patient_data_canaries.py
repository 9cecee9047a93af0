"""Canary values in every patient field stay sealed on the topic, in analytics and logs; erased, gone."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from pjs.settings import Settings
from support.database import pg_dump
from support.kafka import read_topic
from support.roles import eventually, in_process

CANARIES = (
    "CANARY-ID-5c1",
    "7310.25",
    "CANARY-COND-9d2",
    "CANARY-NAME-41a",
    "CANARY-NESTED-77e",
    "CANARY-LIST-e0f",
)
PATIENT: dict[str, Any] = {
    "id": CANARIES[0],
    "age": 7310.25,
    "language": "en",
    "condition": CANARIES[2],
    "name": CANARIES[3],
    "notes": {"allergy": CANARIES[4]},
    "tags": [CANARIES[5]],
}
JOURNEY: dict[str, Any] = {
    "name": "Canary",
    "start_node_id": "hello",
    "nodes": [
        {"id": "hello", "type": "MESSAGE", "message": "Welcome.", "next_node_id": "check"},
        {
            "id": "check",
            "type": "CONDITIONAL",
            "condition": {"field": "patient.condition", "operator": "==", "value": "knee"},
            "on_true_next_node_id": None,
            "on_false_next_node_id": "wait",
        },
        {"id": "wait", "type": "DELAY", "duration_seconds": 1, "next_node_id": "bye"},
        {"id": "bye", "type": "MESSAGE", "message": "Goodbye.", "next_node_id": None},
    ],
}
LONG_WAIT = {
    **JOURNEY,
    "name": "Canary, waiting",
    "nodes": [
        *JOURNEY["nodes"][:2],
        {**JOURNEY["nodes"][2], "duration_seconds": 86_400},
        JOURNEY["nodes"][3],
    ],
}
ROLES = ("relay", "engine", "delivery", "timer", "projector", "audit", "analytics")


def service_logs(caplog: pytest.LogCaptureFixture) -> str:
    """Everything the service's roles logged; httpx's lines are this test's own client (the service runs
    uvicorn without an access log)."""
    formatter = logging.Formatter("%(name)s %(message)s")
    return "\n".join(
        formatter.format(record) for record in caplog.records if not record.name.startswith("httpx")
    )


def found_in(blob: bytes | str) -> list[str]:
    text = blob if isinstance(blob, str) else blob.decode("utf-8", "replace")
    return [canary for canary in CANARIES if canary in text]


async def every_error_path(api: httpx.AsyncClient, journey_id: str, finished_run: str) -> None:
    """Each refusal the API can make with a patient's data in the request."""
    assert (
        await api.post(f"/journeys/{journey_id}/trigger", json={**PATIENT, "age": CANARIES[3]})
    ).status_code == 400
    assert (
        await api.post(f"/journeys/{journey_id}/trigger", content=f'{{"id": "{CANARIES[0]}"')
    ).status_code == 400
    unknown = "00000000-0000-4000-8000-000000000000"
    assert (await api.post(f"/journeys/{unknown}/trigger", json=PATIENT)).status_code == 404
    key = {"Idempotency-Key": "canary-key"}
    assert (await api.post(f"/journeys/{journey_id}/trigger", json=PATIENT, headers=key)).status_code == 202
    reused = await api.post(f"/journeys/{journey_id}/trigger", json={**PATIENT, "name": "other"}, headers=key)
    assert reused.status_code == 422
    assert (await api.post(f"/journeys/runs/{finished_run}/cancel")).status_code == 409
    assert (await api.get(f"/journeys/runs/{unknown}/events")).status_code == 404
    assert (await api.get("/journeys/runs", params={"cursor": CANARIES[1]})).status_code == 400


async def topic_records(settings: Settings, pool: asyncpg.Pool) -> bytes:
    total = await pool.fetchval("SELECT count(*) FROM events")
    _, records = await read_topic(
        settings.kafka_connection(),
        settings.run_events_topic,
        until=lambda events: len(events) >= total,
    )
    return b"".join(
        (r.key or b"") + (r.value or b"") + b"".join(name.encode() + value for name, value in r.headers)
        for r in records
    )


def analytics_text(directory: Path) -> bytes:
    return b"".join(path.read_bytes() for path in directory.glob("*.ndjson"))


async def analytics_lines_of(directory: Path, event_type: str, count: int) -> None:
    """Wait until analytics has written `count` lines of `event_type`: its files hold what it was sent."""

    async def written() -> bool | None:
        return True if analytics_text(directory).count(f'"type":"{event_type}"'.encode()) >= count else None

    await eventually(written, seconds=60)


async def every_read(api: httpx.AsyncClient, run_ids: list[str]) -> str:
    bodies = [(await api.get("/journeys/runs", params={"patientId": CANARIES[0]})).text]
    bodies.append((await api.get("/audit", params={"patientId": CANARIES[0]})).text)
    for run_id in run_ids:
        bodies.append((await api.get(f"/journeys/runs/{run_id}")).text)
        bodies.append((await api.get(f"/journeys/runs/{run_id}/events")).text)
    return "".join(bodies)


@pytest.mark.timeout(120)
async def test_canaries_stay_sealed_and_are_gone_everywhere_after_erasure(
    settings: Settings,
    api: httpx.AsyncClient,
    pool: asyncpg.Pool,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    roles_settings = settings.model_copy(update={"analytics_dir": tmp_path})
    journey_id = (await api.post("/journeys", json=JOURNEY)).json()["journeyId"]
    waiting_journey = (await api.post("/journeys", json=LONG_WAIT)).json()["journeyId"]
    async with in_process(roles_settings, *ROLES):
        done = (await api.post(f"/journeys/{journey_id}/trigger", json=PATIENT)).json()["runId"]
        open_run = (await api.post(f"/journeys/{waiting_journey}/trigger", json=PATIENT)).json()["runId"]

        async def settled() -> bool:
            runs = [(await api.get(f"/journeys/runs/{run_id}")).json() for run_id in (done, open_run)]
            delivered = await pool.fetchval("SELECT count(*) FROM events WHERE type = 'MessageDelivered'")
            return [r["status"] for r in runs] == ["completed", "waiting_delay"] and delivered >= 3

        await eventually(settled)
        assert (await api.get(f"/journeys/runs/{done}")).json()[
            "patientContext"
        ] == PATIENT  # authorised read
        await every_error_path(api, journey_id, done)
        await eventually(
            lambda: pool.fetchval("SELECT count(*) >= 10 FROM audit_log WHERE run_id IS NOT NULL")
        )

        assert found_in(await topic_records(settings, pool)) == []
        await analytics_lines_of(tmp_path, "RunCompleted", 1)  # so an empty file can't pass the check below
        assert found_in(analytics_text(tmp_path)) == []
        assert found_in(service_logs(caplog)) == []

        erased = await api.post(f"/patients/{CANARIES[0]}/erasure")
        assert erased.status_code == 202 and erased.json()["runsCancelled"] == 2  # the keyed run is open too
        run_ids = [done, open_run]
        await eventually(
            lambda: pool.fetchval("SELECT count(*) = 3 FROM run_timeline WHERE type = 'PatientErased'")
        )
        await analytics_lines_of(tmp_path, "PatientErased", 3)

    assert found_in(await pg_dump(settings.resolved_migration_database_url())) == []
    assert found_in(await topic_records(settings, pool)) == []
    assert found_in(analytics_text(tmp_path)) == []
    assert found_in(service_logs(caplog)) == []
    assert found_in(await every_read(api, run_ids)) == []
