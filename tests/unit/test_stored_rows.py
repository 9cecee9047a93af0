"""A RecordedEvent built from already-checked values (appends, replays) is the one validation would make."""

from __future__ import annotations

import uuid

import pydantic
import pytest

from events.catalogue import RecordedEvent
from events.stored_rows import recorded_event_from_fields
from support.runs import envelopes, message, run_started


def _fields(event: object) -> dict[str, object]:
    [new] = envelopes(uuid.uuid4(), 0, [event])  # type: ignore[list-item]
    return {**new.__dict__, "position": 42, "tenant_id": uuid.uuid4()}


@pytest.mark.parametrize("event", [run_started(), message()], ids=["run started", "message requested"])
def test_an_event_built_from_checked_fields_equals_the_validated_one(event: object) -> None:
    fields = _fields(event)
    built = recorded_event_from_fields(dict(fields))
    validated = RecordedEvent(**fields)  # type: ignore[arg-type]

    assert built == validated
    assert built.model_dump() == validated.model_dump()
    assert built.model_fields_set == validated.model_fields_set
    assert built.model_dump_json() == validated.model_dump_json()


def test_an_event_built_from_checked_fields_is_frozen_like_any_other() -> None:
    built = recorded_event_from_fields(_fields(run_started()))
    with pytest.raises(pydantic.ValidationError):
        built.position = 7  # type: ignore[misc]
