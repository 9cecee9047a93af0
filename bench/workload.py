"""Realistic run events for load generation, built from the catalogue the way the engine builds them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid5

from events.catalogue import (
    ConditionEvaluated,
    DelayStarted,
    MessageDelivered,
    MessageRequested,
    NewEvent,
    RecordedEvent,
    RunEvent,
    RunStarted,
    stamp,
)
from events.codec import encode_payload

NOW = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
JOURNEY_ID = UUID("00000000-0000-4000-8000-00000000be9c")
_RUN_NAMESPACE = UUID("6d1f2c0a-9b7e-4f3a-8c55-0e4b1d2a7f10")
_LANGUAGES = ("en", "fr", "de", "nl", "pl")
_WAIT = timedelta(hours=24)


def run_id(seed: str, number: int) -> UUID:
    """A distinct, reproducible run id per (seed, number): every writer appends to runs of its own."""
    return uuid5(_RUN_NAMESPACE, f"{seed}:{number}")


def run_started(number: int) -> RunStarted:
    """The first event of a run, with a patient context of the size a clinic typically sends."""
    return RunStarted(
        journey_id=JOURNEY_ID,
        journey_version=3,
        start_node_id="pre-op-sms",
        patient_context={
            "id": f"patient-{number:09d}",
            "age": 30 + number % 60,
            "language": _LANGUAGES[number % len(_LANGUAGES)],
            "procedure": "knee-arthroscopy",
            "clinic": "north-orthopaedics",
        },
    )


def opening_events(number: int) -> list[RunEvent]:
    """A run's first five events: started, pre-op SMS requested and delivered, age checked, 24 h wait."""
    return [
        run_started(number),
        MessageRequested(node_id="pre-op-sms", message="pre-op-instructions", channel="sms"),
        MessageDelivered(node_id="pre-op-sms", provider_message_id=f"sms-{number:012d}", attempts=1),
        ConditionEvaluated(
            node_id="age-check", field="age", operator="gt", result=number % 60 > 35, next_node_id="wait-24h"
        ),
        DelayStarted(node_id="wait-24h", duration_seconds=_WAIT.total_seconds(), resume_at=NOW + _WAIT),
    ]


def opening_batch(seed: str, number: int, size: int = 5) -> list[NewEvent]:
    """The first `size` (1..5) events of run `number`, stamped for an append at expected version 0."""
    run = run_id(seed, number)
    return stamp(run, 0, opening_events(number)[:size], now=NOW, causation_id=None, correlation_id=run)


def batches(seed: str, count: int, size: int = 5) -> list[list[NewEvent]]:
    """`count` append batches, each the opening of a new run."""
    return [opening_batch(seed, number, size) for number in range(count)]


def recorded(events: list[NewEvent], first_position: int) -> Iterator[RecordedEvent]:
    """The events as the store would hand them back, numbered from `first_position`."""
    for offset, event in enumerate(events):
        yield RecordedEvent(**dict(event), position=first_position + offset)


def mean_payload_bytes(events: list[NewEvent]) -> float:
    """The mean size of the JSON payloads, to compare with the raw rows' payloads."""
    return sum(len(encode_payload(event.event)) for event in events) / max(len(events), 1)
