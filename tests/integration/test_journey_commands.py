"""`pjs journeys check` lists the stored versions whose message templates now fail, and exits 1 for them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from uuid import uuid4

import asyncpg
import orjson

from domain.journey import JourneyDefinition, MessageNode
from engine.journey_repository import PostgresJourneyRepository
from pjs.settings import Settings
from support.cli import pjs_cli
from support.journeys import message, save_journey


async def test_a_version_stored_with_an_unbounded_template_is_listed_with_where_and_why(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    await save_journey(pool, "hello", message("hello"))
    legacy = JourneyDefinition(
        name="Saved before templates were bounded",
        start_node_id="bad",
        nodes=(
            MessageNode("bad", '{{ "x" * 1000000000 }}', None, (("es", "{% for a in [1] %}{% endfor %}"),)),
        ),
    )
    stored = await PostgresJourneyRepository(pool).create(uuid4(), legacy, now=datetime.now(UTC))

    checked = await asyncio.to_thread(pjs_cli, settings, "journeys", "check", "--json")

    assert checked.exit_code == 1, checked.output
    found = orjson.loads(checked.stdout)
    assert [(f["journeyId"], f["version"], f["path"]) for f in found] == [
        (str(stored.journey_id), 1, "nodes[0].message"),
        (str(stored.journey_id), 1, "nodes[0].translations.es"),
    ]
    assert "operator *" in found[0]["reason"] and "loop" in found[1]["reason"]
    assert found[0]["tenant"] == "default"


async def test_with_every_template_within_the_bounds_the_check_exits_0(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    await save_journey(pool, "hello", message("hello"))

    checked = await asyncio.to_thread(pjs_cli, settings, "journeys", "check", "--json")

    assert checked.exit_code == 0, checked.output
    assert orjson.loads(checked.stdout) == []
