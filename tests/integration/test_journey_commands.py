"""`pjs journeys check` lists the stored versions whose messages now fail (a template outside the bounds, a
channel these settings cannot send by), and exits 1 for them; the delivery role warns of such channels."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from uuid import UUID, uuid4

import asyncpg
import orjson
import pytest

from domain.journey import JourneyDefinition, MessageNode
from engine.journey_repository import PostgresJourneyRepository, StoredJourney
from pjs.settings import Settings
from support.cli import pjs_cli
from support.journeys import message, save_journey
from support.roles import eventually, in_process


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
    assert [(f["journeyId"], f["version"], f["kind"], f["path"]) for f in found] == [
        (str(stored.journey_id), 1, "template", "nodes[0].message"),
        (str(stored.journey_id), 1, "template", "nodes[0].translations.es"),
    ]
    assert "operator *" in found[0]["reason"] and "loop" in found[1]["reason"]
    assert found[0]["tenant"] == "default"


async def test_with_every_template_within_the_bounds_and_every_channel_configured_the_check_exits_0(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    await save_journey(pool, "hello", message("hello"))
    await _stored(pool, MessageNode("by-log", "Hello", channel="log"))

    checked = await asyncio.to_thread(pjs_cli, settings, "journeys", "check", "--json")

    assert checked.exit_code == 0, checked.output
    assert orjson.loads(checked.stdout) == []


async def test_a_version_stored_naming_a_channel_without_its_endpoint_is_listed_with_the_reason_a_save_gets(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    # Given a version stored before PJS_SMS_URL was unset (these settings give sms no endpoint)
    assert settings.sms_url is None
    stored = await _stored(pool, MessageNode("reminder", "See you soon", "by-log", channel="sms"),
                           MessageNode("by-log", "Hello", channel="log"))  # fmt: skip

    # When an operator checks the stored journeys, as a table and as JSON
    listed = await asyncio.to_thread(pjs_cli, settings, "journeys", "check")
    checked = await asyncio.to_thread(pjs_cli, settings, "journeys", "check", "--json")

    # Then both name the version, the node's channel and the setting it needs, and exit 1
    reason = (
        "Node 'reminder' sends by sms, but this service has no sms channel: set PJS_SMS_URL "
        '(see docs/operations.md, "Message channels").'
    )
    assert (listed.exit_code, checked.exit_code) == (1, 1), listed.output + checked.output
    assert orjson.loads(checked.stdout) == [
        {"tenant": "default", "journeyId": str(stored), "version": 1, "kind": "channel",
         "path": "nodes[0].channel", "reason": reason},
    ]  # fmt: skip
    header, row = listed.stdout.splitlines()
    assert header.split("\t") == ["tenant", "journey", "version", "problem", "where", "why its messages fail"]
    assert row.split("\t") == ["default", str(stored), "1", "channel", "nodes[0].channel", reason]


async def _stored(pool: asyncpg.Pool, *nodes: MessageNode) -> UUID:
    """A version written straight to the table, as one stored before today's settings or rules."""
    definition = JourneyDefinition(name="Stored earlier", start_node_id=nodes[0].id, nodes=nodes)
    stored = await PostgresJourneyRepository(pool).create(uuid4(), definition, now=datetime.now(UTC))
    assert isinstance(stored, StoredJourney)
    return stored.journey_id


async def test_the_delivery_role_warns_once_at_its_start_of_stored_versions_naming_a_channel_it_lacks(
    settings: Settings, pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="pjs")
    # Given two versions sending by email, which these settings give no endpoint, and one by log
    await _stored(pool, MessageNode("reminder", "Private: {{ patient.id }}", channel="email"))
    await _stored(pool, MessageNode("leaflet", "Hello", channel="email"))
    await _stored(pool, MessageNode("by-log", "Hello", channel="log"))

    # When the delivery role starts
    async def warned() -> list[str] | None:
        return _start_warnings(caplog) or None

    async with in_process(settings, "delivery"):
        await eventually(warned)

    # Then one WARNING names the channel, how many versions and the setting it needs, and nothing more
    [line] = _start_warnings(caplog)
    assert "email in 2 (set PJS_SMTP_HOST)" in line and "pjs journeys check" in line
    assert "sms" not in line and "Private" not in line


def _start_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno == logging.WARNING and "stored journey versions" in record.getMessage()
    ]
