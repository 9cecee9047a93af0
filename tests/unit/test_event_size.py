"""The size counted at append: an upper bound of the stored text, bounded itself for hostile strings."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from events.catalogue import EVENT_TYPES, NewEvent
from events.envelope import new_event_record_bytes
from events.errors import EventTooLarge
from events.event_size import (
    HEADERS_ALLOWANCE,
    MOST_STORED_BYTES_PER_BYTE,
    check_event_size,
    stored_text_bound,
)
from support.runs import envelopes, run_started


def test_jsonb_separators_and_expanded_exponents_are_counted() -> None:
    assert stored_text_bound(b'{"a":1,"b":[1,2]}') == len(b'{"a": 1, "b": [1, 2]}')
    assert stored_text_bound(b"[1e20]") >= len(b"[100000000000000000000]")
    assert stored_text_bound(b"[5e-324]") >= len("[0." + "0" * 323 + "5]")


def test_a_string_that_looks_like_a_huge_exponent_counts_as_a_float_at_most() -> None:
    encoded = orjson.dumps({"note": "1e" + "9" * 10_000})

    assert stored_text_bound(encoded) < len(encoded) + 400


# The pieces that make a payload print longest: separators and exponents, widest and shortest.
_WIDENING = st.sampled_from(
    [b",", b":", b"1e9", b"1e99", b"1e324", b"9E+999", b"5e-324", b"1e9999", b"a", b'"']
)


@given(st.lists(_WIDENING | st.binary(max_size=8), max_size=300).map(b"".join))
def test_no_payload_prints_longer_than_the_bound_per_byte_that_lets_small_events_skip_the_count(
    encoded: bytes,
) -> None:
    assert stored_text_bound(encoded) <= len(encoded) * MOST_STORED_BYTES_PER_BYTE


def test_the_widest_exponent_reaches_the_bound_per_byte() -> None:
    assert stored_text_bound(b"1e324") == 5 * MOST_STORED_BYTES_PER_BYTE


def test_an_event_over_the_limit_is_refused_with_its_type_and_sizes_only() -> None:
    run_id = uuid.uuid4()
    [event] = envelopes(run_id, 0, [run_started(patient_id="secret-patient")])
    encoded = orjson.dumps(event.event.model_dump(mode="json"))

    check_event_size(event, encoded, limit=2_000)
    with pytest.raises(EventTooLarge) as refused:
        check_event_size(event, encoded, limit=200)

    assert (refused.value.event_type, refused.value.limit) == ("RunStarted", 200)
    assert refused.value.record_bytes > len(encoded)
    assert "secret-patient" not in str(refused.value)


def test_the_headers_allowance_covers_the_widest_headers_of_every_event_type() -> None:
    for event_class in EVENT_TYPES.values():
        widest = NewEvent.model_construct(
            event_id=uuid.uuid4(),
            run_id=uuid.uuid4(),
            version=2**63 - 1,
            recorded_at=datetime(2026, 11, 29, 23, 59, 59, 999_999, tzinfo=UTC),
            causation_id=uuid.uuid4(),
            correlation_id=uuid.uuid4(),
            event=event_class.model_construct(),  # only its type and schema version reach the headers
        )

        assert new_event_record_bytes(widest, value_bytes=0) <= HEADERS_ALLOWANCE


def test_near_the_limit_the_headers_are_counted_exactly() -> None:
    [event] = envelopes(uuid.uuid4(), 0, [run_started()])
    encoded = orjson.dumps(event.event.model_dump(mode="json"))
    exact = new_event_record_bytes(event, stored_text_bound(encoded))

    check_event_size(event, encoded, limit=exact)
    with pytest.raises(EventTooLarge):
        check_event_size(event, encoded, limit=exact - 1)


def test_a_long_trace_state_counts_toward_the_limit() -> None:
    [plain] = envelopes(uuid.uuid4(), 0, [run_started()])
    traced = plain.model_copy(update={"tracestate": "vendor=" + "x" * 5_000})
    encoded = orjson.dumps(plain.event.model_dump(mode="json"))

    check_event_size(plain, encoded, limit=5_000)
    with pytest.raises(EventTooLarge):
        check_event_size(traced, encoded, limit=5_000)
