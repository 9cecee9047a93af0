"""Validation of a CONDITIONAL node's condition: a field, a known operator, a value that operator takes."""

from typing import Any, Final

from domain.conditions import MEMBERSHIP_OPERATORS, OPERATORS, ORDERING_OPERATORS
from domain.journey import Condition
from domain.json_values import describe, is_number
from domain.message_validation import Problems

_VALID_OPERATORS: Final = " ".join(OPERATORS)


def parse_condition(at: str, node: dict[str, Any], problems: Problems) -> Condition:
    """A CONDITIONAL node's condition, each problem noted at its path under `at`."""
    raw = node.get("condition")
    invalid = Condition(field="", operator="", value=None)
    if "condition" not in node:
        problems.append((at, "A CONDITIONAL node needs a condition: {field, operator, value}."))
        return invalid
    if not isinstance(raw, dict):
        problems.append(
            (at, f"The condition must be an object {{field, operator, value}}, got {describe(raw)}.")
        )
        return invalid
    field, operator, value = raw.get("field"), raw.get("operator"), raw.get("value")
    if not isinstance(field, str) or not field:
        problems.append((f"{at}.field", "The condition needs a field: a non-empty string such as 'age'."))
    if not isinstance(operator, str) or operator not in OPERATORS:
        problems.append(
            (f"{at}.operator", f"Unknown operator {operator!r}; valid operators are {_VALID_OPERATORS}.")
        )
    elif operator in MEMBERSHIP_OPERATORS:
        if not isinstance(value, list):
            problems.append(
                (f"{at}.value", f"The '{operator}' operator needs a list value, got {describe(value)}.")
            )
        else:
            value = tuple(value)
    elif "value" not in raw:
        problems.append((f"{at}.value", "The condition needs a value to compare against."))
    elif operator in ORDERING_OPERATORS and not (is_number(value) or isinstance(value, str)):
        problems.append(
            (f"{at}.value", f"The '{operator}' operator needs a number or a string, got {describe(value)}.")
        )
    return Condition(field=str(field), operator=str(operator), value=value)
