"""Journeys and runs for engine tests: node builders, saving a journey, starting a run via the store."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

from domain.journey import JourneyDefinition
from domain.validation import DEFAULT_MIN_LOOP_DELAY_SECONDS, validate_journey
from engine.journey_repository import PostgresJourneyRepository
from events.catalogue import RecordedEvent, RunStarted, Sealed, stamp
from events.store import ConcurrencyConflict, PostgresEventStore


def message(node_id: str, next_node_id: str | None = None) -> dict[str, Any]:
    return {"id": node_id, "type": "MESSAGE", "message": f"Text of {node_id}", "next_node_id": next_node_id}


def delay(node_id: str, seconds: float, next_node_id: str | None = None) -> dict[str, Any]:
    return {"id": node_id, "type": "DELAY", "duration_seconds": seconds, "next_node_id": next_node_id}


def branch(
    node_id: str, field: str, operator: str, value: Any, if_true: str, if_false: str
) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": "CONDITIONAL",
        "condition": {"field": field, "operator": operator, "value": value},
        "on_true_next_node_id": if_true,
        "on_false_next_node_id": if_false,
    }


def patient(age: int = 70, patient_id: str = "p-1") -> dict[str, Any]:
    return {"id": patient_id, "age": age, "language": "en"}


async def save_journey(
    pool: asyncpg.Pool,
    start: str,
    *nodes: dict[str, Any],
    min_loop_delay_seconds: float = DEFAULT_MIN_LOOP_DELAY_SECONDS,
) -> tuple[UUID, JourneyDefinition]:
    raw = {"name": "Test journey", "start_node_id": start, "nodes": list(nodes)}
    definition = validate_journey(raw, min_loop_delay_seconds=min_loop_delay_seconds)
    assert isinstance(definition, JourneyDefinition), definition
    stored = await PostgresJourneyRepository(pool).create(uuid.uuid4(), definition, now=datetime.now(UTC))
    return stored.journey_id, definition


async def start_run(
    store: PostgresEventStore, journey_id: UUID, journey: JourneyDefinition, context: dict[str, Any] | Sealed
) -> UUID:
    """Put a patient on version 1 of a journey, the way the API does: append RunStarted."""
    run_id = uuid.uuid4()
    started = RunStarted(
        journey_id=journey_id, journey_version=1, start_node_id=journey.start_node_id, patient_context=context
    )
    envelopes = stamp(
        run_id, 0, [started], now=datetime.now(UTC), causation_id=None, correlation_id=uuid.uuid4()
    )
    written = await store.append(run_id, 0, envelopes)
    assert not isinstance(written, ConcurrencyConflict)
    return run_id


def types(stream: Sequence[RecordedEvent]) -> list[str]:
    return [event.event.type for event in stream]


def assert_well_formed(stream: Sequence[RecordedEvent]) -> None:
    """Versions 1..n without gaps, and no MESSAGE node visit requested twice in a row of decisions."""
    assert [event.version for event in stream] == list(range(1, len(stream) + 1))
    requested = [e.event.node_id for e in stream if e.event.type == "MessageRequested"]  # type: ignore[union-attr]
    assert len(requested) == len(set(requested)), f"a message was requested twice: {requested}"


def typo_journey() -> dict[str, Any]:
    """A journey whose `quiet_hour`, `chanel` and `translation` are all misspelt."""
    return {
        "name": "typo",
        "start_node_id": "a",
        "quiet_hour": {"start": "21:00", "end": "08:00"},
        "nodes": [
            {
                "id": "a",
                "type": "MESSAGE",
                "chanel": "sms",
                "translation": {"es": "hola"},
                "message": "hi",
                "next_node_id": None,
            }
        ],
    }
