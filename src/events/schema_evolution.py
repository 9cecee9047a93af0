"""Event payload schemas as released, and whether today's catalogue still reads what was released.

Each released (type, version) keeps a copy of its payload's JSON Schema (docs/schemas/<Type>.v<N>.json).
Within one version a schema may only grow: fields added optional, none removed, retyped or newly required.
A new version may change anything, but only with an upcaster from every released version before it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from events.catalogue import EVENT_TYPES, RunEventClass
from events.upcasting import UPCASTERS

Schema = dict[str, Any]
SchemaKey = tuple[str, int]
"""(event type name, schema version)."""

_FILE_NAME = re.compile(r"^([A-Za-z]+)\.v([1-9][0-9]*)\.json$")


def payload_schema(event_class: RunEventClass) -> Schema:
    """The JSON Schema of a type's payload as it travels: its fields without the `type` tag (the codec's)."""
    schema = event_class.model_json_schema(mode="validation")
    schema["properties"].pop("type", None)
    schema["required"] = [name for name in schema.get("required", []) if name != "type"]
    return schema


def current_schemas() -> dict[SchemaKey, Schema]:
    """Every catalogue type's payload schema at the version this code writes."""
    return {(name, cls.SCHEMA_VERSION): payload_schema(cls) for name, cls in EVENT_TYPES.items()}


def schema_file_name(key: SchemaKey) -> str:
    return f"{key[0]}.v{key[1]}.json"


def read_released(directory: Path) -> dict[SchemaKey, Schema]:
    """The released schemas stored in `directory` (none if it does not exist)."""
    released: dict[SchemaKey, Schema] = {}
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        match = _FILE_NAME.match(path.name)
        if match:
            released[(match[1], int(match[2]))] = json.loads(path.read_text())
    return released


def schema_text(schema: Schema) -> str:
    """A schema as stored: stable key order, so a diff shows only what changed."""
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def release(directory: Path) -> list[str]:
    """Store today's schemas as released, after checking they read what was released before.

    Returns the files written or changed; raises `IncompatibleSchemas` (nothing written) on any problem.
    """
    current = current_schemas()
    problems = evolution_problems(read_released(directory), current)
    if problems:
        raise IncompatibleSchemas(problems)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for key, schema in sorted(current.items()):
        path = directory / schema_file_name(key)
        if not path.exists() or path.read_text() != schema_text(schema):
            path.write_text(schema_text(schema))
            written.append(path.name)
    return written


class IncompatibleSchemas(Exception):
    """Today's catalogue cannot read what was released; each problem is one line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def evolution_problems(
    released: Mapping[SchemaKey, Schema],
    current: Mapping[SchemaKey, Schema],
    upcasters: Collection[SchemaKey] = UPCASTERS.keys(),
) -> list[str]:
    """Why `current` cannot read what `released` holds: one line per problem; empty when it can.

    `upcasters` holds (type, from version) for each registered upcaster to the next version.
    """
    writes = dict(current)
    versions = {name: version for name, version in current}
    problems: list[str] = []
    for name in sorted({name for name, _ in released}):
        latest = max(version for type_name, version in released if type_name == name)
        version = versions.get(name)
        if version is None:
            problems.append(
                f"{name}: released, but no longer in the catalogue (stored events would not decode)"
            )
        elif latest > version:
            problems.append(f"{name}: v{latest} was released, but this code writes v{version}")
        elif (name, version) in released:
            where = f"{name}.v{version}"
            problems += [
                f"{where}.{change}"
                for change in schema_changes(released[name, version], writes[name, version])
            ]
        else:
            problems += [
                f"{name}: v{version} is new, but no upcaster takes v{step} to v{step + 1}"
                for step in range(latest, version)
                if (name, step) not in upcasters
            ]
    return problems


def schema_changes(old: Schema, new: Schema) -> list[str]:
    """What in `new` breaks a reader of payloads valid under `old`: `field: why` per change."""
    old_fields, new_fields = old.get("properties", {}), new.get("properties", {})
    old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
    changes = []
    for field, old_field in old_fields.items():
        if field not in new_fields:
            changes.append(f"{field}: removed")
        elif not all(_covered(kind, _alternatives(new_fields[field])) for kind in _alternatives(old_field)):
            changes.append(f"{field}: retyped from {_shown(old_field)} to {_shown(new_fields[field])}")
        elif field in new_required and field not in old_required:
            changes.append(f"{field}: was optional, now required")
    changes += [
        f"{field}: added as required" for field in (new_fields.keys() - old_fields.keys()) & new_required
    ]
    for name, old_definition in old.get("$defs", {}).items():
        new_definition = new.get("$defs", {}).get(name)
        if new_definition is not None:  # a field no longer referring to it is already reported retyped
            changes += [f"{name}.{change}" for change in schema_changes(old_definition, new_definition)]
    return sorted(changes)


Alternative = tuple[str, ...]


def _alternatives(field: Schema) -> set[Alternative]:
    """The kinds of value a field accepts: JSON types (with format), referenced models, literal values."""
    members: list[Schema] = field.get("anyOf") or field.get("oneOf") or []
    if members:
        return {kind for member in members for kind in _alternatives(member)}
    if "$ref" in field:
        return {("ref", field["$ref"].rpartition("/")[2])}
    if "const" in field or "enum" in field:
        return {("value", json.dumps(value)) for value in field.get("enum", [field.get("const")])}
    types = field.get("type", "any")
    items = json.dumps(field.get("items", {}), sort_keys=True)
    return {
        ("type", kind, str(field.get("format", "")), items if kind == "array" else "")
        for kind in (types if isinstance(types, list) else [types])
    }


def _covered(old: Alternative, new: set[Alternative]) -> bool:
    """Whether a value of kind `old` is still accepted by `new` (which may be wider: a number takes an
    integer, an unformatted string any string, a string type any string literal)."""
    if old in new or ("type", "any", "", "") in new:
        return True
    if old[0] == "value":
        value = json.loads(old[1])
        kinds = {str: "string", bool: "boolean", int: "integer", float: "number", type(None): "null"}
        kind = kinds.get(type(value), "object")
        return ("type", kind, "", "") in new or (kind == "integer" and ("type", "number", "", "") in new)
    if old[0] == "type" and old[1] == "integer" and ("type", "number", old[2], "") in new:
        return True
    return old[0] == "type" and bool(old[2]) and ("type", old[1], "", old[3]) in new


def _shown(field: Schema) -> str:
    return " | ".join(sorted(":".join(part for part in kind if part) for kind in _alternatives(field)))
