"""An event too large to publish is refused when it is appended: over HTTP a 413, and nothing is stored."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from api.examples import SEED_JOURNEY, SEED_PATIENT
from events.event_size import stored_text_bound
from pjs.settings import Settings
from support.api import app_client
from support.stored import events_in_store, runs_in_store


async def test_a_trigger_with_a_3_mb_patient_context_is_refused_and_starts_no_run(
    api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    journey_id = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]

    response = await api.post(
        f"/journeys/{journey_id}/trigger", json={**SEED_PATIENT, "note": "confidential " * 240_000}
    )

    assert 400 <= response.status_code < 500
    assert "confidential" not in response.text
    assert await runs_in_store(pool) == 0
    assert await events_in_store(pool) == 0


@pytest.fixture
async def api_with_a_small_event_limit(settings: Settings, api_key: str) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(settings.model_copy(update={"max_event_bytes": 5_000}), api_key) as (client, _):
        yield client


async def test_the_store_limit_holds_on_its_own_behind_the_api(
    api_with_a_small_event_limit: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    api = api_with_a_small_event_limit
    journey_id = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]

    response = await api.post(f"/journeys/{journey_id}/trigger", json={**SEED_PATIENT, "note": "n" * 10_000})

    assert response.status_code == 413
    assert "RunStarted" in response.json()["message"]
    assert "5000" in response.json()["message"]
    assert await runs_in_store(pool) == 0
    assert await events_in_store(pool) == 0


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=8), children, max_size=5
        )
    ),
    max_leaves=30,
)


@examples(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=json_values)
def test_the_size_counted_at_append_is_never_below_what_postgres_prints_back(
    database_url: str, value: object
) -> None:
    encoded = orjson.dumps(value)

    async def printed_by_postgres() -> bytes:
        connection = await asyncpg.connect(database_url)
        try:
            text: str = await connection.fetchval("SELECT $1::text::jsonb::text", encoded.decode())
            return text.encode()
        finally:
            await connection.close()

    assert stored_text_bound(encoded) >= len(asyncio.run(printed_by_postgres()))
