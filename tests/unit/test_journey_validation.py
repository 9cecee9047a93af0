"""Journey validation: every problem is reported, with a path and a plain-English message."""

import copy
import math
from typing import Any

import pytest

from domain.journey import ConditionalNode, DelayNode, JourneyDefinition, MessageNode
from domain.validation import Problem, validate_journey


def pre_op_journey() -> dict[str, Any]:
    """The seed's example: pre-op SMS, wait a day, fall-risk leaflet for the over-65s."""
    return {
        "name": "Hip replacement pre-op",
        "start_node_id": "welcome",
        "nodes": [
            {
                "id": "welcome",
                "type": "MESSAGE",
                "message": "Your surgery is booked.",
                "next_node_id": "wait",
            },
            {"id": "wait", "type": "DELAY", "duration_seconds": 86400, "next_node_id": "age_check"},
            {
                "id": "age_check",
                "type": "CONDITIONAL",
                "condition": {"field": "patient.age", "operator": ">", "value": 65},
                "on_true_next_node_id": "fall_risk",
                "on_false_next_node_id": "general",
            },
            {"id": "fall_risk", "type": "MESSAGE", "message": "Fall-risk leaflet.", "next_node_id": None},
            {"id": "general", "type": "MESSAGE", "message": "See you soon."},
        ],
    }


def reminder_loop_journey() -> dict[str, Any]:
    """A loop is fine when it passes through a DELAY node."""
    return {
        "name": "Weekly reminder until discharged",
        "start_node_id": "remind",
        "nodes": [
            {"id": "remind", "type": "MESSAGE", "message": "Take your medicine.", "next_node_id": "week"},
            {"id": "week", "type": "DELAY", "duration_seconds": 604800.0, "next_node_id": "still_admitted"},
            {
                "id": "still_admitted",
                "type": "CONDITIONAL",
                "condition": {"field": "condition", "operator": "in", "value": ["admitted", "recovering"]},
                "on_true_next_node_id": "remind",
            },
        ],
    }


def problems_of(raw: object) -> list[Problem]:
    result = validate_journey(raw)
    assert isinstance(result, list), "expected problems, got a valid journey"
    return result


def paths_of(raw: object) -> list[str]:
    return [problem.path for problem in problems_of(raw)]


def with_node(index: int, **changes: Any) -> dict[str, Any]:
    journey = pre_op_journey()
    journey["nodes"][index].update(changes)
    return journey


def test_seed_journeys_are_valid() -> None:
    for raw in (pre_op_journey(), reminder_loop_journey()):
        assert isinstance(validate_journey(raw), JourneyDefinition)


def test_valid_journey_is_parsed_into_typed_nodes() -> None:
    journey = validate_journey(pre_op_journey())
    assert isinstance(journey, JourneyDefinition)
    assert journey.start_node_id == "welcome"
    assert journey.node("welcome") == MessageNode("welcome", "Your surgery is booked.", "wait")
    assert journey.node("wait") == DelayNode("wait", 86400.0, "age_check")
    age_check = journey.node("age_check")
    assert isinstance(age_check, ConditionalNode)
    assert age_check.condition.operator == ">"
    assert journey.node("general") == MessageNode("general", "See you soon.", None)
    assert journey.node("nowhere") is None


def test_journey_round_trips_to_the_contract_shape() -> None:
    for raw in (pre_op_journey(), reminder_loop_journey()):
        journey = validate_journey(raw)
        assert isinstance(journey, JourneyDefinition)
        again = validate_journey(journey.to_json_dict())
        assert again == journey
        assert journey.to_json_dict()["nodes"][0]["type"] == "MESSAGE"
    loop = validate_journey(reminder_loop_journey())
    assert isinstance(loop, JourneyDefinition)
    assert loop.to_json_dict()["nodes"][2]["condition"]["value"] == ["admitted", "recovering"]


def test_validation_does_not_mutate_the_input() -> None:
    raw = reminder_loop_journey()
    before = copy.deepcopy(raw)
    validate_journey(raw)
    assert raw == before


@pytest.mark.parametrize("body", [None, [], "journey", 3])
def test_body_that_is_not_an_object_is_one_problem(body: object) -> None:
    [problem] = problems_of(body)
    assert problem.path == ""
    assert "JSON object" in problem.message


@pytest.mark.parametrize("name", [None, "", "   ", 7])
def test_name_must_be_a_non_empty_string(name: object) -> None:
    journey = pre_op_journey()
    journey["name"] = name
    assert paths_of(journey) == ["name"]


def test_missing_name_is_a_problem() -> None:
    journey = pre_op_journey()
    del journey["name"]
    assert paths_of(journey) == ["name"]


@pytest.mark.parametrize("nodes", [None, [], {"id": "a"}])
def test_nodes_must_be_a_non_empty_list(nodes: object) -> None:
    journey = pre_op_journey()
    journey["nodes"] = nodes
    assert "nodes" in paths_of(journey)


def test_missing_start_node_is_a_problem() -> None:
    journey = pre_op_journey()
    del journey["start_node_id"]
    assert paths_of(journey) == ["start_node_id"]


def test_start_node_must_be_among_the_nodes() -> None:
    journey = pre_op_journey()
    journey["start_node_id"] = "ghost"
    [problem] = problems_of(journey)
    assert problem.path == "start_node_id"
    assert "'ghost'" in problem.message


def test_duplicate_node_ids_are_reported_at_the_second_node() -> None:
    journey = pre_op_journey()
    journey["nodes"].append({"id": "welcome", "type": "MESSAGE", "message": "Twice", "next_node_id": None})
    [problem] = problems_of(journey)
    assert problem.path == "nodes[5].id"
    assert "nodes[0]" in problem.message


@pytest.mark.parametrize("node_id", [None, "", 12])
def test_node_needs_a_string_id(node_id: object) -> None:
    assert "nodes[4].id" in paths_of(with_node(4, id=node_id))


def test_node_that_is_not_an_object_is_a_problem() -> None:
    journey = pre_op_journey()
    journey["nodes"].append("oops")
    assert paths_of(journey) == ["nodes[5]"]


@pytest.mark.parametrize(
    ("index", "key"),
    [(0, "next_node_id"), (1, "next_node_id"), (2, "on_true_next_node_id"), (2, "on_false_next_node_id")],
)
def test_dangling_next_ids_are_reported(index: int, key: str) -> None:
    [problem] = problems_of(with_node(index, **{key: "ghost"}))
    assert problem.path == f"nodes[{index}].{key}"
    assert "'ghost'" in problem.message and "does not exist" in problem.message


def test_next_id_of_the_wrong_kind_is_a_problem() -> None:
    assert paths_of(with_node(0, next_node_id=5)) == ["nodes[0].next_node_id"]


@pytest.mark.parametrize("node_type", ["EMAIL", None, "message"])
def test_unknown_node_type_lists_the_valid_types(node_type: object) -> None:
    [problem] = problems_of(with_node(4, type=node_type))
    assert problem.path == "nodes[4].type"
    assert all(valid in problem.message for valid in ("MESSAGE", "DELAY", "CONDITIONAL"))


@pytest.mark.parametrize("message", [None, 3, ["hi"]])
def test_message_node_needs_a_string_message(message: object) -> None:
    assert paths_of(with_node(0, message=message)) == ["nodes[0].message"]


def test_message_node_without_message_key_is_a_problem() -> None:
    journey = pre_op_journey()
    del journey["nodes"][0]["message"]
    assert paths_of(journey) == ["nodes[0].message"]


@pytest.mark.parametrize("duration", [-1, -0.5, "60", True, False, None, math.nan, math.inf, 10**12])
def test_delay_needs_a_finite_non_negative_duration(duration: object) -> None:
    assert paths_of(with_node(1, duration_seconds=duration)) == ["nodes[1].duration_seconds"]


def test_delay_without_duration_is_a_problem() -> None:
    journey = pre_op_journey()
    del journey["nodes"][1]["duration_seconds"]
    assert paths_of(journey) == ["nodes[1].duration_seconds"]


def test_zero_second_delay_is_valid() -> None:
    assert isinstance(validate_journey(with_node(1, duration_seconds=0)), JourneyDefinition)


def test_conditional_without_condition_is_a_problem() -> None:
    journey = pre_op_journey()
    del journey["nodes"][2]["condition"]
    assert paths_of(journey) == ["nodes[2].condition"]


@pytest.mark.parametrize("condition", [None, "age > 65", ["age", ">", 65]])
def test_condition_must_be_an_object(condition: object) -> None:
    assert paths_of(with_node(2, condition=condition)) == ["nodes[2].condition"]


@pytest.mark.parametrize("field", [None, "", 3])
def test_condition_needs_a_field(field: object) -> None:
    condition = {"field": field, "operator": ">", "value": 65}
    assert paths_of(with_node(2, condition=condition)) == ["nodes[2].condition.field"]


def test_unknown_operator_lists_the_valid_ones() -> None:
    condition = {"field": "age", "operator": "~=", "value": 65}
    [problem] = problems_of(with_node(2, condition=condition))
    assert problem.path == "nodes[2].condition.operator"
    assert all(operator in problem.message for operator in (">=", "gte", "nin", "!="))


@pytest.mark.parametrize("operator", ["in", "nin"])
def test_membership_operators_need_a_list(operator: str) -> None:
    condition = {"field": "language", "operator": operator, "value": "en"}
    [problem] = problems_of(with_node(2, condition=condition))
    assert problem.path == "nodes[2].condition.value"
    assert "list" in problem.message


def test_ordering_operator_needs_a_number_or_string() -> None:
    condition = {"field": "age", "operator": ">=", "value": None}
    assert paths_of(with_node(2, condition=condition)) == ["nodes[2].condition.value"]


def test_conditional_branches_may_be_missing() -> None:
    journey = pre_op_journey()
    del journey["nodes"][2]["on_true_next_node_id"]
    journey["nodes"][2]["on_false_next_node_id"] = None
    assert isinstance(validate_journey(journey), JourneyDefinition)


def test_cycle_without_a_delay_names_its_nodes() -> None:
    journey = {
        "name": "Spinner",
        "start_node_id": "a",
        "nodes": [
            {"id": "a", "type": "MESSAGE", "message": "A", "next_node_id": "b"},
            {
                "id": "b",
                "type": "CONDITIONAL",
                "condition": {"field": "age", "operator": "<", "value": 200},
                "on_true_next_node_id": "a",
                "on_false_next_node_id": "done",
            },
            {"id": "done", "type": "DELAY", "duration_seconds": 1},
        ],
    }
    [problem] = problems_of(journey)
    assert problem.path == "nodes"
    assert "Nodes a, b form a loop" in problem.message
    assert "DELAY" in problem.message


def test_message_that_points_to_itself_is_a_cycle() -> None:
    journey = {
        "name": "Echo",
        "start_node_id": "echo",
        "nodes": [{"id": "echo", "type": "MESSAGE", "message": "again", "next_node_id": "echo"}],
    }
    [problem] = problems_of(journey)
    assert "Nodes echo form a loop" in problem.message


def test_body_with_several_problems_lists_them_all() -> None:
    journey = {
        "name": "",
        "start_node_id": "ghost",
        "nodes": [
            {"id": "a", "type": "MESSAGE", "message": 1, "next_node_id": "missing"},
            {"id": "a", "type": "DELAY", "duration_seconds": -5},
            {"id": "c", "type": "CONDITIONAL", "condition": {"field": "", "operator": "between"}},
            {"id": "d", "type": "TELEPORT"},
            {"type": "MESSAGE", "message": "no id"},
        ],
    }
    assert sorted(paths_of(journey)) == sorted(
        [
            "name",
            "start_node_id",
            "nodes[0].message",
            "nodes[0].next_node_id",
            "nodes[1].duration_seconds",
            "nodes[1].id",
            "nodes[2].condition.field",
            "nodes[2].condition.operator",
            "nodes[3].type",
            "nodes[4].id",
        ]
    )


def test_each_separate_loop_is_reported() -> None:
    nodes = [
        {"id": "a", "type": "MESSAGE", "message": "A", "next_node_id": "a"},
        {"id": "b", "type": "MESSAGE", "message": "B", "next_node_id": "c"},
        {"id": "c", "type": "MESSAGE", "message": "C", "next_node_id": "b"},
    ]
    assert paths_of({"name": "Loops", "start_node_id": "a", "nodes": nodes}) == ["nodes", "nodes"]


def test_a_long_journey_validates_without_recursion_limits() -> None:
    count = 5000
    nodes = [
        {
            "id": f"m{i}",
            "type": "MESSAGE",
            "message": "hi",
            "next_node_id": f"m{i + 1}" if i + 1 < count else None,
        }
        for i in range(count)
    ]
    journey = validate_journey({"name": "Long", "start_node_id": "m0", "nodes": nodes})
    assert isinstance(journey, JourneyDefinition) and len(journey.nodes) == count
