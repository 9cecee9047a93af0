"""Runs over HTTP: trigger (idempotent with a key), read status, cancel; no engine runs in these tests."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from api.examples import SEED_JOURNEY, SEED_PATIENT
from events.catalogue import DelayStarted, MessageRequested, RunCompleted, RunEvent, stamp
from events.store import ConcurrencyConflict
from pjs.wiring import event_store


@pytest.fixture
async def journey_id(api: httpx.AsyncClient) -> str:
    journey_id: str = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]
    return journey_id


async def trigger(api: httpx.AsyncClient, journey_id: str, key: str | None = None, **patient: object) -> str:
    headers = {"Idempotency-Key": key} if key else {}
    response = await api.post(
        f"/journeys/{journey_id}/trigger", json={**SEED_PATIENT, **patient}, headers=headers
    )
    assert response.status_code == 202, response.text
    run_id: str = response.json()["runId"]
    return run_id


async def engine_appends(pool: asyncpg.Pool, run_id: str, *events: RunEvent) -> None:
    """Stands in for the engine: appends what it would have decided, through the real store."""
    store = event_store(pool)
    head = await store.head_version(uuid.UUID(run_id))
    envelopes = stamp(
        uuid.UUID(run_id), head, events, now=datetime.now(UTC), causation_id=None, correlation_id=None
    )
    assert not isinstance(await store.append(uuid.UUID(run_id), head, envelopes), ConcurrencyConflict)


def a_delay(seconds: float = 3600) -> DelayStarted:
    resume_at = datetime.now(UTC) + timedelta(seconds=seconds)
    return DelayStarted(node_id="wait", duration_seconds=abs(seconds), resume_at=resume_at)


async def test_a_triggered_run_is_in_progress_at_the_start_node_right_away(
    api: httpx.AsyncClient, journey_id: str
) -> None:
    response = await api.post(f"/journeys/{journey_id}/trigger", json=SEED_PATIENT)

    assert response.status_code == 202
    run_id = response.json()["runId"]
    assert response.headers["location"] == f"/journeys/runs/{run_id}"
    run = await api.get(response.headers["location"])
    assert run.status_code == 200
    body = run.json()
    assert {k: body[k] for k in ("runId", "journeyId", "journeyVersion", "status", "currentNodeId")} == {
        "runId": run_id,
        "journeyId": journey_id,
        "journeyVersion": 1,
        "status": "in_progress",
        "currentNodeId": "welcome",
    }
    assert body["patientContext"] == SEED_PATIENT
    assert body["resumeAt"] is None
    assert body["createdAt"] and body["updatedAt"]


async def test_a_patient_without_an_age_is_refused_naming_age(
    api: httpx.AsyncClient, journey_id: str
) -> None:
    response = await api.post(f"/journeys/{journey_id}/trigger", json={"id": "patient-123", "language": "en"})

    assert response.status_code == 400
    assert [problem["path"] for problem in response.json()["problems"]] == ["age"]


async def test_a_patient_context_that_is_not_an_object_is_refused(
    api: httpx.AsyncClient, journey_id: str
) -> None:
    response = await api.post(f"/journeys/{journey_id}/trigger", json=["patient-123"])

    assert response.status_code == 400
    assert response.json()["problems"][0]["path"] == ""


@pytest.mark.parametrize("journey", ["not-a-uuid", str(uuid.uuid4())])
async def test_triggering_an_unknown_journey_is_not_found(api: httpx.AsyncClient, journey: str) -> None:
    response = await api.post(f"/journeys/{journey}/trigger", json=SEED_PATIENT)

    assert response.status_code == 404
    assert "journey" in response.json()["message"].lower()  # the path id itself: test_api_path_ids


async def test_a_retried_trigger_with_the_same_key_and_body_returns_the_same_run(
    api: httpx.AsyncClient, journey_id: str, pool: asyncpg.Pool
) -> None:
    first = await trigger(api, journey_id, key="booking-4711")
    again = await trigger(api, journey_id, key="booking-4711")

    assert again == first
    assert await pool.fetchval("SELECT count(*) FROM run_status") == 1


async def test_the_same_key_with_a_different_patient_is_unprocessable(
    api: httpx.AsyncClient, journey_id: str
) -> None:
    run_id = await trigger(api, journey_id, key="booking-4711")

    response = await api.post(
        f"/journeys/{journey_id}/trigger",
        json={**SEED_PATIENT, "age": 41},
        headers={"Idempotency-Key": "booking-4711"},
    )

    assert response.status_code == 422
    assert run_id in response.json()["message"]


async def test_triggers_without_a_key_start_separate_runs(api: httpx.AsyncClient, journey_id: str) -> None:
    assert await trigger(api, journey_id) != await trigger(api, journey_id)


async def test_a_run_stays_on_the_version_it_started_on_after_the_journey_is_edited(
    api: httpx.AsyncClient, journey_id: str
) -> None:
    on_v1 = await trigger(api, journey_id)

    edited = {**SEED_JOURNEY, "start_node_id": "age_check"}
    assert (await api.put(f"/journeys/{journey_id}", json=edited)).json()["version"] == 2
    on_v2 = await trigger(api, journey_id)

    first = (await api.get(f"/journeys/runs/{on_v1}")).json()
    second = (await api.get(f"/journeys/runs/{on_v2}")).json()
    assert (first["journeyVersion"], first["currentNodeId"]) == (1, "welcome")
    assert (second["journeyVersion"], second["currentNodeId"]) == (2, "age_check")


@pytest.mark.parametrize("run", ["not-a-uuid", str(uuid.uuid4())])
async def test_an_unknown_run_is_not_found(api: httpx.AsyncClient, run: str) -> None:
    for response in (
        await api.get(f"/journeys/runs/{run}"),
        await api.get(f"/journeys/runs/{run}/events"),
        await api.post(f"/journeys/runs/{run}/cancel"),
    ):
        assert response.status_code == 404
        assert response.json()["message"]


async def test_cancelling_a_waiting_run_removes_its_pending_delay(
    api: httpx.AsyncClient, journey_id: str, pool: asyncpg.Pool
) -> None:
    run_id = await trigger(api, journey_id)
    await engine_appends(pool, run_id, MessageRequested(node_id="welcome", message="Hi"), a_delay())
    assert (await api.get(f"/journeys/runs/{run_id}")).json()["status"] == "waiting_delay"

    response = await api.post(f"/journeys/runs/{run_id}/cancel")

    assert response.status_code == 202
    assert response.json() == {"runId": run_id, "status": "cancelled"}
    run = (await api.get(f"/journeys/runs/{run_id}")).json()
    assert (run["status"], run["resumeAt"]) == ("cancelled", None)
    assert await pool.fetchval("SELECT count(*) FROM delays WHERE run_id = $1", uuid.UUID(run_id)) == 0


async def test_cancelling_twice_is_a_conflict_naming_the_status(
    api: httpx.AsyncClient, journey_id: str
) -> None:
    run_id = await trigger(api, journey_id)
    assert (await api.post(f"/journeys/runs/{run_id}/cancel")).status_code == 202

    again = await api.post(f"/journeys/runs/{run_id}/cancel")

    assert again.status_code == 409
    assert "cancelled" in again.json()["message"]


async def test_cancelling_a_completed_run_is_a_conflict(
    api: httpx.AsyncClient, journey_id: str, pool: asyncpg.Pool
) -> None:
    run_id = await trigger(api, journey_id)
    await engine_appends(pool, run_id, RunCompleted(last_node_id="reminder"))

    response = await api.post(f"/journeys/runs/{run_id}/cancel")

    assert response.status_code == 409
    assert "completed" in response.json()["message"]
    assert (await api.get(f"/journeys/runs/{run_id}")).json()["status"] == "completed"


async def test_concurrent_retries_with_one_key_start_one_run(
    api: httpx.AsyncClient, journey_id: str, pool: asyncpg.Pool
) -> None:
    run_ids = await asyncio.gather(*(trigger(api, journey_id, key="booking-9") for _ in range(5)))

    assert len(set(run_ids)) == 1
    assert await pool.fetchval("SELECT count(*) FROM events") == 1
