"""Whatever JSON value stands in any field of a journey, a node or a condition, validation answers with the
journey or its problems (a 400 naming the field), never with an exception (a 500)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.journey import JourneyDefinition
from domain.validation import Problem, validate_journey, validate_stored_journey

Path = tuple[str | int, ...]


def every_kind_of_field() -> dict[str, Any]:
    """A valid journey with each node type and each optional field set."""
    return {
        "name": "Every field",
        "timezone": "Europe/Madrid",
        "quiet_hours": {"start": "21:00", "end": "08:00"},
        "start_node_id": "m",
        "nodes": [
            {
                "id": "m", "type": "MESSAGE", "message": "Hi {{ patient.first_name | default('') }}",
                "translations": {"es": "Hola"}, "channel": "sms", "next_node_id": "c",
            },
            {
                "id": "c", "type": "CONDITIONAL", "condition": {"field": "age", "operator": ">", "value": 65},
                "on_true_next_node_id": "d1", "on_false_next_node_id": "in",
            },
            {
                "id": "in", "type": "CONDITIONAL",
                "condition": {"field": "a.b", "operator": "in", "value": [1]},
                "on_true_next_node_id": "d2", "on_false_next_node_id": "d3",
            },
            {"id": "d1", "type": "DELAY", "duration_seconds": 60, "next_node_id": "d3"},
            {"id": "d2", "type": "DELAY", "until_local_time": "09:00", "next_node_id": "d3"},
            {
                "id": "d3", "type": "DELAY", "until_field": "patient.appt", "offset_seconds": -86400,
                "at_local_time": "09:00", "next_node_id": None,
            },
        ],
    }  # fmt: skip


def paths(value: Any, at: Path = ()) -> Iterator[Path]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from paths(inner, (*at, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from paths(inner, (*at, index))
    if at:
        yield at


PATHS = sorted(set(paths(every_kind_of_field())), key=str)
text = st.text(st.characters(exclude_categories=["Cs"]), max_size=8)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)


def replaced(path: Path, value: Any) -> dict[str, Any]:
    journey = copy.deepcopy(every_kind_of_field())
    holder: Any = journey
    for step in path[:-1]:
        holder = holder[step]
    holder[path[-1]] = value
    return journey


def test_the_journey_with_every_field_is_valid() -> None:
    assert isinstance(validate_journey(every_kind_of_field()), JourneyDefinition)


@pytest.mark.parametrize("path", PATHS, ids=lambda path: ".".join(map(str, path)))
@settings(max_examples=30)  # per field: 64 fields
@given(value=json_values)
def test_any_json_value_in_any_field_gives_the_journey_or_its_problems_never_an_exception(
    path: Path, value: Any
) -> None:
    journey = replaced(path, value)

    for answer in (validate_journey(journey), validate_stored_journey(journey)):
        assert isinstance(answer, JourneyDefinition) or (
            answer and all(isinstance(problem, Problem) for problem in answer)
        )


@pytest.mark.parametrize("field", ["field", "operator", "value"])
@pytest.mark.parametrize("value", [{"op": ">"}, [">"], [[]], {}, None, True])
def test_a_condition_field_holding_an_object_or_a_list_is_a_problem_naming_that_field(
    field: str, value: Any
) -> None:
    journey = replaced(("nodes", 1, "condition", field), value)

    problems = validate_journey(journey)

    assert isinstance(problems, list)
    assert f"nodes[1].condition.{field}" in [problem.path for problem in problems]
