"""Run state: folded from events by `evolve`, the only way it changes."""

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from domain.run_state import EventOutOfOrder, RunStatus, evolve, fold, initial_state
from events.catalogue import (
    DelayElapsed,
    DelayStarted,
    MessageDelivered,
    MessageRequested,
    RecordedEvent,
    RunCompleted,
    RunEvent,
    RunStarted,
    stamp,
)

RUN_ID = UUID("00000000-0000-4000-8000-0000000000aa")
JOURNEY_ID = UUID("00000000-0000-4000-8000-0000000000bb")
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
RESUME = T0 + timedelta(days=1)
START = RunStarted(journey_id=JOURNEY_ID, journey_version=2, start_node_id="hi", patient_context={"age": 70})


def test_a_run_with_no_events_does_not_exist() -> None:
    state = initial_state(RUN_ID)
    assert state.version == 0 and state.status is None and not state.exists


def test_run_started_puts_the_run_at_its_start_node() -> None:
    state = fold(RUN_ID, stamp(RUN_ID, 0, [START], now=T0, causation_id=None, correlation_id=None))
    assert state.status is RunStatus.IN_PROGRESS
    assert (state.journey_id, state.journey_version, state.current_node_id) == (JOURNEY_ID, 2, "hi")
    assert state.patient_context == {"age": 70}
    assert state.created_at == state.updated_at == T0
    assert state.awaiting_decision


def test_waiting_then_resuming_tracks_the_delay_node_and_resume_time() -> None:
    first: list[RunEvent] = [
        START,
        MessageRequested(node_id="hi", message="Hello"),
        DelayStarted(node_id="wait", duration_seconds=86400, resume_at=RESUME),
    ]
    envelopes = stamp(RUN_ID, 0, first, now=T0, causation_id=None, correlation_id=None)
    waiting = fold(RUN_ID, envelopes)
    assert waiting.status is RunStatus.WAITING_DELAY
    assert (waiting.current_node_id, waiting.resume_at, waiting.version) == ("wait", RESUME, 3)
    assert not waiting.awaiting_decision

    [timer] = stamp(
        RUN_ID,
        3,
        [DelayElapsed(node_id="wait", resume_at=RESUME, fired_at=RESUME)],
        now=RESUME,
        causation_id=None,
        correlation_id=None,
    )
    resumed = evolve(waiting, timer)
    assert resumed.status is RunStatus.IN_PROGRESS and resumed.resume_at is None
    assert resumed.awaiting_decision and resumed.updated_at == RESUME and resumed.created_at == T0


def test_a_finished_run_stays_finished_when_a_delivery_report_arrives() -> None:
    events: list[RunEvent] = [
        START,
        MessageRequested(node_id="hi", message="Hello"),
        RunCompleted(last_node_id="hi"),
        MessageDelivered(node_id="hi", provider_message_id="sms-1", attempts=1),
    ]
    state = fold(RUN_ID, stamp(RUN_ID, 0, events, now=T0, causation_id=None, correlation_id=None))
    assert state.status is RunStatus.COMPLETED and state.finished
    assert state.current_node_id is None and state.version == 4


def test_recorded_events_fold_like_new_ones() -> None:
    new = stamp(RUN_ID, 0, [START], now=T0, causation_id=None, correlation_id=None)
    recorded = [RecordedEvent(**dict(envelope), position=100 + i) for i, envelope in enumerate(new)]
    assert fold(RUN_ID, recorded) == fold(RUN_ID, new)


def test_an_event_out_of_order_or_for_another_run_is_rejected() -> None:
    [envelope] = stamp(RUN_ID, 1, [START], now=T0, causation_id=None, correlation_id=None)
    with pytest.raises(EventOutOfOrder):
        evolve(initial_state(RUN_ID), envelope)
    with pytest.raises(EventOutOfOrder):
        evolve(initial_state(JOURNEY_ID), envelope.model_copy(update={"version": 1}))
