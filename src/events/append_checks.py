"""The checks every append passes before anything is written: a malformed or oversized one is refused."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING
from uuid import UUID

from events.catalogue import EVENT_TYPES, NewEvent
from events.codec import decode_payload, encode_payload, schema_version, type_name
from events.errors import AppendRejected, InvalidEventPayload, UnknownEventType
from events.event_size import check_event_size

if TYPE_CHECKING:
    from events.store import AppendRequest


def validated_payloads(requests: Sequence[AppendRequest], max_event_bytes: int) -> tuple[str, ...]:
    """Refuse a malformed append (`AppendRejected`) before anything is written; the payloads, encoded.

    Any store (the in-memory one of the tests too) refuses exactly what this refuses.
    """
    seen_runs: set[UUID] = set()
    for request in requests:
        if request.run_id in seen_runs:
            raise AppendRejected(f"run {request.run_id} appears twice in one batch")
        seen_runs.add(request.run_id)
        _check_request(request)
    return tuple(
        _validated_payload(event, max_event_bytes) for request in requests for event in request.events
    )


def _check_request(request: AppendRequest) -> None:
    if request.expected_version < 0:
        raise AppendRejected(f"expected version must be >= 0, got {request.expected_version}")
    if not request.events:
        raise AppendRejected(f"nothing to append to run {request.run_id}")
    for offset, event in enumerate(request.events, start=1):
        if event.run_id != request.run_id:
            raise AppendRejected(
                f"event {event.event_id} belongs to run {event.run_id}, not {request.run_id}"
            )
        if event.version != request.expected_version + offset:
            raise AppendRejected(
                f"run {request.run_id}: versions must follow {request.expected_version} without gaps; "
                f"event {offset} has version {event.version}"
            )


def _validated_payload(event: NewEvent, max_event_bytes: int) -> str:
    """Re-validate the payload against its catalogue model (a hand-built or foreign object never lands),
    and refuse an event the relay could not publish."""
    payload = event.event
    known = EVENT_TYPES.get(getattr(payload, "type", ""))
    if known is None or type(payload) is not known:
        raise AppendRejected(f"{type(payload).__name__} is not an event type of the catalogue")
    try:
        encoded = encode_payload(payload)
        decode_payload(type_name(payload), schema_version(payload), encoded)
    except (InvalidEventPayload, UnknownEventType) as error:
        raise AppendRejected(str(error)) from error
    check_event_size(event, encoded, max_event_bytes)
    return encoded.decode()
