"""Upcasters: turn a stored payload of an old schema version into the current one, one step at a time."""

from collections.abc import Callable
from typing import Any

from events.catalogue import EVENT_TYPES
from events.errors import UnknownEventType, UnsupportedSchemaVersion

Payload = dict[str, Any]
Upcaster = Callable[[Payload], Payload]

# (type name, from schema version) -> function producing the payload of version + 1.
UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def upcaster(type_name: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register a function taking `type_name` payloads from `from_version` to `from_version + 1`."""

    def register(function: Upcaster) -> Upcaster:
        key = (type_name, from_version)
        if key in UPCASTERS:
            raise ValueError(f"An upcaster for {type_name} v{from_version} is already registered")
        UPCASTERS[key] = function
        return function

    return register


def current_schema_version(type_name: str) -> int:
    """The schema version this code writes for `type_name`."""
    event_class = EVENT_TYPES.get(type_name)
    if event_class is None:
        raise UnknownEventType(f"Unknown event type {type_name!r}")
    return event_class.SCHEMA_VERSION


def upcast(type_name: str, schema_version: int, data: Payload) -> Payload:
    """Apply upcasters from `schema_version` to the current version; the input dict is never mutated."""
    current = current_schema_version(type_name)
    if schema_version > current:
        raise UnsupportedSchemaVersion(
            f"{type_name} v{schema_version} is newer than this code knows (v{current}); upgrade the reader"
        )
    if schema_version < 1:
        raise UnsupportedSchemaVersion(f"{type_name} v{schema_version} is not a valid schema version")
    payload = dict(data)
    for version in range(schema_version, current):
        step = UPCASTERS.get((type_name, version))
        if step is None:
            raise UnsupportedSchemaVersion(f"No upcaster takes {type_name} from v{version} to v{version + 1}")
        payload = step(payload)
    return payload


@upcaster("RunStarted", 1)
def _run_started_v1_to_v2(data: Payload) -> Payload:
    """`journey_version` added as 1: the seed's journeys were unversioned, every run before ran version 1."""
    return {**data, "journey_version": 1}


@upcaster("RunStarted", 2)
def _run_started_v2_to_v3(data: Payload) -> Payload:
    """Unchanged: v3 seals `patient_context`, a v2 context stays a plain dict ("legacy clear").

    It is read as it is and cannot be crypto-shredded (erasure still scrubs the read models of its run).
    """
    return dict(data)


@upcaster("MessageRequested", 1)
def _message_requested_v1_to_v2(data: Payload) -> Payload:
    """`channel` "default", `language` and `failure` null; a v1 `message` is clear text ("legacy clear").

    v1 held the journey's text in clear, unrendered and in one language: kept as it is.
    """
    return {"channel": "default", **data, "language": None, "failure": None}


@upcaster("MessageDelivered", 1)
def _message_delivered_v1_to_v2(data: Payload) -> Payload:
    """`source` "send": before receipts every MessageDelivered meant the provider accepted the send."""
    return {**data, "source": "send"}


@upcaster("DelayStarted", 1)
def _delay_started_v1_to_v2(data: Payload) -> Payload:
    """`reason` null: before the patient's clock every delay was a plain duration_seconds."""
    return {**data, "reason": None}
