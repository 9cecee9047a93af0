"""A request the database cannot answer in time (a lock held by a stuck transaction): a 503, not a hang."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from api.examples import SEED_JOURNEY, SEED_PATIENT
from pjs.settings import Settings
from support.api import app_client
from support.run_locks import lock_runs


@pytest.fixture
async def impatient_api(settings: Settings, api_key: str) -> AsyncIterator[httpx.AsyncClient]:
    """The API with a one-second request deadline."""
    async with app_client(settings.model_copy(update={"api_request_seconds": 1.0}), api_key) as (client, _):
        yield client


async def test_a_cancel_stuck_behind_a_held_run_lock_is_answered_503_at_the_deadline_and_the_api_recovers(
    impatient_api: httpx.AsyncClient, api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    # The run is set up through an API with the usual deadline: a loaded machine may take a second for that.
    journey_id = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]
    run_id = (await api.post(f"/journeys/{journey_id}/trigger", json=SEED_PATIENT)).json()["runId"]

    async with pool.acquire() as stuck, stuck.transaction():
        await lock_runs(stuck, [uuid.UUID(run_id)])
        stalled = await impatient_api.post(f"/journeys/runs/{run_id}/cancel", timeout=15)

    assert stalled.status_code == 503
    assert stalled.headers["Retry-After"] == "1"
    assert "PJS_API_REQUEST_SECONDS" in stalled.json()["message"]
    retried = await impatient_api.post(f"/journeys/runs/{run_id}/cancel")
    assert retried.status_code == 202
    assert (await api.get(f"/journeys/runs/{run_id}")).json()["status"] == "cancelled"
