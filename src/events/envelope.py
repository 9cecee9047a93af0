"""Run events on Kafka as CloudEvents 1.0 in binary content mode: attributes in ce_* headers, JSON data.

A subscriber in any language reads `ce_type` (e.g. `pjs.run.DelayStarted.v1`), `ce_subject` (the run id)
and the extension attributes `ce_pjsstreamversion` / `ce_pjsposition`, and parses the value as JSON.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from events.catalogue import RecordedEvent
from events.codec import decode_payload, encode_payload, schema_version, type_name
from events.errors import InvalidEventPayload

SPEC_VERSION = "1.0"
SOURCE = "urn:pjs:event-store"
TYPE_PREFIX = "pjs.run."
CONTENT_TYPE = "application/json"

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
    def headers(self) -> tuple[tuple[str, bytes], ...] | list[tuple[str, bytes]]: ...


def to_kafka_record(event: RecordedEvent) -> KafkaRecord:
    """Key = run id, so one run's events stay ordered in one partition."""
    headers: Headers = [
        ("ce_specversion", SPEC_VERSION.encode()),
        ("ce_id", str(event.event_id).encode()),
        ("ce_source", SOURCE.encode()),
        ("ce_type", f"{TYPE_PREFIX}{type_name(event.event)}.v{schema_version(event.event)}".encode()),
        ("ce_subject", str(event.run_id).encode()),
        ("ce_time", event.recorded_at.isoformat().encode()),
        ("content-type", CONTENT_TYPE.encode()),
        ("ce_pjsstreamversion", str(event.version).encode()),
        ("ce_pjsposition", str(event.position).encode()),
    ]
    if event.causation_id is not None:
        headers.append(("ce_pjscausationid", str(event.causation_id).encode()))
    if event.correlation_id is not None:
        headers.append(("ce_pjscorrelationid", str(event.correlation_id).encode()))
    return KafkaRecord(str(event.run_id).encode(), encode_payload(event.event), headers)


def from_kafka_record(record: ConsumedRecord) -> RecordedEvent:
    """Decode a consumed record back into the current event model (upcasting older schema versions)."""
    headers = {name: value.decode() for name, value in record.headers}
    try:
        ce_type = headers["ce_type"]
        name, _, version = ce_type.removeprefix(TYPE_PREFIX).rpartition(".v")
        return RecordedEvent(
            event_id=UUID(headers["ce_id"]),
            run_id=UUID(headers["ce_subject"]),
            version=int(headers["ce_pjsstreamversion"]),
            position=int(headers["ce_pjsposition"]),
            recorded_at=datetime.fromisoformat(headers["ce_time"]),
            causation_id=_optional_uuid(headers, "ce_pjscausationid"),
            correlation_id=_optional_uuid(headers, "ce_pjscorrelationid"),
            event=decode_payload(name, int(version), record.value or b""),
        )
    except (KeyError, ValueError) as error:
        raise InvalidEventPayload(f"not a run event record: {error}") from error


def _optional_uuid(headers: dict[str, str], name: str) -> UUID | None:
    return UUID(headers[name]) if name in headers else None


class SeenVersions:
    """Remembers the highest version seen per run (bounded, least recently used first out).

    For consumers without a durable checkpoint of their own; Kafka delivers at least once, so a record at
    or below a run's last seen version is a duplicate.
    """

    def __init__(self, capacity: int = 100_000) -> None:
        self._capacity = capacity
        self._highest: OrderedDict[UUID, int] = OrderedDict()

    def is_new(self, event: RecordedEvent) -> bool:
        """True once per (run, version) going forward; records the version as seen."""
        highest = self._highest.get(event.run_id, 0)
        if event.version <= highest:
            return False
        self._highest[event.run_id] = event.version
        self._highest.move_to_end(event.run_id)
        if len(self._highest) > self._capacity:
            self._highest.popitem(last=False)
        return True
