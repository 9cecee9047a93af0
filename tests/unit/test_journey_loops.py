"""The loop rule: every way round a journey's loop must pass a DELAY of at least the minimum."""

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from test_decider import delay, message, over_65

from domain.journey import JourneyDefinition
from domain.validation import Problem, validate_journey


def raw(start: str, *nodes: dict[str, Any]) -> dict[str, Any]:
    return {"name": "Loops", "start_node_id": start, "nodes": list(nodes)}


def loop_problems(journey: dict[str, Any], min_loop_delay_seconds: float = 60) -> list[Problem]:
    result = validate_journey(journey, min_loop_delay_seconds=min_loop_delay_seconds)
    assert isinstance(result, list), "expected the loop to be refused"
    return result


def test_the_message_delay_0_message_loop_is_refused_naming_the_loop_and_the_minimum() -> None:
    journey = raw("ping", message("ping", "pause"), delay("pause", 0, "pong"), message("pong", "ping"))

    [problem] = loop_problems(journey)

    assert problem.path == "nodes"
    assert problem.message.startswith("Nodes ping, pause, pong form a loop")
    assert "a DELAY of at least 60 seconds" in problem.message


def test_a_loop_through_a_delay_of_exactly_the_minimum_is_accepted() -> None:
    journey = raw("ping", message("ping", "pause"), delay("pause", 60, "ping"))

    assert isinstance(validate_journey(journey, min_loop_delay_seconds=60), JourneyDefinition)


def test_a_short_delay_outside_any_loop_is_fine() -> None:
    journey = raw("soon", delay("soon", 0, "hello"), message("hello"))

    assert isinstance(validate_journey(journey, min_loop_delay_seconds=60), JourneyDefinition)


def test_a_branch_that_goes_round_without_the_delay_is_refused() -> None:
    journey = raw(
        "check",
        over_65("check", "wait", "nudge"),
        delay("wait", 86400, "check"),
        message("nudge", "check"),
    )

    [problem] = loop_problems(journey)

    assert problem.message.startswith("Nodes check, nudge form a loop")


def test_with_no_minimum_any_delay_node_breaks_a_loop() -> None:
    journey = raw("ping", message("ping", "pause"), delay("pause", 0, "ping"))

    assert isinstance(validate_journey(journey, min_loop_delay_seconds=0), JourneyDefinition)
    [problem] = loop_problems(raw("echo", message("echo", "echo")), min_loop_delay_seconds=0)
    assert "without a DELAY node" in problem.message


@st.composite
def loopy_journeys(draw: st.DrawFn) -> dict[str, Any]:
    """Random graphs of well-formed nodes whose pointers may go anywhere, delays short or long."""
    ids = [f"n{i}" for i in range(draw(st.integers(1, 7)))]
    pointer = st.one_of(st.none(), st.sampled_from(ids))
    nodes: list[dict[str, Any]] = []
    for node_id in ids:
        kind = draw(st.sampled_from(["MESSAGE", "DELAY", "CONDITIONAL"]))
        if kind == "MESSAGE":
            nodes.append(message(node_id, draw(pointer)))
        elif kind == "DELAY":
            nodes.append(delay(node_id, draw(st.sampled_from([0, 30, 59.9, 60, 3600])), draw(pointer)))
        else:
            nodes.append(over_65(node_id, draw(pointer), draw(pointer)))
    return raw(ids[0], *nodes)


def on_a_loop_without_a_long_delay(journey: dict[str, Any], min_delay: float) -> set[str]:
    """Brute force: the nodes from which a walk through short-or-no-wait nodes only comes back to them."""
    waits = {node["id"] for node in journey["nodes"] if node.get("duration_seconds", -1) >= min_delay}
    edges = {
        node["id"]: [
            target
            for key in ("next_node_id", "on_true_next_node_id", "on_false_next_node_id")
            if (target := node.get(key)) is not None and target not in waits
        ]
        for node in journey["nodes"]
        if node["id"] not in waits
    }
    looping = set()
    for origin in edges:
        seen, frontier = set(), list(edges[origin])
        while frontier:
            node_id = frontier.pop()
            if node_id not in seen:
                seen.add(node_id)
                frontier.extend(edges[node_id])
        if origin in seen:
            looping.add(origin)
    return looping


@settings(max_examples=300)
@given(loopy_journeys(), st.sampled_from([0, 30, 60]))
def test_a_journey_is_accepted_iff_every_loop_passes_a_long_enough_delay(
    journey: dict[str, Any], min_delay: float
) -> None:
    expected = on_a_loop_without_a_long_delay(journey, min_delay)

    result = validate_journey(journey, min_loop_delay_seconds=min_delay)

    if not expected:
        assert isinstance(result, JourneyDefinition)
        return
    assert isinstance(result, list)
    named = {
        node_id
        for problem in result
        for node_id in problem.message.removeprefix("Nodes ").split(" form a loop")[0].split(", ")
    }
    assert named == expected
