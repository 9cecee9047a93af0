"""Records decoded lately in this process, handed out again to the next consumer group that reads them.

Where several groups share a process (`pjs dev --together`, `pjs run` with several worker roles), the
projector, audit and analytics groups each fetch every record of the topic and decode it: the same bytes
into the same frozen event, three times over. Each group still fetches, handles and commits on its own (a
consumer group per subscriber); only the decoding is shared. A record is known by its partition and
offset, and handed out again only when its payload and headers are the very bytes decoded before, so a
topic made anew (its offsets counting from 0 again) never gets another record's event. A record that
cannot be decoded is not kept: each group sets it aside on its own. A process with one group (a process
per role) keeps nothing.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Final, Protocol

from events.catalogue import RecordedEvent
from events.envelope import from_kafka_record

RECENT_RECORDS: Final = 2048
"""About two seconds of events at 100 runs/s (a few MB): the read-side groups fetch within 250 ms of each
other."""


class RecordPlace(Protocol):
    """What identifies a consumed record and its bytes: aiokafka's ConsumerRecord has these and more."""

    @property
    def topic(self) -> str: ...

    @property
    def partition(self) -> int: ...

    @property
    def offset(self) -> int: ...

    @property
    def value(self) -> bytes | None: ...

    @property
    def headers(self) -> Sequence[tuple[str, bytes | None]]: ...


class DecodedRecords:
    """The events of the last `capacity` records decoded, oldest dropped first."""

    def __init__(self, capacity: int = RECENT_RECORDS) -> None:
        self._capacity = capacity
        self._recent: OrderedDict[tuple[str, int, int], tuple[RecordPlace, RecordedEvent]] = OrderedDict()
        self._readers = 0

    def add_reader(self) -> None:
        """One more consumer group decodes through this; records are kept once there are two."""
        self._readers += 1

    def decoded(self, record: RecordPlace) -> RecordedEvent:
        """The record's event (`envelope.from_kafka_record`), decoded once while it is among the recent."""
        if self._readers < 2:
            return from_kafka_record(record)
        place = (record.topic, record.partition, record.offset)
        known = self._recent.get(place)
        if known is not None and _same_bytes(known[0], record):
            return known[1]
        event = from_kafka_record(record)
        self._recent[place] = (record, event)
        if len(self._recent) > self._capacity:
            self._recent.popitem(last=False)
        return event


def _same_bytes(kept: RecordPlace, record: RecordPlace) -> bool:
    return kept.value == record.value and kept.headers == record.headers


RECENTLY_DECODED: Final = DecodedRecords()
"""The process's own: every consumer group's loop decodes through it (`bad_records.decode`)."""
