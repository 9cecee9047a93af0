"""A journey every run of which would fail at the engine's events cap is refused when saved, naming the
way; the cap is the engine's own setting, PJS_RUN_MAX_EVENTS_PER_DECISION."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from pjs.settings import Settings
from support.api import app_client
from support.stored import journey_versions_in_store


def conditional_chain(count: int) -> dict[str, Any]:
    """`count` CONDITIONAL nodes in a row, both branches onward, no DELAY."""

    def onward(index: int) -> str | None:
        return f"n{index + 1}" if index + 1 < count else None

    nodes = [
        {
            "id": f"n{i}",
            "type": "CONDITIONAL",
            "condition": {"field": "patient.age", "operator": ">", "value": 65},
            "on_true_next_node_id": onward(i),
            "on_false_next_node_id": onward(i),
        }
        for i in range(count)
    ]
    return {"name": "Endless step", "start_node_id": "n0", "nodes": nodes}


@pytest.fixture
async def capped_api(settings: Settings, api_key: str) -> AsyncIterator[httpx.AsyncClient]:
    """The API with the engine's events cap set to 10."""
    capped = settings.model_copy(update={"run_max_events_per_decision": 10})
    async with app_client(capped, api_key) as (client, _):
        yield client


async def test_a_chain_of_1000_conditionals_without_a_delay_is_refused_naming_where_it_starts(
    api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    response = await api.post("/journeys", json=conditional_chain(1000))

    assert response.status_code == 400, response.text
    [problem] = response.json()["problems"]
    assert problem["path"] == "nodes"
    assert "from n0, n1, n2, n3, n4, ...: 1001 events" in problem["message"]
    assert "PJS_RUN_MAX_EVENTS_PER_DECISION" in problem["message"]
    assert await journey_versions_in_store(pool) == 0


async def test_the_refusal_follows_the_engines_cap_setting(capped_api: httpx.AsyncClient) -> None:
    fits = await capped_api.post("/journeys", json=conditional_chain(9))  # 9 conditions + RunCompleted
    too_long = await capped_api.post("/journeys", json=conditional_chain(10))

    assert fits.status_code == 201, fits.text
    assert too_long.status_code == 400
    journey_id = fits.json()["journeyId"]
    edited = await capped_api.put(f"/journeys/{journey_id}", json=conditional_chain(10))
    assert edited.status_code == 400
