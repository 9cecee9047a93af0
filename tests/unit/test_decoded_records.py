"""Records decoded once per process: a record read again by another group gets the event decoded before,
and only when it is the very same bytes at the same place."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from events.catalogue import RecordedEvent
from events.decoded_records import DecodedRecords
from events.envelope import to_kafka_record
from events.errors import InvalidEventPayload
from support.runs import envelopes, message, run_started


@dataclass(frozen=True)
class Fetched:
    """A consumed record as aiokafka hands it over, where it was in the topic."""

    topic: str
    partition: int
    offset: int
    value: bytes | None
    headers: list[tuple[str, bytes | None]]


def shared(capacity: int = 16) -> DecodedRecords:
    """As in a process running two consumer groups."""
    recent = DecodedRecords(capacity)
    recent.add_reader()
    recent.add_reader()
    return recent


def recorded(event: object) -> RecordedEvent:
    run_id = uuid.uuid4()
    [new] = envelopes(run_id, 0, [event])  # type: ignore[list-item]
    return RecordedEvent(**dict(new), position=42, tenant_id=uuid.uuid4())


def fetched(event: RecordedEvent, offset: int = 7, topic: str = "run-events") -> Fetched:
    record = to_kafka_record(event)
    return Fetched(topic, 0, offset, record.value, list(record.headers))


def test_a_record_read_again_by_another_group_is_the_event_decoded_the_first_time() -> None:
    recent = shared()
    event = recorded(run_started())

    first = recent.decoded(fetched(event))
    again = recent.decoded(fetched(event))  # the same record, fetched by another group: other objects

    assert first == event
    assert again is first


def test_other_bytes_at_the_same_place_are_decoded_anew() -> None:
    recent = shared()
    before, after = recorded(run_started()), recorded(message())
    recent.decoded(fetched(before))

    # The topic made anew: its offsets count from 0 again, so another record sits at the same place.
    assert recent.decoded(fetched(after)) == after


def test_the_same_payload_with_other_headers_is_decoded_anew() -> None:
    recent = shared()
    event = recorded(run_started())
    kept = recent.decoded(fetched(event))
    tenant = uuid.uuid4()
    moved = event.model_copy(update={"tenant_id": tenant})

    assert kept.tenant_id != tenant
    assert recent.decoded(fetched(moved)).tenant_id == tenant


def test_only_the_most_recent_records_are_kept() -> None:
    recent = shared(capacity=2)
    events = [recorded(message()) for _ in range(3)]
    first = recent.decoded(fetched(events[0], offset=0))
    for offset, event in enumerate(events[1:], start=1):
        recent.decoded(fetched(event, offset=offset))

    again = recent.decoded(fetched(events[0], offset=0))
    assert again == first and again is not first


def test_an_undecodable_record_is_refused_every_time_it_is_read() -> None:
    recent = shared()
    event = recorded(run_started())
    garbled = Fetched("run-events", 0, 3, b"{not json", list(to_kafka_record(event).headers))

    for _ in range(2):
        with pytest.raises(InvalidEventPayload):
            recent.decoded(garbled)


def test_a_process_with_one_group_keeps_no_record() -> None:
    alone = DecodedRecords()
    alone.add_reader()
    event = recorded(run_started())

    first = alone.decoded(fetched(event))
    again = alone.decoded(fetched(event))

    assert first == again == event
    assert again is not first
