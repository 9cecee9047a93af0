"""Validate the patient context a run starts with: id, age and language are required; the rest is kept."""

from typing import Any, Final

from domain.validation import Problem, describe, is_number

LANGUAGES: Final = ("en", "es")
_MAX_JSON_INT: Final = 2**63 - 1


def validate_patient_context(raw: object) -> dict[str, Any] | list[Problem]:
    """A copy of the context, unchanged, or every problem with it (each naming its field)."""
    if not isinstance(raw, dict):
        return [Problem("", f"The patient context must be a JSON object, got {describe(raw)}.")]
    problems: list[Problem] = []
    patient_id = raw.get("id")
    if not isinstance(patient_id, str) or not patient_id.strip():
        problems.append(Problem("id", "The patient needs an id: a non-empty string."))
    age = raw.get("age")
    if not is_number(age):
        problems.append(Problem("age", f"The patient's age must be a number, got {describe(age)}."))
    elif isinstance(age, int | float) and age < 0:
        problems.append(Problem("age", "The patient's age cannot be negative."))
    language = raw.get("language")
    if language not in LANGUAGES:
        problems.append(
            Problem(
                "language", f"The patient's language must be one of {', '.join(LANGUAGES)}, got {language!r}."
            )
        )
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
