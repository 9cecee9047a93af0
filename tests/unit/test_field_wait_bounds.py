"""An `until_field` DELAY is held to the bound of every DELAY (100 years, either side of now): a trigger
whose date lies beyond it is refused naming the field and node, and a wait computed later from such a
context fails the run with a reason, never an exception and never a wait of centuries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from worker_fixtures import JOURNEY_ID, engine, started_run

from domain.context_fit import context_fit
from domain.journey import MAX_DELAY_SECONDS, DelayNode, JourneyDefinition, MessageNode
from domain.waits import start_delay
from engine.timer import Timer, TimerConfig
from events.catalogue import DelayStarted, RunFailed
from support.fakes import FakeBackend

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PATIENT = {"id": "p-1", "age": 40, "language": "en", "timezone": "Asia/Tokyo"}


def waiting_for(offset_seconds: float = 0.0, *, after_days: float = 0) -> JourneyDefinition:
    """Wait for the appointment (first `after_days` days, when given), then remind."""
    wait = DelayNode(
        id="day_before",
        until_field="patient.appointment_at",
        offset_seconds=offset_seconds,
        next_node_id="reminder",
    )
    nodes = (wait, MessageNode(id="reminder", message="Hi"))
    if after_days:
        nodes = (
            DelayNode(id="first", duration_seconds=after_days * 86400, next_node_id="day_before"),
            *nodes,
        )
    return JourneyDefinition(name="Reminders", start_node_id=nodes[0].id, nodes=nodes)


def trigger_problems(appointment_at: Any, journey: JourneyDefinition | None = None) -> dict[str, str]:
    context = {**PATIENT, "appointment_at": appointment_at}
    found = context_fit(journey or waiting_for()).problems(context, NOW)
    return {problem.path: problem.message for problem in found}


def wait_started_at(appointment_at: str, now: datetime = NOW) -> DelayStarted | RunFailed:
    journey = waiting_for()
    [node] = [n for n in journey.nodes if isinstance(n, DelayNode)]
    event = start_delay(node, journey, {**PATIENT, "appointment_at": appointment_at}, now)
    assert isinstance(event, DelayStarted | RunFailed)
    return event


@pytest.mark.parametrize(
    "far_date",
    ["9999-12-31", "9999-12-31T23:59:59+00:00", "0001-01-01", "0001-01-01T00:00:00+05:00", "2200-01-01"],
)
def test_a_trigger_whose_date_lies_beyond_the_bound_is_refused_naming_field_and_node_not_value(
    far_date: str,
) -> None:
    problems = trigger_problems(far_date)

    assert list(problems) == ["appointment_at"]
    assert "day_before" in problems["appointment_at"] and "100 years" in problems["appointment_at"]
    assert far_date[:4] not in problems["appointment_at"]


def test_a_date_just_inside_the_bound_is_taken_and_one_just_outside_is_not() -> None:
    inside = (NOW + timedelta(seconds=MAX_DELAY_SECONDS) - timedelta(days=1)).isoformat()
    outside = (NOW + timedelta(seconds=MAX_DELAY_SECONDS) + timedelta(days=1)).isoformat()
    long_ago = (NOW - timedelta(seconds=MAX_DELAY_SECONDS) - timedelta(days=1)).isoformat()

    assert trigger_problems(inside) == {}
    assert list(trigger_problems(outside)) == list(trigger_problems(long_ago)) == ["appointment_at"]


def test_the_nodes_offset_counts_towards_the_bound() -> None:
    near_the_edge = (NOW + timedelta(seconds=MAX_DELAY_SECONDS) - timedelta(days=30)).isoformat()

    assert trigger_problems(near_the_edge, waiting_for(offset_seconds=-86400)) == {}
    assert list(trigger_problems(near_the_edge, waiting_for(offset_seconds=365 * 86400))) == [
        "appointment_at"
    ]


def test_a_date_that_is_no_date_is_still_refused_as_such() -> None:
    assert "ISO 8601" in trigger_problems("next tuesday")["appointment_at"]


@pytest.mark.parametrize("far_date", ["9999-12-31", "0001-01-01", "0001-01-01T00:00:00+05:00"])
def test_a_wait_computed_later_from_a_date_beyond_the_bound_fails_the_run_with_a_reason(
    far_date: str,
) -> None:
    failed = wait_started_at(far_date)

    assert isinstance(failed, RunFailed) and failed.node_id == "day_before"
    assert "patient.appointment_at" in failed.reason and "100 years" in failed.reason
    assert far_date[:4] not in failed.reason


def test_a_date_in_reach_still_waits_and_a_recent_past_one_still_continues_at_once() -> None:
    ahead = wait_started_at("2026-06-01T09:00:00+09:00")
    passed = wait_started_at("1990-01-01")

    assert isinstance(ahead, DelayStarted) and ahead.resume_at == datetime(2026, 6, 1, 0, 0, tzinfo=UTC)
    assert isinstance(passed, DelayStarted) and passed.reason == "moment_already_past"


async def test_a_date_that_falls_out_of_the_bound_while_the_run_waits_fails_the_run_in_the_engine() -> None:
    backend = FakeBackend()
    backend.journeys.add(JOURNEY_ID, waiting_for(after_days=2))
    nearly_a_century_ago = backend.clock() - timedelta(seconds=MAX_DELAY_SECONDS) + timedelta(days=1)
    context = {**PATIENT, "appointment_at": nearly_a_century_ago.isoformat()}
    run_id = await started_run(backend, context=context)  # within the bound at the trigger

    backend.clock.advance(2 * 86400)
    await Timer(backend.delays, TimerConfig()).fire_due()
    await engine(backend).handle(await backend.stream(run_id))

    assert await backend.types(run_id) == ["RunStarted", "DelayStarted", "DelayElapsed", "RunFailed"]
    failed = (await backend.stream(run_id))[-1].event
    assert isinstance(failed, RunFailed) and failed.node_id == "day_before"
    assert "patient.appointment_at" in (failed.reason or "")
