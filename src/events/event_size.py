"""The size limit at append: no event is stored that the relay could not publish as one Kafka record.

The relay publishes a payload as Postgres' `jsonb` prints it back, which is longer than the JSON the store
encoded: a space follows every `:` and `,`, and a number in exponent form is printed in full (`1e20` as 21
digits). The check counts an upper bound of that text, so an event that passes always fits.
"""

from __future__ import annotations

import re

from events.catalogue import NewEvent
from events.codec import type_name
from events.envelope import new_event_record_bytes
from events.errors import EventTooLarge

DEFAULT_MAX_EVENT_BYTES = 900_000
"""Below the producer's max_request_size and the broker's message.max.bytes (both about 1 MiB by default),
with room for the record batch framing around one record (under a hundred bytes)."""

_EXPONENT = re.compile(rb"\d[eE][+-]?(\d+)")
_WIDEST_FLOAT_EXPONENT = 324  # a float's exponent lies within -324..308, so jsonb prints at most ~330 digits


HEADERS_ALLOWANCE = 1_024
"""More than a record's key and headers ever take, its trace context aside: the names and values of its ids,
type, time, versions, position and tenant come to at most about 500 bytes (tests/unit/test_event_size.py)."""


# No payload counts longer than this many bytes per byte of it (`stored_text_bound`): a `,` or `:` counts
# twice, and an exponent adds at most 326 bytes, which takes it at least five ("1e324"; "1e99" adds 101).
MOST_STORED_BYTES_PER_BYTE = 1 + (_WIDEST_FLOAT_EXPONENT + 2) / 5


def check_event_size(event: NewEvent, encoded_payload: bytes, limit: int) -> None:
    """Raise `EventTooLarge` if the event's Kafka record could exceed `limit` bytes."""
    trace_bytes = len((event.traceparent or "").encode()) + len((event.tracestate or "").encode())
    widest = len(encoded_payload) * MOST_STORED_BYTES_PER_BYTE
    if widest + trace_bytes + HEADERS_ALLOWANCE <= limit:
        return  # fits however the payload prints: nearly every event, without scanning it
    value_bound = stored_text_bound(encoded_payload)
    if value_bound + trace_bytes + HEADERS_ALLOWANCE <= limit:
        return  # the exact count of the headers cannot change the answer, and it was most of the check's cost
    size = new_event_record_bytes(event, value_bound)
    if size > limit:
        raise EventTooLarge(type_name(event.event), size, limit)


def stored_text_bound(encoded: bytes) -> int:
    """At least the length of `encoded` (compact JSON) as Postgres' jsonb text output prints it.

    Counted on the bytes, strings included, so it can only over-count: a string that merely looks like a
    number in exponent form is counted as if Postgres expanded it.
    """
    expansion = 0
    for match in _EXPONENT.finditer(encoded):
        digits = match[1]
        exponent = int(digits) if len(digits) <= 3 else _WIDEST_FLOAT_EXPONENT
        expansion += min(exponent, _WIDEST_FLOAT_EXPONENT) + 2
    return len(encoded) + encoded.count(b",") + encoded.count(b":") + expansion
