"""Properties of the decider over random valid journeys and patients: every wake-up ends somewhere sane."""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from domain.decider import decide
from domain.journey import JourneyDefinition
from domain.run_state import RunState, RunStatus, evolve, initial_state
from domain.validation import validate_journey
from events.catalogue import DelayElapsed, DelayStarted, RunEvent, RunStarted, is_terminal, stamp

RUN_ID = UUID("00000000-0000-4000-8000-0000000000aa")
JOURNEY_ID = UUID("00000000-0000-4000-8000-0000000000bb")
NOW = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
MAX_WAKE_UPS = 30

condition_values = st.one_of(
    st.integers(0, 120),
    st.floats(0, 120),
    st.sampled_from(["en", "es", "65", "diabetes"]),
    st.booleans(),
    st.none(),
)


@st.composite
def conditions(draw: st.DrawFn) -> dict[str, Any]:
    operator = draw(
        st.sampled_from(["=", "==", "!=", ">", ">=", "<", "<=", "eq", "ne", "gt", "gte", "in", "nin"])
    )
    value: Any = (
        draw(st.lists(condition_values, max_size=3)) if operator in ("in", "nin") else draw(condition_values)
    )
    field = draw(st.sampled_from(["age", "patient.age", "language", "condition", "missing.field"]))
    return {"field": field, "operator": operator, "value": value}


@st.composite
def raw_journeys(draw: st.DrawFn) -> dict[str, Any]:
    """Random graphs, biased forward so that most pass validation; loops appear now and then."""
    ids = [f"n{i}" for i in range(draw(st.integers(1, 8)))]

    def pointer(index: int) -> str | None:
        forward = ids[index + 1 :]
        ahead = st.sampled_from(forward) if forward else st.none()
        return draw(st.one_of(st.none(), ahead, ahead, st.sampled_from(ids)))

    nodes: list[dict[str, Any]] = []
    for index, node_id in enumerate(ids):
        kind = draw(st.sampled_from(["MESSAGE", "DELAY", "CONDITIONAL"]))
        if kind == "MESSAGE":
            nodes.append(
                {"id": node_id, "type": kind, "message": f"m{index}", "next_node_id": pointer(index)}
            )
        elif kind == "DELAY":
            seconds = draw(st.sampled_from([0, 1, 60.5, 86400]))
            nodes.append(
                {"id": node_id, "type": kind, "duration_seconds": seconds, "next_node_id": pointer(index)}
            )
        else:
            nodes.append(
                {
                    "id": node_id,
                    "type": kind,
                    "condition": draw(conditions()),
                    "on_true_next_node_id": pointer(index),
                    "on_false_next_node_id": pointer(index),
                }
            )
    return {"name": "random", "start_node_id": draw(st.sampled_from(ids)), "nodes": nodes}


patients = st.fixed_dictionaries(
    {
        "id": st.just("p-1"),
        "age": st.one_of(st.integers(0, 120), st.floats(0, 120)),
        "language": st.sampled_from(["en", "es"]),
    },
    optional={"condition": st.sampled_from(["diabetes", "hip", None])},
)


def apply(state: RunState, events: list[RunEvent], at: datetime) -> RunState:
    for envelope in stamp(RUN_ID, state.version, events, now=at, causation_id=None, correlation_id=None):
        state = evolve(state, envelope)
    return state


def assert_one_sane_batch(journey: JourneyDefinition, events: list[RunEvent]) -> None:
    assert events, "a matching wake-up always yields a batch"
    *body, last = events
    assert is_terminal(last) or isinstance(last, DelayStarted)
    assert not any(is_terminal(earlier) or isinstance(earlier, DelayStarted) for earlier in body)
    # Without DELAY-free loops, a batch visits each non-delay node at most once.
    assert len(events) <= len(journey.nodes) + 1


def test_at_least_a_third_of_random_journeys_are_valid_so_the_property_below_sees_many() -> None:
    valid: list[bool] = []

    @settings(max_examples=200, derandomize=True, database=None)
    @given(raw_journeys())
    def validate(raw: dict[str, Any]) -> None:
        valid.append(isinstance(validate_journey(raw), JourneyDefinition))

    validate()

    assert len(valid) == 200 and sum(valid) >= len(valid) / 3


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(raw_journeys(), patients)
def test_every_wake_up_ends_in_a_delay_or_the_end_and_runs_stay_bounded(
    raw: dict[str, Any], patient: dict[str, Any]
) -> None:
    journey = validate_journey(raw)
    assume(isinstance(journey, JourneyDefinition))
    assert isinstance(journey, JourneyDefinition)
    start = RunStarted(
        journey_id=JOURNEY_ID, journey_version=1, start_node_id=journey.start_node_id, patient_context=patient
    )
    now = NOW
    state = apply(initial_state(RUN_ID), [start], now)
    wake_up: RunEvent = start

    for _ in range(MAX_WAKE_UPS):
        events = decide(journey, state, wake_up, now=now)
        assert_one_sane_batch(journey, events)
        state = apply(state, events, now)
        assert decide(journey, state, wake_up, now=now) == [], "a redelivered wake-up yields nothing"
        if state.finished:
            assert state.status in (RunStatus.COMPLETED, RunStatus.FAILED)
            if state.status is RunStatus.FAILED:
                assert state.reason
            event("outcome: finished")
            return
        assert state.status is RunStatus.WAITING_DELAY and state.resume_at is not None
        now = state.resume_at
        assert state.current_node_id is not None
        wake_up = DelayElapsed(node_id=state.current_node_id, resume_at=now, fired_at=now)
        state = apply(state, [wake_up], now)
    event("outcome: still cycling through delays")
    # Still going after MAX_WAKE_UPS: only possible when the journey loops through a delay.
    assert state.status is RunStatus.IN_PROGRESS and state.awaiting_decision
