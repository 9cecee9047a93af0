"""Evaluate a CONDITIONAL node's condition against a patient context: strict, type-aware, never raising."""

import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any, Final

from domain.journey import Condition
from domain.json_values import describe

EQUALITY_OPERATORS: Final = {"=": "eq", "==": "eq", "eq": "eq", "!=": "ne", "ne": "ne"}
ORDERING_OPERATORS: Final = {
    ">": "gt",
    "gt": "gt",
    ">=": "gte",
    "gte": "gte",
    "<": "lt",
    "lt": "lt",
    "<=": "lte",
    "lte": "lte",
}
MEMBERSHIP_OPERATORS: Final = {"in": "in", "nin": "nin"}
_CANONICAL: Final[dict[str, str]] = {**EQUALITY_OPERATORS, **ORDERING_OPERATORS, **MEMBERSHIP_OPERATORS}
OPERATORS: Final[tuple[str, ...]] = tuple(_CANONICAL)
"""Every operator a condition may use, aliases included."""

_MISSING: Final = object()


class UnknownOperator(ValueError):
    """The condition uses an operator outside OPERATORS (validation rejects these journeys)."""


def evaluate(condition: Condition, context: Mapping[str, Any]) -> bool:
    """Whether `condition` holds for the patient `context`.

    - `field` is a dotted path; a leading "patient." is dropped when the context has no top-level "patient"
      key, so "patient.age" and "age" mean the same.
    - Equality is strict: 65 == 65.0, but "65" != 65 and True != 1.
    - Ordering compares numbers with numbers and strings with strings; any other pairing is false.
    - Strings compare in Unicode's composed form (NFC): "é" typed as one character or as "e" and an accent
      is the same text, whichever form the clinic's systems send.
    - A missing field makes every operator false, `!=` and `nin` included: a missing value means the
      condition cannot be asserted, so the run takes the false branch.
    """
    canonical = _CANONICAL.get(condition.operator)
    if canonical is None:
        raise UnknownOperator(f"Unknown operator {condition.operator!r}")
    actual = resolve(condition.field, context)
    if actual is _MISSING:
        return False
    expected = condition.value
    match canonical:
        case "eq":
            return strictly_equal(actual, expected)
        case "ne":
            return not strictly_equal(actual, expected)
        case "in" | "nin":
            if not _is_list(expected):
                return False
            found = any(strictly_equal(actual, item) for item in expected)
            return found if canonical == "in" else not found
        case _:
            return _ordered(canonical, actual, expected)


def resolve(field: str, context: Mapping[str, Any]) -> Any:
    """The value at dotted path `field` in `context`, or the module's _MISSING sentinel."""
    parts = field.split(".")
    if len(parts) > 1 and parts[0] == "patient" and "patient" not in context:
        parts = parts[1:]
    current: Any = context
    for part in parts:
        if not isinstance(current, Mapping) or part not in current:
            return _MISSING
        current = current[part]
    return current


def is_missing(value: Any) -> bool:
    """Whether `resolve` found no value at the path (as opposed to a JSON null)."""
    return value is _MISSING


def compared_kinds(condition: Condition) -> frozenset[str]:
    """The kinds of value ("a number", "a string", ...) the condition compares the field with: its value's,
    or its list's items' for `in` and `nin`. A field of any other kind makes every comparison false (nulls
    aside, which mean "not known"); empty when the condition names no kind to check against."""
    canonical = _CANONICAL.get(condition.operator)
    if canonical in ("in", "nin"):
        values = condition.value if _is_list(condition.value) else ()
    else:
        values = (condition.value,)
    return frozenset(describe(value) for value in values if value is not None)


def strictly_equal(left: Any, right: Any) -> bool:
    """JSON-value equality without cross-type coercion: numbers compare numerically, bool only with bool."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if _is_number(left) or _is_number(right):
        return _is_number(left) and _is_number(right) and left == right
    if _is_list(left) or _is_list(right):
        return (
            _is_list(left)
            and _is_list(right)
            and len(left) == len(right)
            and all(strictly_equal(a, b) for a, b in zip(left, right, strict=True))
        )
    if isinstance(left, Mapping) or isinstance(right, Mapping):
        return (
            isinstance(left, Mapping)
            and isinstance(right, Mapping)
            and left.keys() == right.keys()
            and all(strictly_equal(left[key], right[key]) for key in left)
        )
    if isinstance(left, str) or isinstance(right, str):
        return isinstance(left, str) and isinstance(right, str) and _composed(left) == _composed(right)
    return left is None and right is None


def _ordered(canonical: str, actual: Any, expected: Any) -> bool:
    comparable = (_is_number(actual) and _is_number(expected)) or (
        isinstance(actual, str) and isinstance(expected, str)
    )
    if not comparable:
        return False
    if isinstance(actual, str):
        actual, expected = _composed(actual), _composed(expected)
    match canonical:
        case "gt":
            return bool(actual > expected)
        case "gte":
            return bool(actual >= expected)
        case "lt":
            return bool(actual < expected)
        case _:
            return bool(actual <= expected)


def _composed(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)
