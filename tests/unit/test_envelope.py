"""The relay's records from stored rows match the records built from decoded events, upcasting old schemas."""

from __future__ import annotations

import uuid

import orjson

from events.catalogue import RecordedEvent
from events.codec import encode_payload, schema_version, type_name
from events.envelope import (
    SeenVersions,
    StoredEvent,
    from_kafka_record,
    record_type,
    stored_to_kafka_record,
    to_kafka_record,
)
from support.runs import envelopes, message, run_started


def recorded(event: object) -> RecordedEvent:
    run_id = uuid.uuid4()
    [new] = envelopes(run_id, 0, [event])  # type: ignore[list-item]
    return RecordedEvent(**dict(new), position=42)


def stored(event: RecordedEvent, data: bytes, version: int | None = None) -> StoredEvent:
    return StoredEvent(
        event_id=event.event_id,
        run_id=event.run_id,
        version=event.version,
        position=event.position,
        recorded_at=event.recorded_at,
        causation_id=event.causation_id,
        correlation_id=event.correlation_id,
        type=type_name(event.event),
        schema_version=schema_version(event.event) if version is None else version,
        data=data,
    )


def test_a_current_stored_payload_is_published_as_stored_with_the_same_headers() -> None:
    event = recorded(message("pre-op"))
    as_stored = b'{"node_id": "pre-op", "message": "Hello"}'  # jsonb's own text form

    record = stored_to_kafka_record(stored(event, as_stored))

    expected = to_kafka_record(event)
    assert record.value == as_stored
    assert (record.key, record.headers) == (expected.key, expected.headers)
    assert from_kafka_record(record) == event


def test_an_old_schema_version_is_upcast_before_it_is_published() -> None:
    event = recorded(run_started())
    old = orjson.loads(encode_payload(event.event))
    del old["journey_version"]  # RunStarted v1 had no journey version

    record = stored_to_kafka_record(stored(event, orjson.dumps(old), version=1))

    assert dict(record.headers)["ce_type"] == b"pjs.run.RunStarted.v2"
    assert from_kafka_record(record) == event


def test_a_records_event_type_is_read_from_its_header_without_decoding_the_payload() -> None:
    record = to_kafka_record(recorded(message("pre-op")))

    class Consumed:
        value = b"not even json"  # a consumer filtering by type never parses the payload
        headers = record.headers

    assert record_type(Consumed()) == "MessageRequested"


def test_seen_versions_lets_each_run_version_through_once_and_forgets_the_oldest_run_first() -> None:
    first, second = recorded(run_started()), recorded(run_started())
    seen = SeenVersions(capacity=1)

    assert seen.is_new(first)
    assert not seen.is_new(first)  # a redelivery of the same (run, version)
    assert seen.is_new(second)  # capacity 1: the first run is forgotten
    assert seen.is_new(first)
