"""Control characters and bidi overrides are refused in a patient id, a journey's name and its node ids."""

import copy
from typing import Any

import pytest

from api.examples import SEED_JOURNEY, SEED_PATIENT
from domain.display_text import made_visible
from domain.journey import JourneyDefinition
from domain.patient_context import validate_patient_context
from domain.validation import Problem, validate_journey, validate_stored_journey

HIDDEN = [
    pytest.param("\x01", id="C0 control"),
    pytest.param("\x1b[31m", id="ANSI escape"),
    pytest.param("\n", id="line feed"),
    pytest.param("\r", id="carriage return"),
    pytest.param("\x7f", id="DEL"),
    pytest.param("\x85", id="C1 control"),
    pytest.param("\u202e", id="right-to-left override"),
    pytest.param("\u202a", id="left-to-right embedding"),
    pytest.param("\u2066", id="left-to-right isolate"),
    pytest.param("\u2069", id="pop directional isolate"),
    pytest.param("\u200f", id="right-to-left mark"),
    pytest.param("\u061c", id="arabic letter mark"),
    pytest.param("\u2028", id="line separator"),
    pytest.param("\u200b", id="zero width space"),
    pytest.param("\ufeff", id="byte order mark"),
]
# letters of any script, spaces, and the joiners names need (a Persian name with a zero width non-joiner)
SHOWN = ["Zoë", "患者-7", "O'Brien", "a b", "שלום", "\u200d", "نام\u200cخانوادگی"]  # noqa: RUF001


def journey_problems(raw: dict[str, Any]) -> list[Problem]:
    result = validate_journey(raw)
    assert isinstance(result, list), "expected problems, got a valid journey"
    return result


@pytest.mark.parametrize("hidden", HIDDEN)
def test_a_patient_id_with_a_hidden_character_is_refused_naming_the_id(hidden: str) -> None:
    result = validate_patient_context({**SEED_PATIENT, "id": f"a{hidden}red"})

    assert isinstance(result, list)
    [problem] = result
    assert problem.path == "id"
    assert f"U+{ord(hidden[0]):04X}" in problem.message
    assert "control characters or bidirectional overrides" in problem.message


@pytest.mark.parametrize("shown", SHOWN)
def test_patient_ids_in_any_script_still_pass(shown: str) -> None:
    assert isinstance(validate_patient_context({**SEED_PATIENT, "id": shown}), dict)


def test_other_context_values_may_still_hold_line_breaks() -> None:
    context = {**SEED_PATIENT, "note": "first line\nsecond line"}

    assert validate_patient_context(context) == context


@pytest.mark.parametrize("hidden", HIDDEN)
def test_a_journey_name_and_node_id_with_a_hidden_character_are_refused(hidden: str) -> None:
    journey = copy.deepcopy(SEED_JOURNEY)
    journey["name"] = f"Pre-op{hidden}"
    journey["nodes"][4]["id"] = f"reminder{hidden}"
    journey["nodes"][3]["next_node_id"] = f"reminder{hidden}"

    assert [problem.path for problem in journey_problems(journey)] == ["name", "nodes[4].id"]


@pytest.mark.parametrize("shown", SHOWN)
def test_names_and_node_ids_in_any_script_still_pass(shown: str) -> None:
    journey = copy.deepcopy(SEED_JOURNEY)
    journey["name"] = shown
    journey["nodes"][4]["id"] = journey["nodes"][3]["next_node_id"] = f"r-{shown}"

    assert isinstance(validate_journey(journey), JourneyDefinition)


def test_a_journey_stored_with_a_hidden_character_still_reads() -> None:
    journey = {**copy.deepcopy(SEED_JOURNEY), "name": "\x1b[2J\x07x\u202e"}

    assert isinstance(validate_stored_journey(journey), JourneyDefinition)


def test_a_page_shows_each_hidden_character_written_out_and_keeps_line_breaks_and_joiners() -> None:
    persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # needs its zero width non-joiner

    assert made_visible("Knee\u202e\u0007 clinic") == "Knee[U+202E][U+0007] clinic"
    assert made_visible("line one\nline two\tend\r") == "line one\nline two\tend\r"
    assert made_visible(persian) == persian
