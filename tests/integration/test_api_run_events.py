"""A run's timeline over HTTP: its stored events in version order, by pages."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from api.examples import SEED_JOURNEY, SEED_PATIENT
from events.catalogue import ConditionEvaluated, DelayStarted, MessageRequested, RunEvent, stamp
from pjs.wiring import event_store


@pytest.fixture
async def run_id(api: httpx.AsyncClient, pool: asyncpg.Pool) -> str:
    """A run that went welcome -> age_check -> senior_leaflet -> wait (the engine's steps appended here)."""
    journey_id = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]
    run_id: str = (await api.post(f"/journeys/{journey_id}/trigger", json=SEED_PATIENT)).json()["runId"]
    now = datetime.now(UTC)
    steps: list[RunEvent] = [
        MessageRequested(node_id="welcome", message="Your surgery is booked."),
        ConditionEvaluated(
            node_id="age_check", field="patient.age", operator=">", result=True, next_node_id="senior_leaflet"
        ),
        MessageRequested(node_id="senior_leaflet", message="Here is the fall-risk leaflet."),
        DelayStarted(node_id="wait", duration_seconds=2, resume_at=now + timedelta(seconds=2)),
    ]
    envelopes = stamp(uuid.UUID(run_id), 1, steps, now=now, causation_id=None, correlation_id=None)
    await event_store(pool).append(uuid.UUID(run_id), 1, envelopes)
    return run_id


async def test_the_timeline_lists_every_event_in_order(api: httpx.AsyncClient, run_id: str) -> None:
    response = await api.get(f"/journeys/runs/{run_id}/events")

    assert response.status_code == 200
    body = response.json()
    assert body["runId"] == run_id
    assert body["nextAfterVersion"] is None
    assert [(e["version"], e["type"], e["nodeId"]) for e in body["events"]] == [
        (1, "RunStarted", "welcome"),
        (2, "MessageRequested", "welcome"),
        (3, "ConditionEvaluated", "age_check"),
        (4, "MessageRequested", "senior_leaflet"),
        (5, "DelayStarted", "wait"),
    ]
    started = body["events"][0]
    assert started["recordedAt"]
    assert started["data"]["journey_version"] == 1
    assert "type" not in started["data"]


async def test_the_timeline_pages_with_after_version_and_limit(api: httpx.AsyncClient, run_id: str) -> None:
    pages: list[list[int]] = []
    after: int | None = 0
    while after is not None:
        body = (
            await api.get(f"/journeys/runs/{run_id}/events", params={"afterVersion": after, "limit": 2})
        ).json()
        pages.append([event["version"] for event in body["events"]])
        after = body["nextAfterVersion"]

    assert pages == [[1, 2], [3, 4], [5]]


async def test_a_page_past_the_end_of_an_existing_run_is_empty(api: httpx.AsyncClient, run_id: str) -> None:
    response = await api.get(f"/journeys/runs/{run_id}/events", params={"afterVersion": 99})

    assert response.status_code == 200
    assert response.json() == {"runId": run_id, "events": [], "nextAfterVersion": None}


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 1001}, {"afterVersion": -1}, {"limit": "ten"}], ids=str
)
async def test_a_page_request_out_of_range_is_a_bad_request(
    api: httpx.AsyncClient, run_id: str, params: dict[str, int | str]
) -> None:
    response = await api.get(f"/journeys/runs/{run_id}/events", params=params)

    assert response.status_code == 400
    assert [problem["path"] for problem in response.json()["problems"]] == list(params)
