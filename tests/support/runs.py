"""Builders for run events in tests: a started run and the events that follow it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from uuid import UUID

from events.catalogue import DelayStarted, MessageRequested, NewEvent, RunEvent, RunStarted, stamp

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
JOURNEY_ID = UUID("00000000-0000-4000-8000-000000000001")


def run_started(patient_id: str = "p-1", start_node_id: str = "welcome") -> RunStarted:
    return RunStarted(
        journey_id=JOURNEY_ID,
        journey_version=1,
        start_node_id=start_node_id,
        patient_context={"id": patient_id, "age": 70, "language": "en"},
    )


def message(node_id: str = "welcome") -> MessageRequested:
    return MessageRequested(node_id=node_id, message="Hello")


def delay(node_id: str = "wait", seconds: float = 60, now: datetime = T0) -> DelayStarted:
    return DelayStarted(node_id=node_id, duration_seconds=seconds, resume_at=now + timedelta(seconds=seconds))


def envelopes(run_id: UUID, expected_version: int, events: Sequence[RunEvent]) -> list[NewEvent]:
    return stamp(run_id, expected_version, events, now=T0, causation_id=None, correlation_id=uuid.uuid4())
