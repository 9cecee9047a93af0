"""The subscriber example knows today's schema versions and reads older ones as the service's upcasters do."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from events.asyncapi_examples import example_record
from events.catalogue import EVENT_TYPES
from events.codec import payload_dict
from events.upcasting import UPCASTERS, upcast

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "subscriber.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("subscriber_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


subscriber = load_example()


def test_the_example_knows_every_types_current_version() -> None:
    assert {name: subscriber.KNOWN_VERSIONS.get(name, 1) for name in EVENT_TYPES} == {
        name: event_class.SCHEMA_VERSION for name, event_class in EVENT_TYPES.items()
    }


@pytest.mark.parametrize(("type_name", "from_version"), sorted(UPCASTERS))
def test_the_example_upcasts_an_older_payload_as_the_service_does(type_name: str, from_version: int) -> None:
    _, headers, current = example_record(type_name)
    # An older payload: today's without the fields the versions after `from_version` added.
    added = {
        field
        for (name, version), fields in subscriber.FILLED_IN.items()
        if name == type_name and version >= from_version
        for field in fields
    }
    older: dict[str, Any] = {field: value for field, value in current.items() if field not in added}
    event = subscriber.RunEvent(
        event_id=headers["ce_id"],
        run_id=headers["ce_subject"],
        stream_version=1,
        type=type_name,
        schema_version=from_version,
        tenant_id=headers["ce_pjstenantid"],
        recorded_at=headers["ce_time"],
        data=older,
    )

    read = subscriber.upcast(event)

    assert read.schema_version == EVENT_TYPES[type_name].SCHEMA_VERSION
    assert read.data == upcast(type_name, from_version, older)
    assert payload_dict(EVENT_TYPES[type_name].model_validate(read.data)).keys() == read.data.keys()
