"""The decider: from (journey, run state, wake-up) to the run's next events. Pure: no I/O, clock or ids."""

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final
from uuid import UUID

from domain.conditions import UnknownOperator, evaluate
from domain.journey import ConditionalNode, DelayNode, JourneyDefinition, MessageNode
from domain.message_decisions import CANCELLED_BEFORE_SENDING as CANCELLED_BEFORE_SENDING
from domain.message_decisions import decide_sent as decide_sent
from domain.message_decisions import decide_unsent as decide_unsent
from domain.message_decisions import request_message
from domain.run_limits import DEFAULT_RUN_LIMITS, RunLimits
from domain.run_state import RunState, RunStatus
from domain.waits import quiet_wait, start_delay
from events.catalogue import (
    ConditionEvaluated,
    DelayElapsed,
    PatientErased,
    RunCancelled,
    RunCompleted,
    RunEvent,
    RunFailed,
    RunStarted,
    Sealed,
)


def decide(
    journey: JourneyDefinition | None,
    state: RunState,
    wake_up: RunEvent,
    *,
    now: datetime,
    limits: RunLimits = DEFAULT_RUN_LIMITS,
) -> list[RunEvent]:
    """The batch of events a wake-up leads to, ending in DelayStarted or a terminal event.

    `state` is the run's head, which includes `wake_up` (the wake-up is already stored); `journey` is the
    version the run is pinned to, None when it cannot be loaded (the run then fails with a reason rather
    than wedging its partition). A wake-up that does not match the state (finished run, a delay the run is
    not waiting on, a RunStarted the run has already moved past, a redelivery) yields [], so redelivered
    wake-ups are harmless. `now` must be timezone-aware; a delay resumes at `now + duration`. A batch that
    would break one of `limits` is replaced by a lone RunFailed naming the cap.
    """
    if not state.needs_decision:
        return []
    if journey is None:
        return [RunFailed(node_id=state.current_node_id, reason=_journey_missing(state))]
    match wake_up:
        case RunStarted() if state.version == 1 and state.current_node_id == wake_up.start_node_id:
            return _walk(journey, state, _Step(wake_up.start_node_id, None), now, limits)
        case DelayElapsed() if state.current_node_id == wake_up.node_id:
            # Never earlier than the instant waited for: the engine's clock may lag the timer's.
            at = max(now, wake_up.resume_at)
            waited = journey.node(wake_up.node_id)
            if isinstance(waited, DelayNode):
                return _walk(journey, state, _Step(waited.next_node_id, waited.id), at, limits)
            if isinstance(waited, MessageNode):  # its quiet hours are over: send it now
                return _walk(journey, state, _Step(waited.id, None, after_quiet_wait=True), at, limits)
            return [RunFailed(node_id=wake_up.node_id, reason=_not_a_delay(journey, wake_up.node_id))]
        case _:
            return []


@dataclass(frozen=True)
class _Step:
    """Where a walk stands: the node to visit next (None: the journey ends) and the node just left."""

    node_id: str | None
    last_node_id: str | None
    ends: bool = False
    after_quiet_wait: bool = False


def _walk(
    journey: JourneyDefinition, state: RunState, step: _Step, now: datetime, limits: RunLimits
) -> list[RunEvent]:
    """Follow MESSAGE and CONDITIONAL nodes from `step` until a DELAY or the end of the journey.

    Each visit yields exactly one event, so the events cap also bounds a loop that slipped past validation.
    """
    context = state.patient_context
    if not isinstance(context, Mapping):
        # The service opens the context before deciding; a sealed one here means its key is gone.
        return [RunFailed(node_id=step.node_id, reason=PATIENT_DATA_UNAVAILABLE)]
    events: list[RunEvent] = []
    visits = Counter[str]()
    while not step.ends:
        node_id = step.node_id
        if node_id is not None:
            visits[node_id] += 1
            if state.node_visits.get(node_id, 0) + visits[node_id] > limits.max_visits_per_node:
                return [RunFailed(node_id=node_id, reason=_visits_cap(node_id, limits))]
        if len(events) == limits.max_events_per_decision:
            return [RunFailed(node_id=node_id, reason=_events_cap(limits))]
        event, step = _visit(journey, context, step, now)
        events.append(event)
    return events


def _visit(
    journey: JourneyDefinition, patient_context: Mapping[str, Any], step: _Step, now: datetime
) -> tuple[RunEvent, _Step]:
    """One node's event and where the walk goes next."""
    if step.node_id is None:
        return RunCompleted(last_node_id=step.last_node_id), _Step(None, step.last_node_id, ends=True)
    node = journey.node(step.node_id)
    match node:
        case None:
            reason = f"Node {step.node_id!r} is not in journey {journey.name!r}."
            return RunFailed(node_id=step.node_id, reason=reason), _Step(None, None, ends=True)
        case MessageNode():
            waiting = None if step.after_quiet_wait else quiet_wait(node, journey, patient_context, now)
            if waiting is not None:
                return waiting, _Step(None, None, ends=True)
            return request_message(node, patient_context), _Step(node.next_node_id, node.id)
        case ConditionalNode():
            try:
                result = evaluate(node.condition, patient_context)
            except UnknownOperator as error:
                return RunFailed(node_id=node.id, reason=str(error)), _Step(None, None, ends=True)
            next_node_id = node.on_true_next_node_id if result else node.on_false_next_node_id
            evaluated = ConditionEvaluated(
                node_id=node.id,
                field=node.condition.field,
                operator=node.condition.operator,
                result=result,
                next_node_id=next_node_id,
            )
            return evaluated, _Step(next_node_id, node.id)
        case DelayNode():
            return start_delay(node, journey, patient_context, now), _Step(None, None, ends=True)


PATIENT_DATA_UNAVAILABLE: Final = "The patient's data is no longer available (erased)."
PATIENT_ERASED: Final = "the patient's data was erased"


def _events_cap(limits: RunLimits) -> str:
    return (
        f"Stopped: this step of the journey would write more than {limits.max_events_per_decision} events "
        "at once (cap max_events_per_decision)."
    )


def _visits_cap(node_id: str, limits: RunLimits) -> str:
    return (
        f"Stopped: node {node_id!r} would be visited more than {limits.max_visits_per_node} times "
        "in this run (cap max_visits_per_node)."
    )


def decide_too_large(node_id: str | None, *, event_type: str, size: int, limit: int) -> list[RunEvent]:
    """The step decided for the run would append an event no record on the topic may be (a message
    rendered longer than the event limit allows, say, at `node_id`): the run fails with why, instead of its
    wake-up being set aside and the run left waiting for ever."""
    reason = (
        f"Stopped: this step's {event_type} event would be {size} bytes, over the {limit}-byte event "
        "limit (PJS_MAX_EVENT_BYTES)."
    )
    return [RunFailed(node_id=node_id, reason=reason)]


def _journey_missing(state: RunState) -> str:
    return f"Journey {state.journey_id} version {state.journey_version} is not available."


def decide_delay_fired(
    state: RunState, *, node_id: str, resume_at: datetime, fired_at: datetime
) -> list[RunEvent]:
    """The timer found the delay at `node_id` due: the run wakes up, unless it no longer sleeps there."""
    if state.waiting_at != node_id:
        return []
    return [DelayElapsed(node_id=node_id, resume_at=resume_at, fired_at=fired_at)]


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


def decide_erase(state: RunState) -> list[RunEvent]:
    """Erase the run's patient data: an open run is cancelled first; an erased or unknown run needs none."""
    if not state.exists or state.erased:
        return []
    cancelled: list[RunEvent] = []
    if not state.finished:
        cancelled.append(RunCancelled(node_id=state.current_node_id, reason=PATIENT_ERASED))
    return [*cancelled, PatientErased(key_id=state.patient_key_id)]


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
    patient_context: Sealed | dict[str, Any],
) -> list[RunEvent] | StartRefused:
    """Start a new run at the journey's start node; refuse if the run id is already taken.

    The service seals the context before it gets here: the decider copies it, never reads it.
    """
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
