"""A run's stored events as the timeline entries the API shows."""

from __future__ import annotations

from typing import assert_never

from api.schemas import RunEventOut
from events.catalogue import (
    ConditionEvaluated,
    DelayElapsed,
    DelayStarted,
    MessageDelivered,
    MessageFailed,
    MessageRequested,
    RecordedEvent,
    RunCancelled,
    RunCompleted,
    RunEvent,
    RunFailed,
    RunStarted,
)


def timeline_entry(recorded: RecordedEvent) -> RunEventOut:
    event = recorded.event
    return RunEventOut(
        type=event.type,
        version=recorded.version,
        recorded_at=recorded.recorded_at,
        node_id=node_of(event),
        data=event.model_dump(mode="json", exclude={"type"}),
    )


def node_of(event: RunEvent) -> str | None:
    """The journey node an event is about, if any."""
    match event:
        case RunStarted():
            return event.start_node_id
        case RunCompleted():
            return event.last_node_id
        case (
            MessageRequested()
            | MessageDelivered()
            | MessageFailed()
            | DelayStarted()
            | DelayElapsed()
            | ConditionEvaluated()
            | RunFailed()
            | RunCancelled()
        ):
            return event.node_id
        case _:
            assert_never(event)
