"""The event catalogue: tags, schema versions, deterministic event ids and stamping."""

from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID

import pytest
from pydantic import TypeAdapter, ValidationError

from events.catalogue import (
    EVENT_TYPES,
    WAKE_UP_TYPES,
    Actor,
    DelayElapsed,
    DelayStarted,
    MessageDelivered,
    MessageRequested,
    NewEvent,
    RecordedEvent,
    RunCompleted,
    RunEvent,
    RunStarted,
    ends_delay,
    event_id_for,
    is_terminal,
    is_wake_up,
    stamp,
)

RUN_ID = UUID("00000000-0000-4000-8000-000000000001")
NOW = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def test_every_event_type_is_named_by_its_tag() -> None:
    assert len(EVENT_TYPES) == 12
    for name, event_class in EVENT_TYPES.items():
        assert event_class.model_fields["type"].default == name
        assert event_class.SCHEMA_VERSION >= 1
    assert RunStarted.SCHEMA_VERSION == 3


def test_wake_up_and_terminal_types_are_known_events() -> None:
    assert {RunStarted, DelayElapsed} == set(WAKE_UP_TYPES)
    assert {"RunCompleted", "RunFailed", "RunCancelled"} == {n for n, c in EVENT_TYPES.items() if c.ENDS_RUN}
    assert is_terminal(RunCompleted(last_node_id=None))
    assert is_wake_up(DelayElapsed(node_id="wait", resume_at=NOW, fired_at=NOW))
    assert not is_wake_up(MessageRequested(node_id="hi", message="Hello"))


def test_a_delay_ends_when_it_fires_or_the_run_ends() -> None:
    assert {"DelayElapsed", "RunCompleted", "RunFailed", "RunCancelled"} == {
        name for name, cls in EVENT_TYPES.items() if cls.ENDS_DELAY
    }
    assert ends_delay(DelayElapsed(node_id="wait", resume_at=NOW, fired_at=NOW))
    assert not ends_delay(DelayStarted(node_id="wait", duration_seconds=1, resume_at=NOW))


def test_each_event_type_names_the_part_of_the_system_that_writes_it() -> None:
    assert RunStarted.WRITTEN_BY is Actor.API
    assert DelayElapsed.WRITTEN_BY is Actor.TIMER
    assert MessageDelivered.WRITTEN_BY is Actor.DELIVERY
    assert RunCompleted.WRITTEN_BY is Actor.ENGINE


def test_events_are_frozen_and_reject_unknown_fields() -> None:
    event = MessageRequested(node_id="hi", message="Hello")
    assert event.channel == "default"
    with pytest.raises(ValidationError):
        event.message = "changed"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        MessageRequested(node_id="hi", message="Hello", priority=1)  # type: ignore[call-arg]


def test_union_dispatches_on_the_type_tag() -> None:
    adapter: TypeAdapter[RunEvent] = TypeAdapter(RunEvent)
    event = adapter.validate_python({"type": "RunCompleted", "last_node_id": "bye"})
    assert event == RunCompleted(last_node_id="bye")


def test_datetimes_must_be_aware_and_are_kept_in_utc() -> None:
    madrid = timezone(timedelta(hours=1))
    event = DelayStarted(
        node_id="wait", duration_seconds=60, resume_at=datetime(2025, 3, 1, 10, 0, tzinfo=madrid)
    )
    assert event.resume_at == NOW and event.resume_at.tzinfo == UTC
    with pytest.raises(ValidationError):
        DelayStarted(node_id="wait", duration_seconds=60, resume_at=datetime(2025, 3, 1, 9, 0))


@pytest.mark.parametrize("duration", [-1.0, float("nan"), float("inf")])
def test_delay_duration_must_be_finite_and_non_negative(duration: float) -> None:
    with pytest.raises(ValidationError):
        DelayStarted(node_id="wait", duration_seconds=duration, resume_at=NOW)


def test_event_id_is_the_same_for_the_same_run_and_version() -> None:
    assert event_id_for(RUN_ID, 3) == event_id_for(RUN_ID, 3)
    assert event_id_for(RUN_ID, 3) != event_id_for(RUN_ID, 4)
    other_run = UUID("00000000-0000-4000-8000-000000000002")
    assert event_id_for(RUN_ID, 3) != event_id_for(other_run, 3)
    assert event_id_for(RUN_ID, 1).version == 5


def test_stamp_numbers_events_after_the_expected_version() -> None:
    cause = UUID("00000000-0000-4000-8000-00000000000c")
    events: list[RunEvent] = [
        MessageRequested(node_id="hi", message="Hello"),
        RunCompleted(last_node_id="hi"),
    ]
    stamped = stamp(RUN_ID, 4, events, now=NOW, causation_id=cause, correlation_id=RUN_ID)
    assert [envelope.version for envelope in stamped] == [5, 6]
    assert [envelope.event for envelope in stamped] == events
    assert [envelope.event_id for envelope in stamped] == [event_id_for(RUN_ID, 5), event_id_for(RUN_ID, 6)]
    assert all(e.recorded_at == NOW and e.causation_id == cause and e.run_id == RUN_ID for e in stamped)


def test_a_recorded_event_is_a_new_event_with_a_position() -> None:
    [new] = stamp(
        RUN_ID, 0, [RunCompleted(last_node_id=None)], now=NOW, causation_id=None, correlation_id=None
    )
    recorded = RecordedEvent(**dict(new), position=42)
    assert isinstance(recorded, NewEvent)
    assert recorded.position == 42 and recorded.event == new.event
