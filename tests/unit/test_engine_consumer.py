"""The engine consumer's pure helpers: the newest wake-up per run, and journeys cached once found."""

from __future__ import annotations

import uuid
from uuid import UUID

from domain.journey import JourneyDefinition, MessageNode
from engine.engine_worker import CachedJourneys, latest_wake_ups
from events.catalogue import DelayElapsed, RecordedEvent
from support.runs import T0, envelopes, message, run_started

JOURNEY = JourneyDefinition(name="j", start_node_id="a", nodes=(MessageNode(id="a", message="hi"),))


def recorded(run_id: UUID, expected: int, *events: object) -> list[RecordedEvent]:
    return [
        RecordedEvent(**dict(e), position=e.version)
        for e in envelopes(run_id, expected, list(events))  # type: ignore[arg-type]
    ]


def test_only_the_newest_wake_up_of_each_run_is_kept() -> None:
    run_a, run_b = uuid.uuid4(), uuid.uuid4()
    elapsed = DelayElapsed(node_id="wait", resume_at=T0, fired_at=T0)
    batch = [
        *recorded(run_a, 0, run_started(), message()),
        *recorded(run_b, 0, run_started()),
        *recorded(run_a, 2, elapsed),
    ]

    latest = latest_wake_ups(batch)

    assert {run_id: event.version for run_id, event in latest.items()} == {run_a: 3, run_b: 1}


async def test_a_journey_version_is_looked_up_once_and_a_missing_one_again() -> None:
    calls: list[tuple[UUID, int]] = []

    class Lookup:
        async def get(self, journey_id: UUID, version: int) -> JourneyDefinition | None:
            calls.append((journey_id, version))
            return JOURNEY if version == 1 else None

    journeys = CachedJourneys(Lookup())
    journey_id = uuid.uuid4()
    assert await journeys.get(journey_id, 1) is JOURNEY
    assert await journeys.get(journey_id, 1) is JOURNEY
    assert await journeys.get(journey_id, 2) is None
    assert await journeys.get(journey_id, 2) is None
    assert calls == [(journey_id, 1), (journey_id, 2), (journey_id, 2)]
