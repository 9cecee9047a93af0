"""One made-up run event per type for the AsyncAPI document: no real patient, sealed fields hold dummy bytes.

Each example is a catalogue model (so it is valid by construction) in a recorded envelope, turned into a
Kafka record by the relay's own `to_kafka_record`: its headers are exactly the ones the relay writes.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import orjson

from events.catalogue import (
    ConditionEvaluated,
    DelayElapsed,
    DelayStarted,
    MessageBounced,
    MessageDelivered,
    MessageFailed,
    MessageRequested,
    PatientErased,
    RecordedEvent,
    RunCancelled,
    RunCompleted,
    RunEvent,
    RunFailed,
    RunStarted,
    Sealed,
    event_id_for,
)
from events.envelope import to_kafka_record

EXAMPLE_RUN_ID = UUID("3f2a6c1e-7b4d-4e8a-9c15-2d6e8f0a1b3c")
EXAMPLE_TENANT_ID = UUID("8d1e4b7a-2c5f-4a9e-b3d6-0f7c1e2a5b9d")
_TRIGGER_ID = UUID("c4b8e2f1-9a3d-4c7e-8f16-5b2a0d9e3c71")
_JOURNEY_ID = UUID("1a7e5c3b-4d2f-4b8a-a6e9-7c0d3f1b2e54")
_KEY_ID = UUID("e6d2a9c4-1f8b-4e3a-b7c5-9a0f2d4e6b18")
_RECORDED_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
_RESUME_AT = _RECORDED_AT + timedelta(days=2)


def _dummy_ciphertext(purpose: str) -> Sealed:
    """Not a real encryption: base64 of bytes shaped like nonce + ciphertext + tag, naming no patient."""
    return Sealed(key_id=_KEY_ID, ciphertext=base64.b64encode(purpose.encode().ljust(44, b"\0")).decode())


EXAMPLE_EVENTS: dict[str, RunEvent] = {
    event.type: event
    for event in (
        RunStarted(
            journey_id=_JOURNEY_ID,
            journey_version=3,
            start_node_id="welcome",
            patient_context=_dummy_ciphertext("patient_context"),
        ),
        MessageRequested(
            node_id="welcome", message=_dummy_ciphertext("message"), channel="sms", language="en"
        ),
        MessageDelivered(node_id="welcome", provider_message_id="msg-0001", attempts=1, source="send"),
        MessageFailed(node_id="welcome", reason="provider refused the recipient", attempts=5),
        MessageBounced(node_id="welcome", provider_message_id="msg-0001", reason="mailbox full"),
        DelayStarted(node_id="wait-2-days", duration_seconds=172800.0, resume_at=_RESUME_AT, reason=None),
        DelayElapsed(node_id="wait-2-days", resume_at=_RESUME_AT, fired_at=_RESUME_AT + timedelta(seconds=1)),
        ConditionEvaluated(
            node_id="is-senior", field="age", operator="gte", result=True, next_node_id="senior-advice"
        ),
        RunCompleted(last_node_id="goodbye"),
        RunFailed(node_id="reminder", reason="the journey has no node 'reminder'"),
        RunCancelled(node_id="wait-2-days", reason="appointment cancelled"),
        PatientErased(key_id=_KEY_ID),
    )
}


def example_record(type_name: str) -> tuple[str, dict[str, str], dict[str, Any]]:
    """(key, headers, payload) of the example record of `type_name`, as the relay would publish it."""
    version = 1 + list(EXAMPLE_EVENTS).index(type_name)
    recorded = RecordedEvent(
        event_id=event_id_for(EXAMPLE_RUN_ID, version),
        run_id=EXAMPLE_RUN_ID,
        version=version,
        recorded_at=_RECORDED_AT + timedelta(minutes=version),
        causation_id=None if version == 1 else event_id_for(EXAMPLE_RUN_ID, version - 1),
        correlation_id=_TRIGGER_ID,
        event=EXAMPLE_EVENTS[type_name],
        position=41_000 + version,
        tenant_id=EXAMPLE_TENANT_ID,
    )
    record = to_kafka_record(recorded)
    headers = {name: value.decode() for name, value in record.headers}
    return record.key.decode(), headers, orjson.loads(record.value)
