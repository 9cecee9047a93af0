"""Validate the patient context a run starts with: id, age and language are required; the rest is kept."""

from typing import Any, Final

from domain.display_text import hidden_character_problem
from domain.json_values import describe, is_number
from domain.local_clock import zone_named
from domain.message_validation import is_language_tag
from domain.validation import Problem

_MAX_JSON_INT: Final = 2**63 - 1


def validate_patient_context(raw: object) -> dict[str, Any] | list[Problem]:
    """A copy of the context, unchanged, or every problem with it (each naming its field)."""
    if not isinstance(raw, dict):
        return [Problem("", f"The patient context must be a JSON object, got {describe(raw)}.")]
    problems: list[Problem] = []
    patient_id = raw.get("id")
    if not isinstance(patient_id, str) or not patient_id.strip():
        problems.append(Problem("id", "The patient needs an id: a non-empty string."))
    elif (hidden := hidden_character_problem("The patient id", patient_id)) is not None:
        problems.append(Problem("id", hidden))
    age = raw.get("age")
    if not is_number(age):
        problems.append(Problem("age", f"The patient's age must be a number, got {describe(age)}."))
    elif isinstance(age, int | float) and age < 0:
        problems.append(Problem("age", "The patient's age cannot be negative."))
    if not is_language_tag(raw.get("language")):
        problems.append(
            Problem(
                "language", "The patient's language must be a language tag (BCP 47), e.g. 'en' or 'es-MX'."
            )
        )
    timezone = raw.get("timezone")
    if timezone is not None and (not isinstance(timezone, str) or zone_named(timezone) is None):
        problems.append(Problem("timezone", "The patient's timezone must be an IANA name, e.g. Asia/Tokyo."))
    reported = {problem.path for problem in problems}
    for key, value in raw.items():
        if key not in reported:
            problems.extend(_unstorable(str(key), value))
    return problems or dict(raw)


def _unstorable(path: str, value: object) -> list[Problem]:
    """Values JSON cannot carry faithfully (NaN, infinities, huge integers) would break the event store."""
    if isinstance(value, float) and not is_number(value):
        return [Problem(path, "Numbers must be finite (no NaN or Infinity).")]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _MAX_JSON_INT:
        return [Problem(path, "Integers must fit in 64 bits.")]
    if isinstance(value, list):
        return [problem for i, item in enumerate(value) for problem in _unstorable(f"{path}[{i}]", item)]
    if isinstance(value, dict):
        return [problem for key, item in value.items() for problem in _unstorable(f"{path}.{key}", item)]
    return []
