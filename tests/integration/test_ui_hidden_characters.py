"""The run explorer writes out the hidden characters of text stored before they were refused (a journey's
name, a node id): a bidi override cannot make one journey's name pose as another's on the page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from uuid import uuid4

import asyncpg
import httpx
import pytest

from domain.journey import JourneyDefinition, MessageNode
from engine.journey_repository import PostgresJourneyRepository
from pjs.settings import Settings
from support.api import app_client
from support.auth import issue_test_key
from support.ui import sign_in

# Shows as "Knee surgery follow-up" reversed after the override, with a line-clearing escape before it.
DISGUISED_NAME = "\u202epu-wollof yregrus eenK\u001b[2K"
DISGUISED_NODE = "welcome\u2066"


@pytest.fixture
async def default_tenant_browser(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """Signed in to the explorer with a key of the tenant that rows written without the API belong to."""
    key = await issue_test_key(settings.resolved_migration_database_url(), tenant="default")
    async with app_client(settings, None) as (client, _):
        assert (await sign_in(client, key)).status_code == 303
        yield client


async def test_a_journey_saved_with_a_bidi_override_in_its_name_shows_it_written_out(
    pool: asyncpg.Pool, default_tenant_browser: httpx.AsyncClient
) -> None:
    legacy = JourneyDefinition(
        name=DISGUISED_NAME,
        start_node_id=DISGUISED_NODE,
        nodes=(MessageNode(DISGUISED_NODE, "Hello"),),
    )
    stored = await PostgresJourneyRepository(pool).create(uuid4(), legacy, now=datetime.now(UTC))

    listing = await default_tenant_browser.get("/ui/journeys")
    page = await default_tenant_browser.get(f"/ui/journeys/{stored.journey_id}")

    for response in (listing, page):
        assert response.status_code == 200, response.text
        assert "[U+202E]pu-wollof yregrus eenK[U+001B][2K" in response.text
        assert "\u202e" not in response.text and "\u001b" not in response.text
    assert "welcome[U+2066]" in page.text and "\u2066" not in page.text
