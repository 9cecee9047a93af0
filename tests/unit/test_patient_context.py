"""Patient context validation: id, age and language are checked; everything else is kept unchanged."""

import math
from typing import Any

import pytest

from domain.patient_context import validate_patient_context


def valid_patient(**changes: Any) -> dict[str, Any]:
    return {"id": "p-1", "age": 72, "language": "es", "condition": "hip", **changes}


def paths_of(raw: object) -> list[str]:
    result = validate_patient_context(raw)
    assert isinstance(result, list)
    return [problem.path for problem in result]


def test_valid_context_round_trips_unchanged_with_extra_fields() -> None:
    raw = valid_patient(ward={"floor": 3, "beds": [1, 2]}, notes=None)
    result = validate_patient_context(raw)
    assert result == raw
    assert result is not raw


def test_condition_is_optional() -> None:
    raw = valid_patient()
    del raw["condition"]
    assert validate_patient_context(raw) == raw


@pytest.mark.parametrize("body", [None, "p-1", [1]])
def test_context_must_be_an_object(body: object) -> None:
    assert paths_of(body) == [""]


@pytest.mark.parametrize("patient_id", [None, "", "  ", 7])
def test_id_must_be_a_non_empty_string(patient_id: object) -> None:
    assert paths_of(valid_patient(id=patient_id)) == ["id"]


@pytest.mark.parametrize("age", [None, "72", True, -1, math.nan, math.inf])
def test_age_must_be_a_non_negative_number(age: object) -> None:
    assert paths_of(valid_patient(age=age)) == ["age"]


def test_age_zero_and_fractional_ages_are_fine() -> None:
    assert isinstance(validate_patient_context(valid_patient(age=0)), dict)
    assert isinstance(validate_patient_context(valid_patient(age=0.5)), dict)


@pytest.mark.parametrize("language", [None, "", "e", "english language", "es_MX", 1, "en\n", "es\n-MX"])
def test_language_must_be_a_language_tag(language: object) -> None:
    result = validate_patient_context(valid_patient(language=language))
    assert isinstance(result, list)
    [problem] = result
    assert problem.path == "language"
    assert "BCP 47" in problem.message


def test_every_problem_is_listed() -> None:
    assert sorted(paths_of({"age": -3, "language": "d"})) == ["age", "id", "language"]


def test_values_json_cannot_store_are_rejected() -> None:
    assert paths_of(valid_patient(scores=[1, math.nan], labs={"ldl": math.inf}, big=2**70, age=2**64)) == [
        "age",
        "scores[1]",
        "labs.ldl",
        "big",
    ]
