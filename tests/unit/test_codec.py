"""The codec: every event survives bytes and jsonb round trips; bad payloads raise typed errors."""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from events.catalogue import (
    EVENT_TYPES,
    ConditionEvaluated,
    DelayElapsed,
    DelayStarted,
    MessageBounced,
    MessageDelivered,
    MessageFailed,
    MessageRequested,
    PatientErased,
    RunCancelled,
    RunCompleted,
    RunEvent,
    RunFailed,
    RunStarted,
    Sealed,
)
from events.codec import decode_payload, encode_payload, payload_dict, schema_version, type_name
from events.errors import InvalidEventPayload

texts = st.text(max_size=20)
optional_texts = st.none() | texts
moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC))
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=10,
)
counts = st.integers(0, 100)

strategies_by_type: dict[str, st.SearchStrategy[RunEvent]] = {
    "RunStarted": st.builds(
        RunStarted,
        journey_id=st.uuids(),
        journey_version=st.integers(1, 10_000),
        start_node_id=texts,
        patient_context=st.dictionaries(texts, json_values, max_size=5)
        | st.builds(Sealed, key_id=st.uuids(), ciphertext=texts),
    ),
    "MessageRequested": st.builds(
        MessageRequested,
        node_id=texts,
        message=st.none() | texts | st.builds(Sealed, key_id=st.uuids(), ciphertext=texts),
        channel=texts,
        language=optional_texts,
        failure=optional_texts,
    ),
    "MessageDelivered": st.builds(
        MessageDelivered,
        node_id=texts,
        provider_message_id=optional_texts,
        attempts=counts,
        source=st.sampled_from(["send", "receipt"]),
    ),
    "MessageBounced": st.builds(
        MessageBounced, node_id=texts, provider_message_id=optional_texts, reason=optional_texts
    ),
    "MessageFailed": st.builds(MessageFailed, node_id=texts, reason=texts, attempts=counts),
    "DelayStarted": st.builds(
        DelayStarted,
        node_id=texts,
        duration_seconds=st.floats(0, 1e9, allow_nan=False, allow_infinity=False),
        resume_at=moments,
        reason=optional_texts,
    ),
    "DelayElapsed": st.builds(DelayElapsed, node_id=texts, resume_at=moments, fired_at=moments),
    "ConditionEvaluated": st.builds(
        ConditionEvaluated,
        node_id=texts,
        field=texts,
        operator=st.sampled_from([">", "in", "eq"]),
        result=st.booleans(),
        next_node_id=optional_texts,
    ),
    "RunCompleted": st.builds(RunCompleted, last_node_id=optional_texts),
    "RunFailed": st.builds(RunFailed, node_id=optional_texts, reason=texts),
    "RunCancelled": st.builds(RunCancelled, node_id=optional_texts, reason=optional_texts),
    "PatientErased": st.builds(PatientErased, key_id=st.none() | st.uuids()),
}
events = st.one_of(*strategies_by_type.values())


@given(events)
def test_every_event_round_trips_through_bytes(event: RunEvent) -> None:
    decoded = decode_payload(type_name(event), schema_version(event), encode_payload(event))
    assert decoded == event
    assert type(decoded) is type(event)


@given(events)
def test_every_event_round_trips_through_a_jsonb_dict(event: RunEvent) -> None:
    data = payload_dict(event)
    assert orjson.loads(orjson.dumps(data)) == data
    assert decode_payload(type_name(event), schema_version(event), data) == event


def test_the_strategy_covers_every_event_type() -> None:
    assert strategies_by_type.keys() == EVENT_TYPES.keys()


def test_payload_leaves_out_the_type_tag_and_writes_utc_iso_strings() -> None:
    event = DelayElapsed(
        node_id="wait",
        resume_at=datetime(2025, 3, 1, 9, 0, tzinfo=UTC),
        fired_at=datetime(2025, 3, 1, 9, 0, 1, 500, tzinfo=UTC),
    )
    data = orjson.loads(encode_payload(event))
    assert "type" not in data
    assert data["resume_at"] == "2025-03-01T09:00:00Z"
    assert datetime.fromisoformat(data["fired_at"]) == event.fired_at


def test_a_matching_type_key_in_the_payload_is_tolerated() -> None:
    data: dict[str, Any] = {"type": "RunCompleted", "last_node_id": "bye"}
    assert decode_payload("RunCompleted", 1, data) == RunCompleted(last_node_id="bye")


def test_a_type_key_that_disagrees_with_the_stored_type_is_rejected() -> None:
    with pytest.raises(InvalidEventPayload, match="RunFailed"):
        decode_payload("RunCompleted", 1, {"type": "RunFailed", "last_node_id": None})


def test_a_payload_missing_a_field_names_it() -> None:
    with pytest.raises(InvalidEventPayload, match="attempts"):
        decode_payload("MessageFailed", 1, {"node_id": "hi", "reason": "bounced"})


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b'"text"'])
def test_bytes_that_are_not_a_json_object_are_rejected(raw: bytes) -> None:
    with pytest.raises(InvalidEventPayload):
        decode_payload("RunCompleted", 1, raw)


def test_an_event_json_cannot_carry_raises_a_typed_error() -> None:
    event = RunStarted(
        journey_id=UUID("6f1c2a9e-0d43-4b6a-9e59-1f2b3c4d5e6f"),
        journey_version=1,
        start_node_id="s",
        patient_context={"huge": 2**70},
    )
    with pytest.raises(InvalidEventPayload):
        encode_payload(event)
