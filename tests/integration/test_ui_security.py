"""The run explorer under attack: rate limits, tenants guessing ids, markup in names, framing, page titles."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from api.examples import CLINIC_PATIENT, SEED_JOURNEY
from pjs.settings import Settings
from support.api import app_client
from support.auth import issue_test_key
from support.ui import sign_in
from support.windows import clear_of_a_windows_end

pytestmark = pytest.mark.integration

MARKUP = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
async def browser(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(settings, None) as (client, _):
        yield client


async def started_run(api: httpx.AsyncClient, journey: dict[str, object] = SEED_JOURNEY) -> tuple[str, str]:
    journey_id = (await api.post("/journeys", json=journey)).json()["journeyId"]
    response = await api.post(f"/journeys/{journey_id}/trigger", json=CLINIC_PATIENT)
    assert response.status_code == 202, response.text
    return journey_id, response.json()["runId"]


def title(page: str) -> str:
    found = re.search(r"<title>(.*?)</title>", page, re.DOTALL)
    assert found is not None
    return found.group(1)


async def test_a_run_pages_title_names_the_run_and_nothing_more(
    api: httpx.AsyncClient, browser: httpx.AsyncClient, api_key: str
) -> None:
    _, run_id = await started_run(api)
    await sign_in(browser, api_key)
    page = await browser.get(f"/ui/runs/{run_id}")
    assert title(page.text) == f"Run {run_id[:8]} · Patient Journey Scheduler"


async def test_pages_of_a_session_count_against_its_keys_rate_limit(settings: Settings) -> None:
    # A 30 s window (3 requests at 0.1/s), the pages started 10 s or more before it ends: the limiter's
    # windows are aligned to the clock, and one straddled may let a page more through.
    limited = settings.model_copy(update={"rate_limit_per_second": 0.1, "rate_limit_burst": 3})
    key = await issue_test_key(settings.resolved_migration_database_url())
    async with app_client(limited, None) as (browser, _):
        await clear_of_a_windows_end(30, needed_seconds=10)
        await sign_in(browser, key)
        answers = [(await browser.get("/ui/journeys")).status_code for _ in range(5)]
    assert answers == [200, 200, 429, 429, 429]  # the sign-in was the key's first request of the three


async def test_another_tenants_journey_is_not_found_on_its_page_or_its_live_counts(
    api: httpx.AsyncClient, browser: httpx.AsyncClient, settings: Settings
) -> None:
    journey_id, _ = await started_run(api)
    await sign_in(browser, await issue_test_key(settings.resolved_migration_database_url()))
    assert (await browser.get(f"/ui/journeys/{journey_id}")).status_code == 404
    assert (await browser.get(f"/ui/live/journeys/{journey_id}/versions/1")).status_code == 404


async def test_markup_in_a_journeys_name_is_shown_as_text_on_every_page(
    api: httpx.AsyncClient, browser: httpx.AsyncClient, api_key: str
) -> None:
    journey_id, run_id = await started_run(api, {**SEED_JOURNEY, "name": MARKUP})
    await sign_in(browser, api_key)
    for path in ("/ui/journeys", f"/ui/journeys/{journey_id}", "/ui/runs", f"/ui/runs/{run_id}"):
        page = await browser.get(path)
        assert page.status_code == 200, path
        assert "<script>alert" not in page.text and "<img src=x" not in page.text, path
        assert "&lt;script&gt;" in page.text, path


async def test_error_pages_cannot_be_framed_or_cached(browser: httpx.AsyncClient, api_key: str) -> None:
    await sign_in(browser, api_key)
    missing = await browser.get("/ui/runs/00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert "frame-ancestors 'none'" in missing.headers["content-security-policy"]
    assert missing.headers["cache-control"] == "no-store"
