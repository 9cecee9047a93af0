"""Every run's caps: a decision past its events cap, or a node visited past its cap, fails the run instead."""

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_decider import NOW, applied, delay, elapsed, journey, message, started

from domain.decider import decide
from domain.journey import Condition as NodeCondition
from domain.journey import ConditionalNode, DelayNode, JourneyDefinition, JourneyNode, MessageNode
from domain.run_limits import RunLimits
from events.catalogue import DelayElapsed, MessageRequested, RunCompleted, RunEvent, RunFailed


def test_a_decision_of_exactly_the_events_cap_goes_through() -> None:
    definition = journey("a", message("a", "b"), message("b"))
    state, wake_up = started(definition)

    events = decide(definition, state, wake_up, now=NOW, limits=RunLimits(max_events_per_decision=3))

    assert [type(event) for event in events] == [MessageRequested, MessageRequested, RunCompleted]


def test_a_decision_over_the_events_cap_is_a_lone_failure_that_names_the_cap() -> None:
    definition = journey("a", message("a", "b"), message("b"))
    state, wake_up = started(definition)

    [failed] = decide(definition, state, wake_up, now=NOW, limits=RunLimits(max_events_per_decision=2))

    assert isinstance(failed, RunFailed)
    assert failed.reason is not None and "more than 2 events" in failed.reason
    assert "max_events_per_decision" in failed.reason


def test_a_loop_through_a_delay_stops_when_a_node_reaches_its_visit_cap() -> None:
    definition = journey("remind", message("remind", "wait"), delay("wait", 3600, "remind"))
    limits = RunLimits(max_visits_per_node=3)
    state, wake_up = started(definition)
    for _ in range(10):
        state = applied(state, decide(definition, state, wake_up, now=NOW, limits=limits))
        if state.finished:
            break
        state, wake_up = elapsed(state)

    assert state.finished and state.current_node_id == "remind"
    assert state.reason == (
        "Stopped: node 'remind' would be visited more than 3 times in this run (cap max_visits_per_node)."
    )
    assert state.node_visits == {"remind": 3, "wait": 3}


def test_the_run_state_counts_each_visit_that_made_an_event() -> None:
    definition = journey("a", message("a", "wait"), delay("wait", 60, "a"))
    state, wake_up = started(definition)
    state = applied(state, decide(definition, state, wake_up, now=NOW))
    state, timer = elapsed(state)
    state = applied(state, decide(definition, state, timer, now=NOW + timedelta(minutes=1)))

    assert state.node_visits == {"a": 2, "wait": 2}


@pytest.mark.parametrize("limits", [{"max_events_per_decision": 0}, {"max_visits_per_node": 0}])
def test_a_cap_below_one_is_refused(limits: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RunLimits(**limits)


@st.composite
def unchecked_journeys(draw: st.DrawFn) -> JourneyDefinition:
    """Random graphs that skip validation, so loops with short or no delays are common."""
    ids = [f"n{i}" for i in range(draw(st.integers(1, 6)))]
    pointer = st.one_of(st.none(), st.sampled_from(ids))
    nodes: list[JourneyNode] = []
    for node_id in ids:
        kind = draw(st.sampled_from(["MESSAGE", "DELAY", "CONDITIONAL"]))
        if kind == "MESSAGE":
            nodes.append(MessageNode(node_id, "hi", draw(pointer)))
        elif kind == "DELAY":
            nodes.append(DelayNode(node_id, draw(st.sampled_from([0.0, 60.0])), draw(pointer)))
        else:
            condition = NodeCondition("age", ">", draw(st.integers(0, 100)))
            nodes.append(ConditionalNode(node_id, condition, draw(pointer), draw(pointer)))
    return JourneyDefinition(name="random", start_node_id=draw(st.sampled_from(ids)), nodes=tuple(nodes))


@settings(max_examples=200)
@given(unchecked_journeys(), st.integers(1, 8), st.integers(1, 5))
def test_no_decision_passes_its_caps_on_any_journey(
    definition: JourneyDefinition, max_events: int, max_visits: int
) -> None:
    limits = RunLimits(max_events_per_decision=max_events, max_visits_per_node=max_visits)
    state, wake_up = started(definition)
    messages: list[str] = []
    for _ in range(50):
        events: list[RunEvent] = decide(definition, state, wake_up, now=NOW, limits=limits)
        assert 1 <= len(events) <= max_events
        messages += [event.node_id for event in events if isinstance(event, MessageRequested)]
        state = applied(state, events)
        if state.finished:
            break
        state, wake_up = elapsed(state)
        assert isinstance(wake_up, DelayElapsed)

    assert state.finished, "every run ends: the visit cap stops any loop"
    assert all(messages.count(node_id) <= max_visits for node_id in messages)
    assert all(count <= max_visits for count in state.node_visits.values())
