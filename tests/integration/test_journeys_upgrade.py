"""Journeys saved before migration 0034, on the real Postgres: after the upgrade they are listed first, in
the order they were listed before (oldest version 1 first), and journeys saved after follow them."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime, timedelta

from api.examples import SEED_JOURNEY
from domain.journey import JourneyDefinition
from domain.validation import validate_journey
from engine.journey_listing import list_journeys
from engine.journey_repository import PostgresJourneyRepository
from events.schema import migrate
from support.endpoints import Endpoints
from support.upgrades import from_on, migrated_before

UPGRADE = 34


def named(name: str) -> JourneyDefinition:
    journey = copy.deepcopy(SEED_JOURNEY)
    journey["name"] = name
    definition = validate_journey(journey)
    assert not isinstance(definition, list)
    return definition


async def test_journeys_from_before_the_upgrade_keep_their_order_and_come_first(endpoints: Endpoints) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    async with migrated_before(endpoints, UPGRADE) as db:
        journeys = PostgresJourneyRepository(db)
        older, oldest = uuid.uuid4(), uuid.uuid4()  # saved in the other order than their times
        await journeys.create(older, named("Older"), now=start + timedelta(days=1))
        await journeys.create(oldest, named("Oldest"), now=start)
        await journeys.add_version(oldest, named("Oldest, edited"), now=start + timedelta(days=2))

        assert [m.number for m in await migrate(db)] == from_on(UPGRADE)
        newer = uuid.uuid4()
        await journeys.create(newer, named("Newer"), now=start - timedelta(days=1))  # a clock set back

        first = await list_journeys(db, limit=2)
        assert first.next_cursor is not None
        rest = await list_journeys(db, limit=2, cursor=first.next_cursor)

    listed = [(j.journey_id, j.name, j.latest_version) for j in first.journeys + rest.journeys]
    assert listed == [(oldest, "Oldest, edited", 2), (older, "Older", 1), (newer, "Newer", 1)]
    assert rest.next_cursor is None
