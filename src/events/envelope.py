"""Run events on Kafka as CloudEvents 1.0 in binary content mode: attributes in ce_* headers, JSON data.

A subscriber in any language reads `ce_type` (e.g. `pjs.run.DelayStarted.v1`), `ce_subject` (the run id)
and the extension attributes `ce_pjsstreamversion` / `ce_pjsposition`, and parses the value as JSON.
A traced event also carries the distributed tracing extension (`ce_traceparent`, `ce_tracestate`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from pydantic import ValidationError

from events.catalogue import NewEvent, RecordedEvent
from events.codec import decode_payload, encode_payload, schema_version, type_name
from events.errors import InvalidEventPayload
from events.tenancy import DEFAULT_TENANT_ID, TENANT_HEADER
from events.upcasting import current_schema_version

SPEC_VERSION = "1.0"
SOURCE = "urn:pjs:event-store"
TYPE_PREFIX = "pjs.run."
CONTENT_TYPE = "application/json"
TRACEPARENT_HEADER = "ce_traceparent"
TRACESTATE_HEADER = "ce_tracestate"

Headers = list[tuple[str, bytes]]


@dataclass(frozen=True)
class KafkaRecord:
    """What the relay hands to the producer for one event."""

    key: bytes
    value: bytes
    headers: Headers


class ConsumedRecord(Protocol):
    """The part of aiokafka's ConsumerRecord that decoding needs."""

    @property
    def value(self) -> bytes | None: ...

    @property
    def headers(self) -> Sequence[tuple[str, bytes | None]]: ...


def to_kafka_record(event: RecordedEvent) -> KafkaRecord:
    """Key = run id, so one run's events stay ordered in one partition."""
    return _kafka_record(
        event,
        f"{type_name(event.event)}.v{schema_version(event.event)}",
        encode_payload(event.event),
    )


@dataclass(frozen=True)
class StoredEvent:
    """A stored event's typed columns and its payload as stored (JSON text), not decoded."""

    event_id: UUID
    run_id: UUID
    version: int
    position: int
    recorded_at: datetime
    causation_id: UUID | None
    correlation_id: UUID | None
    type: str
    schema_version: int
    data: bytes
    tenant_id: UUID | None = None
    traceparent: str | None = None
    tracestate: str | None = None


def stored_to_kafka_record(event: StoredEvent) -> KafkaRecord:
    """The record for a stored event, publishing its stored JSON as it is.

    The store validated the payload when it was appended, so a payload of the current schema version needs
    no decoding and re-encoding (that round trip through pydantic was most of the relay's CPU). An older
    version is upcast first, so subscribers only ever see current schemas, as `to_kafka_record` gives them.
    """
    if event.schema_version == current_schema_version(event.type):
        return _kafka_record(event, f"{event.type}.v{event.schema_version}", event.data)
    current = decode_payload(event.type, event.schema_version, event.data)
    return _kafka_record(event, f"{type_name(current)}.v{schema_version(current)}", encode_payload(current))


def record_bytes(record: KafkaRecord) -> int:
    """The record's key, value and headers (names and values) in bytes, before Kafka's framing."""
    headers = sum(len(name.encode()) + len(value) for name, value in record.headers)
    return len(record.key) + len(record.value) + headers


def new_event_record_bytes(event: NewEvent, value_bytes: int) -> int:
    """`record_bytes` of the record the relay will make of a new event with a value of `value_bytes`.

    Its position is not known before it is inserted, so the widest one (19 digits) is counted.
    """
    versioned_type = f"{type_name(event.event)}.v{schema_version(event.event)}"
    headers = _headers(event, versioned_type, _WIDEST_POSITION)
    return record_bytes(KafkaRecord(str(event.run_id).encode(), b"", headers)) + value_bytes


_WIDEST_POSITION = 2**63 - 1


def _kafka_record(event: RecordedEvent | StoredEvent, versioned_type: str, value: bytes) -> KafkaRecord:
    return KafkaRecord(str(event.run_id).encode(), value, _headers(event, versioned_type, event.position))


def _headers(event: NewEvent | StoredEvent, versioned_type: str, position: int) -> Headers:
    headers: Headers = [
        ("ce_specversion", SPEC_VERSION.encode()),
        ("ce_id", str(event.event_id).encode()),
        ("ce_source", SOURCE.encode()),
        ("ce_type", f"{TYPE_PREFIX}{versioned_type}".encode()),
        ("ce_subject", str(event.run_id).encode()),
        ("ce_time", event.recorded_at.isoformat().encode()),
        ("content-type", CONTENT_TYPE.encode()),
        ("ce_pjsstreamversion", str(event.version).encode()),
        ("ce_pjsposition", str(position).encode()),
    ]
    if event.causation_id is not None:
        headers.append(("ce_pjscausationid", str(event.causation_id).encode()))
    if event.correlation_id is not None:
        headers.append(("ce_pjscorrelationid", str(event.correlation_id).encode()))
    # The CloudEvents distributed tracing extension: the W3C context of the span that appended (or published)
    # the event, so a consumer's spans continue its trace.
    if event.traceparent is not None:
        headers.append((TRACEPARENT_HEADER, event.traceparent.encode()))
    if event.tracestate:
        headers.append((TRACESTATE_HEADER, event.tracestate.encode()))
    # A new event's tenant is not known before it is stored; every tenant id is as long as the default's.
    tenant_id = event.tenant_id if isinstance(event, RecordedEvent | StoredEvent) else None
    headers.append((TENANT_HEADER, str(tenant_id or DEFAULT_TENANT_ID).encode()))
    return headers


def from_kafka_record(record: ConsumedRecord) -> RecordedEvent:
    """Decode a consumed record back into the current event model (upcasting older schema versions).

    Raises InvalidEventPayload (headers missing, not UTF-8 text or not parsing, payload invalid),
    UnknownEventType or UnsupportedSchemaVersion. No message quotes what a header held.
    """
    headers, trace_headers = _header_texts(record)
    name, _, version = _required(headers, "ce_type").removeprefix(TYPE_PREFIX).rpartition(".v")
    payload = decode_payload(name, _integer(version, "ce_type's schema version"), record.value or b"")
    try:
        # One validation of the whole envelope: pydantic parses the ids from their text, which costs a
        # fraction of building each UUID in Python (every consumer decodes every record).
        event: RecordedEvent = _RECORDED_EVENT.validate_python(
            {
                "event_id": _required(headers, "ce_id"),
                "run_id": _required(headers, "ce_subject"),
                "version": _integer(_required(headers, "ce_pjsstreamversion"), "ce_pjsstreamversion"),
                "position": _integer(_required(headers, "ce_pjsposition"), "ce_pjsposition"),
                "recorded_at": _time(_required(headers, "ce_time")),
                "causation_id": headers.get("ce_pjscausationid"),
                "correlation_id": headers.get("ce_pjscorrelationid"),
                # Records published before tenancy carry no tenant: they were all the default tenant's.
                "tenant_id": headers.get(TENANT_HEADER, DEFAULT_TENANT_ID),
                "traceparent": trace_headers.get(TRACEPARENT_HEADER),
                "tracestate": trace_headers.get(TRACESTATE_HEADER),
                "event": payload,
            }
        )
    except ValidationError as error:  # say which fields and why, never with what (pydantic's messages may)
        problems = ", ".join(f"{'.'.join(map(str, d['loc']))} ({d['type']})" for d in error.errors())
        raise InvalidEventPayload(f"not a run event record: {problems}") from None
    return event


_RECORDED_EVENT = RecordedEvent.__pydantic_validator__
_TRACING_HEADERS = (TRACEPARENT_HEADER, TRACESTATE_HEADER)


def _header_texts(record: ConsumedRecord) -> tuple[dict[str, str], dict[str, str]]:
    """The record's headers as text, and apart from them its tracing headers (the first of each that is text).

    A header that is not UTF-8 text makes the record undecodable, except a tracing header: a broken trace
    context leaves the record untraced, it never stops its event from being handled.
    """
    headers: dict[str, str] = {}
    trace_headers: dict[str, str] = {}
    for name, value in record.headers:
        if value is None:
            continue
        if name in _TRACING_HEADERS:
            with contextlib.suppress(UnicodeDecodeError):
                trace_headers.setdefault(name, value.decode())
            continue
        try:
            headers[name] = value.decode()
        except UnicodeDecodeError:
            raise InvalidEventPayload("not a run event record: a header is not UTF-8 text") from None
    return headers, trace_headers


def _required(headers: dict[str, str], name: str) -> str:
    if name not in headers:
        raise InvalidEventPayload(f"not a run event record: no {name} header")
    return headers[name]


def _integer(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InvalidEventPayload(f"not a run event record: {what} is not an integer") from None


def _time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise InvalidEventPayload("not a run event record: ce_time is not an ISO 8601 time") from None


def record_type(record: ConsumedRecord) -> str | None:
    """The event type a record carries (from `ce_type`, without decoding its payload).

    None if the header is absent or not UTF-8 text: such a record cannot be decoded at all.
    """
    for name, value in record.headers:
        if name == "ce_type":
            try:
                return None if value is None else value.decode().removeprefix(TYPE_PREFIX).rpartition(".v")[0]
            except UnicodeDecodeError:
                return None
    return None
