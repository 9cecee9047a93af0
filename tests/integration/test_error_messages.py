"""A refused request says what is wrong in words a caller reads: lengths in characters, the explorer's error
pages listing each problem as the API's answers do, an ambiguous Idempotency-Key named."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from api.examples import CLINIC_PATIENT, SEED_JOURNEY
from pjs.settings import Settings
from support.api import app_client
from support.stored import runs_in_store
from support.ui import sign_in


@pytest.fixture
async def browser(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client sending no API key: only what the explorer's session cookie allows."""
    async with app_client(settings, None) as (client, _):
        yield client


async def test_a_too_long_id_in_the_path_or_a_header_is_refused_in_characters(api: httpx.AsyncClient) -> None:
    erasure = await api.post(f"/patients/{'a' * 300}/erasure")
    journey_id = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]
    trigger = await api.post(
        f"/journeys/{journey_id}/trigger", json={"id": "p-1"}, headers={"Idempotency-Key": "k" * 300}
    )

    search = await api.post("/journeys/runs/search", json={"patientId": "a" * 300})

    for refused in (erasure, trigger, search):
        assert refused.status_code == 400
        [problem] = refused.json()["problems"]
        assert problem["message"] == "Must be at most 255 characters long.", problem


async def test_an_explorer_page_refusing_a_request_lists_what_is_wrong(
    browser: httpx.AsyncClient, api: httpx.AsyncClient, api_key: str
) -> None:
    journey_id = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]
    await sign_in(browser, api_key)

    page = await browser.get(f"/ui/journeys/{journey_id}", params={"version": "abc"})

    assert page.status_code == 400 and page.headers["content-type"].startswith("text/html")
    assert "<code>version</code>" in page.text and "integer" in page.text


async def test_two_idempotency_keys_on_one_trigger_are_refused_and_start_no_run(
    api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    journey_id = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]
    headers = [("Idempotency-Key", "k-2"), ("Idempotency-Key", "k-3")]

    refused = await api.post(f"/journeys/{journey_id}/trigger", json=CLINIC_PATIENT, headers=headers)

    assert refused.status_code == 400
    assert refused.json()["message"] == "Send one Idempotency-Key header, not 2."
    assert await runs_in_store(pool) == 0


async def test_a_path_the_explorer_does_not_have_answers_a_page_not_json(
    browser: httpx.AsyncClient, api_key: str
) -> None:
    await sign_in(browser, api_key)

    missing = await browser.get("/ui/nope")

    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert "Not found." in missing.text and "Back to journeys" in missing.text
