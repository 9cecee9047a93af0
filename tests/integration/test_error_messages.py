"""A refused request says what is wrong in words a caller reads: lengths in characters, and the explorer's
error pages list each problem as the API's answers do."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from api.examples import SEED_JOURNEY
from pjs.settings import Settings
from support.api import app_client
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

    for refused in (erasure, trigger):
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
