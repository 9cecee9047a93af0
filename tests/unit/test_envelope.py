"""Run events as Kafka records: the relay's records match decoded events; a garbled record fails to decode."""

from __future__ import annotations

import uuid

import orjson
import pytest

from events.catalogue import RecordedEvent
from events.codec import encode_payload, schema_version, type_name
from events.envelope import (
    StoredEvent,
    from_kafka_record,
    record_type,
    stored_to_kafka_record,
    to_kafka_record,
)
from events.errors import InvalidEventPayload
from events.tenancy import TENANT_HEADER
from support.runs import envelopes, message, run_started


def recorded(event: object) -> RecordedEvent:
    run_id = uuid.uuid4()
    [new] = envelopes(run_id, 0, [event])  # type: ignore[list-item]
    return RecordedEvent(**dict(new), position=42, tenant_id=uuid.uuid4())


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
        tenant_id=event.tenant_id,
    )


class Consumed:
    """A consumed record as aiokafka hands it over: a value and a list of headers."""

    def __init__(self, value: bytes | None, headers: list[tuple[str, bytes | None]]) -> None:
        self.value = value
        self.headers = headers


def with_header(
    headers: list[tuple[str, bytes]], name: str, value: bytes | None
) -> list[tuple[str, bytes | None]]:
    return [(n, value if n == name else v) for n, v in headers]


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

    assert dict(record.headers)["ce_type"] == b"pjs.run.RunStarted.v3"
    assert from_kafka_record(record) == event


def test_a_records_event_type_is_read_from_its_header_without_decoding_the_payload() -> None:
    record = to_kafka_record(recorded(message("pre-op")))

    # A consumer filtering by type never parses the payload.
    assert record_type(Consumed(b"not even json", list(record.headers))) == "MessageRequested"


def test_a_ce_type_header_that_is_not_utf8_gives_no_type_and_does_not_decode() -> None:
    record = to_kafka_record(recorded(message("pre-op")))
    garbled = Consumed(record.value, with_header(record.headers, "ce_type", b"\xff\xfepjs.run"))

    assert record_type(garbled) is None
    with pytest.raises(InvalidEventPayload):
        from_kafka_record(garbled)


def test_a_record_without_a_ce_type_value_gives_no_type_and_does_not_decode() -> None:
    record = to_kafka_record(recorded(message("pre-op")))
    missing = Consumed(record.value, [(n, v) for n, v in record.headers if n != "ce_type"])
    null = Consumed(record.value, with_header(record.headers, "ce_type", None))

    assert record_type(missing) is None
    assert record_type(null) is None
    for record_without_type in (missing, null):
        with pytest.raises(InvalidEventPayload):
            from_kafka_record(record_without_type)


def test_any_other_header_that_is_not_utf8_makes_the_record_undecodable() -> None:
    record = to_kafka_record(recorded(message("pre-op")))
    garbled = Consumed(record.value, with_header(record.headers, "ce_subject", b"\x80"))

    assert record_type(garbled) == "MessageRequested"
    with pytest.raises(InvalidEventPayload):
        from_kafka_record(garbled)


def test_a_consumed_record_decodes_to_the_event_the_relay_published() -> None:
    event = recorded(run_started())
    record = to_kafka_record(event)

    assert from_kafka_record(Consumed(record.value, list(record.headers))) == event


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("ce_id", b"Jane-Roe-uuid"),
        ("ce_subject", b"Jane12345"),
        (TENANT_HEADER, b"JaneRoe"),
        (TENANT_HEADER, b""),  # present but empty is not "no tenant"
        ("ce_pjsstreamversion", b"0"),  # versions start at 1
        ("ce_pjsstreamversion", b"Jane"),
        ("ce_pjsposition", b"Jane"),
        ("ce_time", b"Jane-13-45T99:00:00+00:00"),
        ("ce_time", b"2026-01-01T10:00:00"),  # no time zone
        ("ce_type", b"pjs.run.MessageRequested.vJane"),
        ("ce_subject", b"\xffJane\xfe"),  # not UTF-8
    ],
)
def test_a_malformed_envelope_header_is_refused_without_quoting_it(header: str, value: bytes) -> None:
    record = to_kafka_record(recorded(message("pre-op")))
    broken = Consumed(record.value, with_header(record.headers, header, value))

    with pytest.raises(InvalidEventPayload) as refused:
        from_kafka_record(broken)
    assert "Jane" not in str(refused.value)
    assert refused.value.__cause__ is None  # nor in the exception it was raised from


def test_the_first_tracing_header_that_is_text_is_the_one_kept() -> None:
    record = to_kafka_record(recorded(message("pre-op")))
    first, second = "00-" + "a" * 32 + "-" + "b" * 16 + "-01", "00-" + "c" * 32 + "-" + "d" * 16 + "-01"
    headers = [*record.headers, ("ce_traceparent", b"\xff"), ("ce_traceparent", first.encode())]
    headers.append(("ce_traceparent", second.encode()))

    assert from_kafka_record(Consumed(record.value, headers)).traceparent == first
