"""A posted journey's unknown fields are problems naming their paths; a stored journey still reads."""

import copy

from api.examples import CLINIC_JOURNEY, SEED_JOURNEY
from domain.journey import JourneyDefinition
from domain.validation import Problem, validate_journey, validate_stored_journey
from support.journeys import typo_journey


def problems_of(raw: object) -> list[Problem]:
    result = validate_journey(raw)
    assert isinstance(result, list), "expected problems, got a valid journey"
    return result


def test_every_misspelt_field_is_a_problem_at_its_path_all_at_once() -> None:
    problems = problems_of(typo_journey())

    assert [problem.path for problem in problems] == ["quiet_hour", "nodes[0].chanel", "nodes[0].translation"]
    assert "Did you mean 'quiet_hours'?" in problems[0].message
    assert "Did you mean 'channel'?" in problems[1].message
    assert "Did you mean 'translations'?" in problems[2].message


def test_unknown_fields_are_listed_with_the_other_problems() -> None:
    journey = typo_journey()
    journey["name"] = ""

    assert {problem.path for problem in problems_of(journey)} == {
        "name",
        "quiet_hour",
        "nodes[0].chanel",
        "nodes[0].translation",
    }


def test_each_node_type_takes_only_its_own_fields() -> None:
    journey = copy.deepcopy(SEED_JOURNEY)
    journey["nodes"][0]["duration_seconds"] = 5  # a MESSAGE
    journey["nodes"][1]["condition"]["values"] = [1]  # a condition
    journey["nodes"][1]["message"] = "x"  # a CONDITIONAL
    journey["nodes"][3]["channel"] = "sms"  # a DELAY

    assert [problem.path for problem in problems_of(journey)] == [
        "nodes[0].duration_seconds",
        "nodes[1].message",
        "nodes[1].condition.values",
        "nodes[3].channel",
    ]


def test_quiet_hours_take_only_start_and_end() -> None:
    journey = {**copy.deepcopy(SEED_JOURNEY), "quiet_hours": {"start": "21:00", "end": "08:00", "tz": "UTC"}}

    [problem] = problems_of(journey)

    assert problem.path == "quiet_hours.tz"


def test_until_field_options_without_until_field_are_refused_rather_than_ignored() -> None:
    journey = copy.deepcopy(SEED_JOURNEY)
    journey["nodes"][3].update(offset_seconds=-3600, at_local_time="09:00")

    assert [problem.path for problem in problems_of(journey)] == [
        "nodes[3].offset_seconds",
        "nodes[3].at_local_time",
    ]


def test_a_node_of_unknown_type_gets_one_problem_not_one_per_field() -> None:
    journey = copy.deepcopy(SEED_JOURNEY)
    journey["nodes"][0] = {"id": "welcome", "type": "SMS", "text": "hi", "next_node_id": "age_check"}

    assert [problem.path for problem in problems_of(journey)] == ["nodes[0].type"]


def test_every_field_of_the_contract_is_accepted() -> None:
    for journey in (SEED_JOURNEY, CLINIC_JOURNEY):
        assert isinstance(validate_journey(journey), JourneyDefinition)


def test_a_stored_journey_with_fields_no_longer_known_still_reads() -> None:
    stored = validate_stored_journey(typo_journey())

    assert isinstance(stored, JourneyDefinition)
    assert stored.quiet_hours is None and stored.nodes[0].id == "a"
