"""The demo journey `pjs dev` loads: stored once under its fixed id, and triggerable with its curl lines."""

from __future__ import annotations

import asyncpg

from api.examples import SEED_JOURNEY
from domain.validation import validate_journey
from pjs.demo import DEMO_JOURNEY_ID, demo_curl, demo_journey, load_demo_journey
from pjs.settings import Settings


def test_the_demo_journey_is_the_seed_journey() -> None:
    assert demo_journey() == validate_journey(SEED_JOURNEY)


async def test_loading_the_demo_journey_twice_stores_one_version(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    first = await load_demo_journey(settings)
    second = await load_demo_journey(settings)

    assert first == second == DEMO_JOURNEY_ID
    assert await pool.fetchval("SELECT count(*) FROM journeys WHERE journey_id = $1", DEMO_JOURNEY_ID) == 1


def test_the_demo_curl_lines_trigger_the_demo_journey() -> None:
    assert f"/journeys/{DEMO_JOURNEY_ID}/trigger" in demo_curl()
    assert '"age":70' in demo_curl()
