"""A date at the calendar's edge (years 1 and 9999): refused at trigger naming the field, or, when only the
wait computed from it falls beyond the edge, the run fails with a reason; nothing raises."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest

from domain.context_fit import context_fit
from domain.decider import decide
from domain.journey import JourneyDefinition
from domain.run_state import evolve, initial_state
from domain.validation import validate_journey
from events.catalogue import RunFailed, RunStarted, stamp

NOW = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)
PATIENT = {"id": "p", "age": 40}


def waiting_for_appointment(**delay: Any) -> JourneyDefinition:
    node = {"id": "d", "type": "DELAY", "until_field": "patient.appt", "next_node_id": None, **delay}
    definition = validate_journey({"name": "J", "start_node_id": "d", "nodes": [node]})
    assert isinstance(definition, JourneyDefinition), definition
    return definition


@pytest.mark.parametrize("appt", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+01:00"])
def test_a_date_beyond_the_calendar_is_refused_at_trigger_naming_the_field_not_the_value(appt: str) -> None:
    problems = context_fit(waiting_for_appointment()).problems({**PATIENT, "appt": appt})

    assert [problem.path for problem in problems] == ["appt"]
    assert appt not in problems[0].message


@pytest.mark.parametrize(
    ("delay", "context"),
    [
        ({"offset_seconds": 86400}, {}),  # a day after the calendar's last day
        ({"at_local_time": "09:00"}, {"timezone": "Pacific/Kiritimati"}),  # already the year 10000 there
    ],
)
def test_a_wait_that_would_end_beyond_the_calendar_fails_the_run_with_a_reason(
    delay: dict[str, Any], context: dict[str, Any]
) -> None:
    definition = waiting_for_appointment(**delay)
    patient = {**PATIENT, **context, "appt": "9999-12-31T12:00:00+00:00"}
    assert context_fit(definition).problems(patient) == []  # the date itself is on the calendar
    run_id = uuid4()
    started = RunStarted(journey_id=uuid4(), journey_version=1, start_node_id="d", patient_context=patient)
    [envelope] = stamp(run_id, 0, [started], now=NOW, causation_id=None, correlation_id=run_id)

    [failed] = decide(definition, evolve(initial_state(run_id), envelope), started, now=NOW)

    assert isinstance(failed, RunFailed) and failed.node_id == "d" and "9999" in failed.reason
