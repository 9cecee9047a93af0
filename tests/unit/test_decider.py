"""The decider: each wake-up yields one batch ending in a delay or the end; stale wake-ups yield nothing."""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from domain.decider import (
    CANCELLED_BEFORE_SENDING,
    CancelRefusal,
    CancelRefused,
    StartRefused,
    decide,
    decide_cancel,
    decide_delay_fired,
    decide_sent,
    decide_start,
    decide_unsent,
)
from domain.journey import JourneyDefinition, MessageNode
from domain.message_outcomes import NotSent, Sent
from domain.run_state import RunState, RunStatus, evolve, fold, initial_state
from domain.validation import validate_journey
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
    stamp,
)

RUN_ID = UUID("00000000-0000-4000-8000-0000000000aa")
JOURNEY_ID = UUID("00000000-0000-4000-8000-0000000000bb")
NOW = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
PATIENT: dict[str, Any] = {"id": "p-1", "age": 70, "language": "en"}


def journey(start: str, *nodes: dict[str, Any]) -> JourneyDefinition:
    result = validate_journey({"name": "Test journey", "start_node_id": start, "nodes": list(nodes)})
    assert isinstance(result, JourneyDefinition), result
    return result


def message(node_id: str, next_node_id: str | None = None) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": "MESSAGE",
        "message": f"Hello from {node_id}",
        "next_node_id": next_node_id,
    }


def delay(node_id: str, seconds: float, next_node_id: str | None = None) -> dict[str, Any]:
    return {"id": node_id, "type": "DELAY", "duration_seconds": seconds, "next_node_id": next_node_id}


def over_65(node_id: str, on_true: str | None, on_false: str | None) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": "CONDITIONAL",
        "condition": {"field": "patient.age", "operator": ">", "value": 65},
        "on_true_next_node_id": on_true,
        "on_false_next_node_id": on_false,
    }


def applied(state: RunState, events: Sequence[RunEvent], at: datetime = NOW) -> RunState:
    for envelope in stamp(RUN_ID, state.version, events, now=at, causation_id=None, correlation_id=RUN_ID):
        state = evolve(state, envelope)
    return state


def started(definition: JourneyDefinition, patient: dict[str, Any] = PATIENT) -> tuple[RunState, RunStarted]:
    wake_up = RunStarted(
        journey_id=JOURNEY_ID,
        journey_version=1,
        start_node_id=definition.start_node_id,
        patient_context=patient,
    )
    return applied(initial_state(RUN_ID), [wake_up]), wake_up


def elapsed(state: RunState) -> tuple[RunState, DelayElapsed]:
    assert state.current_node_id is not None and state.resume_at is not None
    wake_up = DelayElapsed(node_id=state.current_node_id, resume_at=state.resume_at, fired_at=state.resume_at)
    return applied(state, [wake_up], state.resume_at), wake_up


def test_linear_journey_sends_every_message_then_completes() -> None:
    definition = journey("a", message("a", "b"), message("b"))
    state, wake_up = started(definition)

    events = decide(definition, state, wake_up, now=NOW)

    assert events == [
        MessageRequested(node_id="a", message="Hello from a"),
        MessageRequested(node_id="b", message="Hello from b"),
        RunCompleted(last_node_id="b"),
    ]
    final = applied(state, events)
    assert final.status is RunStatus.COMPLETED and final.current_node_id is None


@pytest.mark.parametrize(("age", "branch"), [(70, "older"), (65, "younger")])
def test_conditional_takes_the_branch_the_patient_matches(age: int, branch: str) -> None:
    definition = journey("check", over_65("check", "older", "younger"), message("older"), message("younger"))
    state, wake_up = started(definition, {**PATIENT, "age": age})

    events = decide(definition, state, wake_up, now=NOW)

    assert events == [
        ConditionEvaluated(
            node_id="check", field="patient.age", operator=">", result=age > 65, next_node_id=branch
        ),
        MessageRequested(node_id=branch, message=f"Hello from {branch}"),
        RunCompleted(last_node_id=branch),
    ]


def test_a_missing_branch_completes_the_run() -> None:
    definition = journey("check", over_65("check", None, "younger"), message("younger"))
    state, wake_up = started(definition)

    assert decide(definition, state, wake_up, now=NOW) == [
        ConditionEvaluated(
            node_id="check", field="patient.age", operator=">", result=True, next_node_id=None
        ),
        RunCompleted(last_node_id="check"),
    ]


def test_reaching_a_delay_starts_it_and_ends_the_batch() -> None:
    definition = journey("hi", message("hi", "wait"), delay("wait", 3600, "bye"), message("bye"))
    state, wake_up = started(definition)

    events = decide(definition, state, wake_up, now=NOW)

    assert events == [
        MessageRequested(node_id="hi", message="Hello from hi"),
        DelayStarted(node_id="wait", duration_seconds=3600, resume_at=NOW + timedelta(hours=1)),
    ]
    waiting = applied(state, events)
    assert waiting.status is RunStatus.WAITING_DELAY
    assert waiting.current_node_id == "wait" and waiting.resume_at == NOW + timedelta(hours=1)


def test_delay_elapsed_continues_after_the_delay_node() -> None:
    definition = journey("hi", message("hi", "wait"), delay("wait", 3600, "bye"), message("bye"))
    state, wake_up = started(definition)
    state, timer = elapsed(applied(state, decide(definition, state, wake_up, now=NOW)))

    events = decide(definition, state, timer, now=timer.fired_at)

    assert events == [
        MessageRequested(node_id="bye", message="Hello from bye"),
        RunCompleted(last_node_id="bye"),
    ]


def test_a_delay_as_start_node_just_starts_the_delay() -> None:
    definition = journey("wait", delay("wait", 60, "hi"), message("hi"))
    state, wake_up = started(definition)

    assert decide(definition, state, wake_up, now=NOW) == [
        DelayStarted(node_id="wait", duration_seconds=60, resume_at=NOW + timedelta(seconds=60))
    ]


def test_a_zero_second_delay_resumes_now() -> None:
    definition = journey("wait", delay("wait", 0, "hi"), message("hi"))
    state, wake_up = started(definition)

    [event] = decide(definition, state, wake_up, now=NOW)

    assert isinstance(event, DelayStarted) and event.resume_at == NOW


def test_a_delay_with_no_next_completes_after_elapsing() -> None:
    definition = journey("wait", delay("wait", 60))
    state, wake_up = started(definition)
    state, timer = elapsed(applied(state, decide(definition, state, wake_up, now=NOW)))

    assert decide(definition, state, timer, now=timer.fired_at) == [RunCompleted(last_node_id="wait")]


def test_a_redelivered_run_started_yields_nothing() -> None:
    definition = journey("hi", message("hi", "wait"), delay("wait", 60))
    state, wake_up = started(definition)
    state = applied(state, decide(definition, state, wake_up, now=NOW))

    assert decide(definition, state, wake_up, now=NOW) == []


def test_a_redelivered_delay_elapsed_yields_nothing() -> None:
    definition = journey("wait", delay("wait", 60, "hi"), message("hi", "again"), delay("again", 60))
    state, wake_up = started(definition)
    state, timer = elapsed(applied(state, decide(definition, state, wake_up, now=NOW)))
    state = applied(state, decide(definition, state, timer, now=timer.fired_at))

    assert state.status is RunStatus.WAITING_DELAY
    assert decide(definition, state, timer, now=timer.fired_at) == []


def test_a_delay_elapsed_for_another_node_yields_nothing() -> None:
    definition = journey("wait", delay("wait", 60, "hi"), message("hi"))
    state, wake_up = started(definition)
    state, _ = elapsed(applied(state, decide(definition, state, wake_up, now=NOW)))
    stranger = DelayElapsed(node_id="hi", resume_at=NOW, fired_at=NOW)

    assert decide(definition, state, stranger, now=NOW) == []


def test_a_wake_up_for_a_cancelled_run_yields_nothing() -> None:
    definition = journey("wait", delay("wait", 60, "hi"), message("hi"))
    state, wake_up = started(definition)
    state = applied(state, decide(definition, state, wake_up, now=NOW))
    cancel = decide_cancel(state, reason="patient discharged")
    assert isinstance(cancel, list)
    state = applied(state, cancel)

    late = DelayElapsed(node_id="wait", resume_at=NOW, fired_at=NOW)
    assert state.status is RunStatus.CANCELLED
    assert decide(definition, state, late, now=NOW) == []
    assert decide(definition, state, wake_up, now=NOW) == []


def test_a_message_outcome_arriving_before_the_decision_does_not_block_it() -> None:
    definition = journey("wait", delay("wait", 60, "hi"), message("hi"))
    state, wake_up = started(definition)
    state, timer = elapsed(applied(state, decide(definition, state, wake_up, now=NOW)))
    state = applied(state, [MessageDelivered(node_id="earlier", provider_message_id="x", attempts=1)])

    assert decide(definition, state, timer, now=NOW)[-1] == RunCompleted(last_node_id="hi")


def test_a_node_missing_from_the_journey_fails_the_run() -> None:
    # Validation forbids this; a definition built without it (or corrupted in storage) must not crash the run.
    broken = JourneyDefinition(
        name="Broken", start_node_id="hi", nodes=(MessageNode("hi", "Hello", "ghost"),)
    )
    state, wake_up = started(broken)

    events = decide(broken, state, wake_up, now=NOW)

    assert events[0] == MessageRequested(node_id="hi", message="Hello")
    assert isinstance(events[1], RunFailed) and events[1].node_id == "ghost" and "ghost" in events[1].reason


def test_delay_elapsed_at_a_node_that_never_waits_fails_the_run() -> None:
    definition = journey("hi", message("hi"))
    state, _ = started(definition)
    timer = DelayElapsed(node_id="nowhere", resume_at=NOW, fired_at=NOW)
    state = applied(state, [timer])

    [event] = decide(definition, state, timer, now=NOW)

    assert isinstance(event, RunFailed) and "is not in journey" in event.reason


def test_a_journey_that_loops_without_delay_fails_at_the_events_cap_sending_nothing() -> None:
    looping = JourneyDefinition(name="Spinner", start_node_id="a", nodes=(MessageNode("a", "again", "a"),))
    state, wake_up = started(looping)

    [failed] = decide(looping, state, wake_up, now=NOW)

    assert isinstance(failed, RunFailed) and "max_events_per_decision" in failed.reason


def test_cancel_while_waiting_names_the_delay_node() -> None:
    definition = journey("wait", delay("wait", 60))
    state, wake_up = started(definition)
    state = applied(state, decide(definition, state, wake_up, now=NOW))

    assert decide_cancel(state, reason="by clinic") == [RunCancelled(node_id="wait", reason="by clinic")]


def test_cancel_of_an_unknown_run_is_refused() -> None:
    assert decide_cancel(initial_state(RUN_ID), reason=None) == CancelRefused(CancelRefusal.RUN_NOT_FOUND)


@pytest.mark.parametrize(
    ("finish", "status"),
    [
        (RunCompleted(last_node_id="hi"), RunStatus.COMPLETED),
        (RunFailed(node_id="hi", reason="boom"), RunStatus.FAILED),
        (RunCancelled(node_id="hi", reason=None), RunStatus.CANCELLED),
    ],
)
def test_cancel_of_a_finished_run_is_refused_with_its_status(finish: RunEvent, status: RunStatus) -> None:
    state, _ = started(journey("hi", message("hi")))
    state = applied(state, [finish])

    assert decide_cancel(state, reason=None) == CancelRefused(CancelRefusal.ALREADY_FINISHED, status)


def test_start_begins_at_the_start_node_and_is_refused_once_started() -> None:
    definition = journey("hi", message("hi"))
    fresh = initial_state(RUN_ID)

    events = decide_start(
        fresh, journey_id=JOURNEY_ID, journey_version=3, journey=definition, patient_context=PATIENT
    )

    assert events == [
        RunStarted(journey_id=JOURNEY_ID, journey_version=3, start_node_id="hi", patient_context=PATIENT)
    ]
    state = fold(RUN_ID, stamp(RUN_ID, 0, events, now=NOW, causation_id=None, correlation_id=None))
    again = decide_start(
        state, journey_id=JOURNEY_ID, journey_version=3, journey=definition, patient_context=PATIENT
    )
    assert again == StartRefused(RunStatus.IN_PROGRESS)


def test_a_run_whose_journey_cannot_be_loaded_fails_with_a_reason() -> None:
    state, wake_up = started(journey("hi", message("hi")))

    [failed] = decide(None, state, wake_up, now=NOW)

    assert isinstance(failed, RunFailed)
    assert failed.reason == f"Journey {JOURNEY_ID} version 1 is not available."


def test_a_due_delay_wakes_only_a_run_still_sleeping_at_that_node() -> None:
    sleeping = RunState(run_id=RUN_ID, version=3, status=RunStatus.WAITING_DELAY, current_node_id="wait")
    moved_on = RunState(run_id=RUN_ID, version=4, status=RunStatus.CANCELLED, current_node_id="wait")

    fired = decide_delay_fired(sleeping, node_id="wait", resume_at=NOW, fired_at=NOW + timedelta(seconds=1))

    assert fired == [DelayElapsed(node_id="wait", resume_at=NOW, fired_at=NOW + timedelta(seconds=1))]
    assert decide_delay_fired(sleeping, node_id="other", resume_at=NOW, fired_at=NOW) == []
    assert decide_delay_fired(moved_on, node_id="wait", resume_at=NOW, fired_at=NOW) == []


def test_a_cancelled_runs_message_is_failed_unsent_and_a_live_runs_is_sent() -> None:
    requested = MessageRequested(node_id="hi", message="Hello")
    cancelled = RunState(run_id=RUN_ID, version=3, status=RunStatus.CANCELLED)
    waiting = RunState(run_id=RUN_ID, version=3, status=RunStatus.WAITING_DELAY)

    assert decide_unsent(cancelled, requested) == MessageFailed(
        node_id="hi", reason=CANCELLED_BEFORE_SENDING, attempts=0
    )
    assert decide_unsent(waiting, requested) is None


def test_a_send_outcome_becomes_delivered_or_failed() -> None:
    requested = MessageRequested(node_id="hi", message="Hello")

    assert decide_sent(requested, Sent(provider_message_id="m-1", attempts=2)) == MessageDelivered(
        node_id="hi", provider_message_id="m-1", attempts=2
    )
    assert decide_sent(requested, NotSent(reason="http_500", attempts=5)) == MessageFailed(
        node_id="hi", reason="http_500", attempts=5
    )
