"""A journey a run cannot walk without writing more events in one step than the engine allows is refused
when saved, naming where that way starts; the count is the decider's own, checked against it here."""

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_decider import NOW, applied, delay, elapsed, message, over_65, started

from domain.decider import decide
from domain.journey import JourneyDefinition
from domain.run_limits import RunLimits
from domain.validation import Problem, validate_journey, validate_stored_journey
from events.catalogue import DelayStarted, RunEvent, RunFailed

CAP = 5


def raw(start: str, *nodes: dict[str, Any]) -> dict[str, Any]:
    return {"name": "Steps", "start_node_id": start, "nodes": list(nodes)}


def chain(prefix: str, count: int, then: str | None = None) -> list[dict[str, Any]]:
    """`count` MESSAGE nodes p0 -> p1 -> ... -> `then`."""
    ids = [f"{prefix}{i}" for i in range(count)]
    return [message(node_id, next_id) for node_id, next_id in zip(ids, [*ids[1:], then], strict=True)]


def checked(journey: dict[str, Any], cap: int = CAP) -> JourneyDefinition | list[Problem]:
    return validate_journey(journey, min_loop_delay_seconds=0, max_events_per_decision=cap)


def run_decisions(definition: JourneyDefinition, patient: dict[str, Any], cap: int) -> list[list[RunEvent]]:
    """Every decision of one run, each delay elapsing in turn, under the engine's cap."""
    state, wake_up = started(definition, patient)
    decisions: list[list[RunEvent]] = []
    for _ in range(len(definition.nodes) + 1):
        events = decide(definition, state, wake_up, now=NOW, limits=RunLimits(max_events_per_decision=cap))
        decisions.append(events)
        state = applied(state, events)
        if not events or not isinstance(events[-1], DelayStarted):
            break
        state, wake_up = elapsed(state)
    return decisions


def failed_at_the_cap(decisions: list[list[RunEvent]]) -> bool:
    return any(
        isinstance(event, RunFailed) and "max_events_per_decision" in (event.reason or "")
        for events in decisions
        for event in events
    )


def test_a_chain_of_exactly_the_cap_is_saved_and_runs() -> None:
    journey = raw("m0", *chain("m", CAP - 1))  # 4 messages + RunCompleted = 5 events

    definition = checked(journey)

    assert isinstance(definition, JourneyDefinition)
    assert not failed_at_the_cap(run_decisions(definition, {"age": 30}, CAP))


def test_a_chain_one_event_over_the_cap_is_refused_naming_where_it_starts_and_every_run_would_fail() -> None:
    journey = raw("m0", *chain("m", CAP))

    [problem] = checked(journey)

    assert problem.path == "nodes"
    assert "from m0, m1, m2, m3, m4: 6 events" in problem.message
    assert "PJS_RUN_MAX_EVENTS_PER_DECISION" in problem.message
    definition = validate_stored_journey(journey)
    assert isinstance(definition, JourneyDefinition)
    assert failed_at_the_cap(run_decisions(definition, {"age": 30}, CAP))


def test_a_delay_splits_a_long_journey_into_steps_that_each_fit() -> None:
    journey = raw("a0", *chain("a", 4, "wait"), delay("wait", 60, "b0"), *chain("b", 4))

    definition = checked(journey)

    assert isinstance(definition, JourneyDefinition)
    assert not failed_at_the_cap(run_decisions(definition, {"age": 30}, CAP))


def test_the_step_after_a_delay_is_held_to_the_cap_too() -> None:
    journey = raw("wait", delay("wait", 60, "b0"), *chain("b", 7))

    [problem] = checked(journey)

    assert "from b0, b1, b2, b3, b4, ...: 8 events" in problem.message


def test_a_long_branch_only_some_patients_take_is_refused() -> None:
    journey = raw("check", over_65("check", "old0", None), *chain("old", 5))

    [problem] = checked(journey)

    assert "from check, old0, old1, old2, old3, ...: 7 events" in problem.message


def test_nodes_no_run_reaches_are_not_counted() -> None:
    journey = raw("hello", message("hello"), *chain("orphan", 10))

    assert isinstance(checked(journey), JourneyDefinition)


def test_without_the_cap_the_check_is_skipped_and_stored_journeys_are_never_refused_for_it() -> None:
    journey = raw("m0", *chain("m", 600))

    assert isinstance(validate_journey(journey), JourneyDefinition)
    assert isinstance(validate_stored_journey(journey), JourneyDefinition)
    assert isinstance(checked(journey, cap=500), list)


def test_a_journey_as_long_as_the_node_limit_is_checked_without_deep_recursion() -> None:
    journey = raw("m0", *chain("m", 5000))

    [problem] = checked(journey, cap=500)

    assert "A run can walk 5000 nodes" in problem.message


def _node(index: int, kind: int, targets: tuple[int, int], count: int) -> dict[str, Any]:
    """Node `n{index}`; its pointers only go forward (no loops) or end the run."""

    def ahead(offset: int) -> str | None:
        target = index + 1 + offset
        return f"n{target}" if target < count else None

    node_id = f"n{index}"
    if kind == 0:
        return message(node_id, ahead(targets[0]))
    if kind == 1:
        return delay(node_id, 60, ahead(targets[0]))
    return over_65(node_id, ahead(targets[0]), ahead(targets[1]))


journeys = st.integers(min_value=1, max_value=14).flatmap(
    lambda count: st.lists(
        st.tuples(st.integers(0, 2), st.tuples(st.integers(0, 2), st.integers(0, 2))),
        min_size=count,
        max_size=count,
    ).map(lambda specs: raw("n0", *(_node(i, k, t, len(specs)) for i, (k, t) in enumerate(specs))))
)


@settings(max_examples=300, deadline=None)
@given(journey=journeys, cap=st.integers(min_value=1, max_value=8))
def test_a_journey_saved_under_the_cap_never_fails_at_it_for_any_patient(
    journey: dict[str, Any], cap: int
) -> None:
    definition = checked(journey, cap)

    if isinstance(definition, JourneyDefinition):
        for age in (30, 70):
            assert not failed_at_the_cap(run_decisions(definition, {"age": age}, cap))


@pytest.mark.parametrize("count", [1, 3, 9])
def test_for_a_journey_without_branches_refused_means_every_run_fails(count: int) -> None:
    journey = raw("m0", *chain("m", count))
    stored = validate_stored_journey(journey)
    assert isinstance(stored, JourneyDefinition)

    for cap in range(1, count + 3):
        refused = isinstance(checked(journey, cap), list)
        assert refused == failed_at_the_cap(run_decisions(stored, {"age": 30}, cap))
