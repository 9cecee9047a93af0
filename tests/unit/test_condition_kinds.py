"""A condition and the patient's value must be of one kind: a trigger whose field the journey compares with
a number but which holds text is refused, saying which field and why, instead of silently taking the false
branch; and a journey comparing a field with a number written as text is refused at save."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from domain.conditions import evaluate
from domain.context_fit import context_fit
from domain.journey import Condition, ConditionalNode, JourneyDefinition, MessageNode
from domain.validation import Problem, validate_journey, validate_stored_journey


def branching_on(*conditions: Condition) -> JourneyDefinition:
    nodes: list[ConditionalNode | MessageNode] = [
        ConditionalNode(id=f"check-{index}", condition=condition, on_true_next_node_id="leaflet")
        for index, condition in enumerate(conditions)
    ]
    return JourneyDefinition(
        name="Fall risk", start_node_id="check-0", nodes=(*nodes, MessageNode(id="leaflet", message="Hi"))
    )


NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
OBESE = branching_on(Condition("bmi", "gt", 30))


def test_a_bmi_sent_as_text_to_a_journey_comparing_it_with_a_number_is_refused_without_its_value() -> None:
    [problem] = context_fit(OBESE).problems({"id": "p-1", "bmi": "31.5"}, NOW)

    assert problem.path == "bmi"
    assert "with a number" in problem.message and "not a string" in problem.message
    assert "check-0" in problem.message
    assert "31.5" not in problem.message


def test_a_bmi_sent_as_a_number_passes() -> None:
    assert context_fit(OBESE).problems({"id": "p-1", "bmi": 31.5}, NOW) == []


def test_a_missing_or_null_field_still_takes_the_false_branch_as_documented() -> None:
    assert context_fit(OBESE).problems({"id": "p-1"}, NOW) == []
    assert context_fit(OBESE).problems({"id": "p-1", "bmi": None}, NOW) == []


def test_a_field_written_with_the_patient_prefix_is_checked_and_named_without_it() -> None:
    journey = branching_on(Condition("patient.bmi", ">=", 30))

    assert [p.path for p in context_fit(journey).problems({"bmi": True}, NOW)] == ["bmi"]


def test_a_nested_field_is_checked_at_its_path() -> None:
    journey = branching_on(Condition("labs.hba1c", "lt", 7.5))

    assert [p.path for p in context_fit(journey).problems({"labs": {"hba1c": "6.1"}}, NOW)] == ["labs.hba1c"]
    assert context_fit(journey).problems({"labs": {"hba1c": 6.1}}, NOW) == []


def test_a_membership_list_of_texts_takes_text_and_a_mixed_list_takes_either_kind() -> None:
    languages = branching_on(Condition("language", "in", ("en", "fr")))
    codes = branching_on(Condition("code", "nin", (1, "A", None)))

    assert [p.path for p in context_fit(languages).problems({"language": 5}, NOW)] == ["language"]
    fit = context_fit(codes)
    assert fit.problems({"code": 1}, NOW) == fit.problems({"code": "B"}, NOW) == []
    assert [p.path for p in context_fit(codes).problems({"code": [1]}, NOW)] == ["code"]


def test_a_yes_or_no_field_compared_with_true_refuses_the_text_yes() -> None:
    consented = branching_on(Condition("consented", "eq", True))

    [problem] = context_fit(consented).problems({"consented": "yes"}, NOW)
    assert "with a boolean" in problem.message


def test_two_conditions_comparing_one_field_with_different_kinds_accept_either() -> None:
    journey = branching_on(Condition("stage", "gte", 2), Condition("stage", "eq", "unknown"))

    assert (
        context_fit(journey).problems({"stage": 3}, NOW)
        == context_fit(journey).problems({"stage": "unknown"}, NOW)
        == []
    )
    [problem] = context_fit(journey).problems({"stage": False}, NOW)
    assert "a number or a string" in problem.message and "check-0, check-1" in problem.message


JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5)
ASSERTING = ("eq", "gt", "gte", "lt", "lte", "in")


@given(
    operator=st.sampled_from(ASSERTING),
    value=JSON_SCALARS.filter(lambda v: v is not None),
    items=st.lists(JSON_SCALARS, min_size=1, max_size=3),
    actual=JSON_SCALARS | st.lists(st.integers(), max_size=2),
)
def test_a_trigger_is_refused_only_when_its_value_could_never_make_the_condition_true(
    operator: str, value: Any, items: list[Any], actual: Any
) -> None:
    condition = Condition("field", operator, tuple(items) if operator == "in" else value)
    refused = context_fit(branching_on(condition)).problems({"field": actual}, NOW) != []

    if refused:
        assert evaluate(condition, {"field": actual}) is False


def posted(condition: dict[str, Any]) -> JourneyDefinition | list[Problem]:
    return validate_journey(
        {
            "name": "Fall risk",
            "start_node_id": "check",
            "nodes": [
                {"id": "check", "type": "CONDITIONAL", "condition": condition, "on_true_next_node_id": "hi"},
                {"id": "hi", "type": "MESSAGE", "message": "Hi"},
            ],
        }
    )


def test_a_journey_ordering_a_field_against_a_number_in_quotes_is_refused_at_save() -> None:
    [problem] = posted({"field": "bmi", "operator": ">", "value": "30"})

    assert isinstance(problem, Problem)
    assert problem.path == "nodes[0].condition.value"
    assert "without quotes" in problem.message


def test_text_that_is_not_a_number_and_equality_with_quoted_digits_are_still_allowed() -> None:
    for condition in (
        {"field": "surgery_date", "operator": ">=", "value": "2026-01-01"},
        {"field": "ward", "operator": "<", "value": "007"},
        {"field": "code", "operator": "eq", "value": "65"},
    ):
        assert isinstance(posted(condition), JourneyDefinition), condition


def test_a_journey_stored_before_the_rule_still_loads() -> None:
    stored = {
        "name": "Fall risk",
        "start_node_id": "check",
        "nodes": [
            {
                "id": "check",
                "type": "CONDITIONAL",
                "condition": {"field": "age", "operator": ">", "value": "65"},
                "on_true_next_node_id": None,
            }
        ],
    }

    assert isinstance(validate_stored_journey(stored), JourneyDefinition)
