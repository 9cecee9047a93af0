"""The decider: from (journey, run state, wake-up) to the run's next events. Pure: no I/O, clock or ids."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final
from uuid import UUID

from domain.conditions import UnknownOperator, evaluate
from domain.journey import ConditionalNode, DelayNode, JourneyDefinition, MessageNode
from domain.message_outcomes import SendOutcome, Sent
from domain.run_state import RunState, RunStatus
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

# Validation rejects DELAY-free cycles; this only guards against a journey that slipped past it.
MAX_STEPS_PER_BATCH: Final = 10_000


def decide(
    journey: JourneyDefinition | None, state: RunState, wake_up: RunEvent, *, now: datetime
) -> list[RunEvent]:
    """The batch of events a wake-up leads to, ending in DelayStarted or a terminal event.

    `state` is the run's head, which includes `wake_up` (the wake-up is already stored); `journey` is the
    version the run is pinned to, None when it cannot be loaded (the run then fails with a reason rather
    than wedging its partition). A wake-up that does not match the state (finished run, a delay the run is
    not waiting on, a RunStarted the run has already moved past, a redelivery) yields [], so redelivered
    wake-ups are harmless. `now` must be timezone-aware; a delay resumes at `now + duration`.
    """
    if not state.needs_decision:
        return []
    if journey is None:
        return [RunFailed(node_id=state.current_node_id, reason=_journey_missing(state))]
    match wake_up:
        case RunStarted() if state.version == 1 and state.current_node_id == wake_up.start_node_id:
            return _walk(journey, state.patient_context, wake_up.start_node_id, None, now)
        case DelayElapsed() if state.current_node_id == wake_up.node_id:
            delay = journey.node(wake_up.node_id)
            if not isinstance(delay, DelayNode):
                return [RunFailed(node_id=wake_up.node_id, reason=_not_a_delay(journey, wake_up.node_id))]
            return _walk(journey, state.patient_context, delay.next_node_id, delay.id, now)
        case _:
            return []


def _walk(
    journey: JourneyDefinition,
    patient_context: Mapping[str, Any],
    node_id: str | None,
    last_node_id: str | None,
    now: datetime,
) -> list[RunEvent]:
    """Follow MESSAGE and CONDITIONAL nodes from `node_id` until a DELAY or the end of the journey."""
    events: list[RunEvent] = []
    for _ in range(MAX_STEPS_PER_BATCH):
        if node_id is None:
            events.append(RunCompleted(last_node_id=last_node_id))
            return events
        node = journey.node(node_id)
        match node:
            case None:
                reason = f"Node {node_id!r} is not in journey {journey.name!r}."
                events.append(RunFailed(node_id=node_id, reason=reason))
                return events
            case MessageNode():
                events.append(MessageRequested(node_id=node.id, message=node.message))
                next_node_id = node.next_node_id
            case ConditionalNode():
                try:
                    result = evaluate(node.condition, patient_context)
                except UnknownOperator as error:
                    events.append(RunFailed(node_id=node.id, reason=str(error)))
                    return events
                next_node_id = node.on_true_next_node_id if result else node.on_false_next_node_id
                condition = node.condition
                events.append(
                    ConditionEvaluated(
                        node_id=node.id,
                        field=condition.field,
                        operator=condition.operator,
                        result=result,
                        next_node_id=next_node_id,
                    )
                )
            case DelayNode():
                events.append(_start_delay(node, now))
                return events
        last_node_id, node_id = node_id, next_node_id
    events.append(
        RunFailed(
            node_id=node_id,
            reason=f"Stopped after {MAX_STEPS_PER_BATCH} nodes without reaching a DELAY or the end; "
            "the journey loops without a delay.",
        )
    )
    return events


def _start_delay(node: DelayNode, now: datetime) -> RunEvent:
    try:
        resume_at = now + timedelta(seconds=node.duration_seconds)
    except OverflowError:
        return RunFailed(node_id=node.id, reason=f"Delay of {node.duration_seconds} s ends beyond year 9999.")
    return DelayStarted(node_id=node.id, duration_seconds=node.duration_seconds, resume_at=resume_at)


def _journey_missing(state: RunState) -> str:
    return f"Journey {state.journey_id} version {state.journey_version} is not available."


def decide_delay_fired(
    state: RunState, *, node_id: str, resume_at: datetime, fired_at: datetime
) -> list[RunEvent]:
    """The timer found the delay at `node_id` due: the run wakes up, unless it no longer sleeps there."""
    if state.waiting_at != node_id:
        return []
    return [DelayElapsed(node_id=node_id, resume_at=resume_at, fired_at=fired_at)]


CANCELLED_BEFORE_SENDING: Final = "the run was cancelled before the message was sent"


def decide_unsent(state: RunState | None, requested: MessageRequested) -> RunEvent | None:
    """Before a send: the outcome to record instead of sending, or None to send.

    A cancelled run must not message the patient, even when its request was already queued.
    """
    if state is not None and state.status is RunStatus.CANCELLED:
        return MessageFailed(node_id=requested.node_id, reason=CANCELLED_BEFORE_SENDING, attempts=0)
    return None


def decide_sent(requested: MessageRequested, outcome: SendOutcome) -> RunEvent:
    """After a send: the event that records what became of it."""
    if isinstance(outcome, Sent):
        return MessageDelivered(
            node_id=requested.node_id,
            provider_message_id=outcome.provider_message_id,
            attempts=outcome.attempts,
        )
    return MessageFailed(node_id=requested.node_id, reason=outcome.reason, attempts=outcome.attempts)


def _not_a_delay(journey: JourneyDefinition, node_id: str) -> str:
    if journey.node(node_id) is None:
        return f"Delay node {node_id!r} is not in journey {journey.name!r}."
    return f"Node {node_id!r} of journey {journey.name!r} is not a DELAY node."


class CancelRefusal(StrEnum):
    """Why a cancel was refused."""

    RUN_NOT_FOUND = "run_not_found"
    ALREADY_FINISHED = "already_finished"


@dataclass(frozen=True)
class CancelRefused:
    """A cancel that cannot happen; `status` is the run's finished status when already finished."""

    refusal: CancelRefusal
    status: RunStatus | None = None


def decide_cancel(state: RunState, *, reason: str | None) -> list[RunEvent] | CancelRefused:
    """Cancel a run that is in progress or waiting; refuse for a run that does not exist or has finished."""
    if not state.exists or state.status is None:
        return CancelRefused(CancelRefusal.RUN_NOT_FOUND)
    if state.finished:
        return CancelRefused(CancelRefusal.ALREADY_FINISHED, state.status)
    return [RunCancelled(node_id=state.current_node_id, reason=reason)]


@dataclass(frozen=True)
class StartRefused:
    """A run with this id already exists (e.g. a retried trigger); `status` is its current status."""

    status: RunStatus | None


def decide_start(
    state: RunState,
    *,
    journey_id: UUID,
    journey_version: int,
    journey: JourneyDefinition,
    patient_context: dict[str, Any],
) -> list[RunEvent] | StartRefused:
    """Start a new run at the journey's start node; refuse if the run id is already taken."""
    if state.exists:
        return StartRefused(state.status)
    return [
        RunStarted(
            journey_id=journey_id,
            journey_version=journey_version,
            start_node_id=journey.start_node_id,
            patient_context=patient_context,
        )
    ]
