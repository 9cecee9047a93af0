"""Decoding a fetched batch for a consumer group: the events it wants, and the records it must set aside."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeAlias

from aiokafka import ConsumerRecord, TopicPartition

from events.catalogue import RecordedEvent, RunEventClass
from events.decoded_records import RECENTLY_DECODED
from events.envelope import record_type
from events.errors import InvalidEventPayload, UnknownEventType, UnsupportedSchemaVersion

Record: TypeAlias = ConsumerRecord[bytes, bytes]
Records: TypeAlias = dict[TopicPartition, list[Record]]

HANDLING_FAILED = "its handler kept failing on this record alone"


@dataclass(frozen=True)
class BadRecord:
    """A record set aside: it cannot be decoded, or its handling failed. Its contents are never logged."""

    topic: str
    partition: int
    offset: int
    error: str  # the exception's class name
    reason: str  # a short fixed phrase: exception messages can quote headers or payload
    record: Record = field(repr=False, compare=False)

    @property
    def where(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"


@dataclass(frozen=True)
class Decoded:
    """An event and the record it came from (to store the record, or the offset after it)."""

    event: RecordedEvent
    record: Record

    @property
    def next_offset(self) -> dict[TopicPartition, int]:
        return {TopicPartition(self.record.topic, self.record.partition): self.record.offset + 1}


def names(event_types: tuple[RunEventClass, ...] | None) -> frozenset[str] | None:
    return None if event_types is None else frozenset(cls.__name__ for cls in event_types)


def decode(records: Records, wanted: frozenset[str] | None) -> tuple[list[Decoded], list[BadRecord]]:
    """The events the handler wants, and the records nobody can decode.

    A record of a type the group does not want is skipped unread; its offset is still recorded.
    """
    events: list[Decoded] = []
    bad: list[BadRecord] = []
    for batch in records.values():
        for record in batch:
            kind = record_type(record)
            if kind is not None and wanted is not None and kind not in wanted:
                continue
            try:
                events.append(Decoded(RECENTLY_DECODED.decoded(record), record))
            except Exception as error:  # no record on the topic may stop a consumer (invariant 9)
                bad.append(bad_record(record, error))
    return events, bad


_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (UnknownEventType, "event type unknown to this reader"),
    (UnsupportedSchemaVersion, "schema version this reader cannot read"),
    (InvalidEventPayload, "headers or payload are not a valid run event"),
)


def bad_record(record: Record, error: Exception, reason: str | None = None) -> BadRecord:
    """The record set aside for `error`; `reason` defaults to the decoding failure's fixed phrase."""
    if reason is None:
        reason = next((text for kind, text in _REASONS if isinstance(error, kind)), "decoding failed")
    return BadRecord(record.topic, record.partition, record.offset, type(error).__name__, reason, record)
