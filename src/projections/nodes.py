"""Which journey node an event is about, for read models that group by node."""

from __future__ import annotations

from typing import assert_never

from events.catalogue import (
    ConditionEvaluated,
    DelayElapsed,
    DelayStarted,
    MessageDelivered,
    MessageFailed,
    MessageRequested,
    RunCancelled,
    RunCompleted,
    RunEvent,
    RunFailed,
    RunStarted,
)


def node_of(event: RunEvent) -> str | None:
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
