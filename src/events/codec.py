"""The one place run events become bytes and back (orjson).

A payload is the event's fields *without* the `type` tag: the type name and schema version travel beside it
(the store's columns, the CloudEvents `ce_type` header). On decode a `type` key is tolerated if it agrees.
Datetimes are ISO-8601 UTC strings and UUIDs are strings.
"""

from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from events.catalogue import EVENT_TYPES, RunEvent
from events.errors import InvalidEventPayload, UnknownEventType
from events.upcasting import upcast

_run_event_adapter: TypeAdapter[RunEvent] = TypeAdapter(RunEvent)


def type_name(event: RunEvent) -> str:
    """The stored type name of an event, e.g. "DelayStarted"."""
    return event.type


def schema_version(event: RunEvent) -> int:
    """The schema version this code writes for the event's type."""
    return event.SCHEMA_VERSION


def payload_dict(event: RunEvent) -> dict[str, Any]:
    """The event's payload as a JSON-ready dict (for a jsonb column), without the `type` tag."""
    return event.model_dump(mode="json", exclude={"type"})


def encode_payload(event: RunEvent) -> bytes:
    """The event's payload as JSON bytes, without the `type` tag."""
    try:
        return orjson.dumps(payload_dict(event))
    except orjson.JSONEncodeError as error:
        raise InvalidEventPayload(f"{event.type} cannot be encoded as JSON: {error}") from error


def decode_payload(type_name: str, schema_version: int, data: bytes | str | dict[str, Any]) -> RunEvent:
    """Upcast a stored or consumed payload to the current schema and validate it into its event model.

    A payload of the current schema version is validated straight into the class its type names: no
    upcasting, no copy of the dict to add the type tag, no dispatch through the union (every consumer and
    every replay decodes each event). Anything else, an old version or a payload that does not validate,
    takes the general path, which upcasts it or says exactly what is wrong.
    """
    event_class = EVENT_TYPES.get(type_name)
    if event_class is None or schema_version != event_class.SCHEMA_VERSION:
        return _upcast_and_validate(type_name, schema_version, data)
    try:
        # orjson, not pydantic's JSON parser, so numbers read as they always have (jsonb prints a float
        # beyond 64 bits as an integer: orjson reads it back as a float, pydantic's parser as an int).
        # The class's own validator, not `model_validate`, whose wrapper costs half as much again.
        raw = data if isinstance(data, dict) else orjson.loads(data)
        event: RunEvent = event_class.__pydantic_validator__.validate_python(raw)
    except (orjson.JSONDecodeError, ValidationError):
        return _upcast_and_validate(type_name, schema_version, data)
    return event


def _upcast_and_validate(type_name: str, schema_version: int, data: bytes | str | dict[str, Any]) -> RunEvent:
    if type_name not in EVENT_TYPES:
        raise UnknownEventType(f"Unknown event type {type_name!r}")
    raw = _load(type_name, data)
    tag = raw.pop("type", type_name)
    if tag != type_name:
        raise InvalidEventPayload(f"Payload says it is a {tag!r} but was stored as {type_name!r}")
    current = upcast(type_name, schema_version, raw)
    try:
        return _run_event_adapter.validate_python({**current, "type": type_name})
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in detail['loc'][1:]) or '(payload)'}: {detail['msg']}"
            for detail in error.errors()
        )
        raise InvalidEventPayload(f"Invalid {type_name} v{schema_version} payload: {problems}") from error


def _load(type_name: str, data: bytes | str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(data, dict):
        return dict(data)
    try:
        loaded = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise InvalidEventPayload(f"{type_name} payload is not valid JSON: {error}") from error
    if not isinstance(loaded, dict):
        raise InvalidEventPayload(f"{type_name} payload must be a JSON object, got {type(loaded).__name__}")
    return loaded
