"""Upcasting: stored payloads of old schema versions decode as today's events; unknown ones fail loudly."""

from typing import Any
from uuid import UUID

import pytest

from events.catalogue import RunStarted
from events.codec import decode_payload
from events.errors import EventStoreError, UnknownEventType, UnsupportedSchemaVersion
from events.upcasting import current_schema_version, upcast

JOURNEY_ID = "6f1c2a9e-0d43-4b6a-9e59-1f2b3c4d5e6f"


def run_started_v1() -> dict[str, Any]:
    """A RunStarted exactly as the seed stored it: no journey_version."""
    return {
        "journey_id": JOURNEY_ID,
        "start_node_id": "welcome",
        "patient_context": {"id": "p-1", "age": 70, "language": "en"},
    }


def test_a_stored_run_started_v1_decodes_with_journey_version_1() -> None:
    event = decode_payload("RunStarted", 1, run_started_v1())
    assert event == RunStarted(
        journey_id=UUID(JOURNEY_ID),
        journey_version=1,
        start_node_id="welcome",
        patient_context={"id": "p-1", "age": 70, "language": "en"},
    )


def test_a_v1_payload_as_bytes_decodes_too() -> None:
    raw = b'{"journey_id": "%s", "start_node_id": "s", "patient_context": {}}' % JOURNEY_ID.encode()
    event = decode_payload("RunStarted", 1, raw)
    assert isinstance(event, RunStarted) and event.journey_version == 1


def test_upcast_does_not_mutate_the_stored_dict() -> None:
    stored = run_started_v1()
    upgraded = upcast("RunStarted", 1, stored)
    assert upgraded["journey_version"] == 1
    assert "journey_version" not in stored


def test_a_v2_payload_reads_as_v3_with_its_context_legacy_clear() -> None:
    payload = {**run_started_v1(), "journey_version": 7}
    assert upcast("RunStarted", 2, payload) == payload
    assert current_schema_version("RunStarted") == 3


def test_a_current_version_payload_passes_through_unchanged() -> None:
    sealed = {"key_id": "5b0c7f3e-2a41-4d6e-9a57-3c1f0e8d9b21", "ciphertext": "AAAA"}
    payload = {**run_started_v1(), "journey_version": 7, "patient_context": sealed}
    assert upcast("RunStarted", 3, payload) == payload


def test_an_unknown_event_type_raises_a_typed_error() -> None:
    with pytest.raises(UnknownEventType, match="PatientTeleported"):
        decode_payload("PatientTeleported", 1, {})
    with pytest.raises(UnknownEventType):
        upcast("PatientTeleported", 1, {})


@pytest.mark.parametrize("version", [4, 99])
def test_a_schema_version_from_the_future_raises_a_typed_error(version: int) -> None:
    with pytest.raises(UnsupportedSchemaVersion, match="newer"):
        decode_payload("RunStarted", version, {**run_started_v1(), "journey_version": 1})


def test_a_schema_version_below_one_is_unsupported() -> None:
    with pytest.raises(UnsupportedSchemaVersion):
        upcast("RunCompleted", 0, {"last_node_id": None})


def test_errors_share_one_base() -> None:
    assert issubclass(UnknownEventType, EventStoreError)
    assert issubclass(UnsupportedSchemaVersion, EventStoreError)
