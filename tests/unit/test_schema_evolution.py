"""Schema evolution: today's catalogue reads every payload schema released (docs/schemas/), and the checker
catches a removed, retyped or newly required field, and a new version without an upcaster."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict

from events.catalogue import Sealed
from events.schema_evolution import (
    IncompatibleSchemas,
    current_schemas,
    evolution_problems,
    payload_schema,
    read_released,
    release,
    schema_changes,
    schema_text,
)

RELEASED = Path(__file__).resolve().parents[2] / "docs" / "schemas"


class Base(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["Reminded"] = "Reminded"


class Released(Base):
    """A payload as once released; the classes below are its possible successors."""

    node_id: str
    attempts: int
    note: str | None = None
    context: Sealed


class WithoutAttempts(Base):
    node_id: str
    note: str | None = None
    context: Sealed


class AttemptsAsText(WithoutAttempts):
    attempts: str


class NoteRequired(Base):
    node_id: str
    attempts: int
    note: str
    context: Sealed


class Widened(Base):
    node_id: str | None
    attempts: int | float | None
    note: str | None = None
    context: Sealed


class NewRequiredChannel(Released):
    channel: str


class NewOptionalChannel(Released):
    channel: str = "default"


RELEASED_SCHEMA = payload_schema(Released)


def test_the_catalogue_reads_every_released_schema() -> None:
    released = read_released(RELEASED)

    assert released, "docs/schemas holds no released schema: run `pjs asyncapi release-schemas`"
    assert evolution_problems(released, current_schemas()) == []


def test_every_catalogue_type_has_a_released_schema_of_some_version() -> None:
    released_types = {name for name, _ in read_released(RELEASED)}

    assert {name for name, _ in current_schemas()} <= released_types


def test_an_unchanged_schema_has_no_changes() -> None:
    assert schema_changes(RELEASED_SCHEMA, payload_schema(Released)) == []


def test_a_removed_field_is_caught() -> None:
    assert schema_changes(RELEASED_SCHEMA, payload_schema(WithoutAttempts)) == ["attempts: removed"]


def test_a_retyped_field_is_caught() -> None:
    changes = schema_changes(RELEASED_SCHEMA, payload_schema(AttemptsAsText))

    assert changes == ["attempts: retyped from type:integer to type:string"]


def test_a_narrowed_field_is_caught_and_a_widened_one_is_not() -> None:
    narrowed = schema_changes(RELEASED_SCHEMA, payload_schema(NoteRequired))
    widened = schema_changes(RELEASED_SCHEMA, payload_schema(Widened))

    assert narrowed == ["note: retyped from type:null | type:string to type:string"]
    assert widened == []


def test_a_new_required_field_is_caught() -> None:
    changes = schema_changes(RELEASED_SCHEMA, payload_schema(NewRequiredChannel))

    assert changes == ["channel: added as required"]


def test_a_new_optional_field_is_allowed() -> None:
    assert schema_changes(RELEASED_SCHEMA, payload_schema(NewOptionalChannel)) == []


def test_a_change_inside_a_referenced_model_is_caught() -> None:
    class Sealed(BaseModel):  # the same name: the model the field refers to changed, not the reference
        model_config = ConfigDict(extra="forbid")
        key_id: int
        ciphertext: str

    class ContextResealed(WithoutAttempts):
        attempts: int
        context: Sealed

    changes = schema_changes(RELEASED_SCHEMA, payload_schema(ContextResealed))

    assert changes == ["Sealed.key_id: retyped from type:string:uuid to type:integer"]


def test_a_new_version_needs_an_upcaster_from_every_released_one() -> None:
    released = {("Reminded", 1): RELEASED_SCHEMA}
    v3 = {("Reminded", 3): payload_schema(AttemptsAsText)}

    without = evolution_problems(released, v3, upcasters=[("Reminded", 1)])
    with_both = evolution_problems(released, v3, upcasters=[("Reminded", 1), ("Reminded", 2)])

    assert without == ["Reminded: v3 is new, but no upcaster takes v2 to v3"]
    assert with_both == []


def test_a_type_gone_from_the_catalogue_or_an_older_version_written_is_caught() -> None:
    released = {("Reminded", 2): RELEASED_SCHEMA}

    assert evolution_problems(released, {}) == [
        "Reminded: released, but no longer in the catalogue (stored events would not decode)"
    ]
    assert evolution_problems(released, {("Reminded", 1): RELEASED_SCHEMA}) == [
        "Reminded: v2 was released, but this code writes v1"
    ]


def test_release_stores_todays_schemas_and_refuses_a_breaking_change(tmp_path: Path) -> None:
    first = release(tmp_path)
    again = release(tmp_path)
    stored = tmp_path / "DelayStarted.v2.json"
    with_a_field_since_dropped = json.loads(stored.read_text())
    with_a_field_since_dropped["properties"]["gone"] = {"type": "string"}
    stored.write_text(schema_text(with_a_field_since_dropped))

    with pytest.raises(IncompatibleSchemas) as refused:
        release(tmp_path)

    assert sorted(first) == sorted(f"{name}.v{version}.json" for name, version in current_schemas())
    assert again == []
    assert refused.value.problems == ["DelayStarted.v2.gone: removed"]


CATALOGUE_FIELDS = [
    (key, field) for key, schema in sorted(current_schemas().items()) for field in schema["properties"]
]


@pytest.mark.parametrize(("key", "field"), CATALOGUE_FIELDS, ids=lambda part: str(part))
def test_dropping_or_requiring_any_catalogue_field_is_caught(key: tuple[str, int], field: str) -> None:
    schema = current_schemas()[key]
    dropped = {**schema, "properties": {k: v for k, v in schema["properties"].items() if k != field}}
    required = {**schema, "required": sorted({*schema["required"], field})}

    assert schema_changes(schema, dropped) == [f"{field}: removed"]
    if field not in schema["required"]:
        assert schema_changes(schema, required) == [f"{field}: was optional, now required"]
