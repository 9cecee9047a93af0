"""Validation of a CONDITIONAL node's condition: a field, a known operator, a value that operator takes."""

import re
from typing import Any, Final

from domain.conditions import MEMBERSHIP_OPERATORS, OPERATORS, ORDERING_OPERATORS
from domain.journey import Condition
from domain.json_values import describe, is_number
from domain.message_validation import Problems

_VALID_OPERATORS: Final = " ".join(OPERATORS)
# A JSON number written as text: "65" orders letter by letter ("100" before "65"), never as a number.
_NUMBER_AS_TEXT: Final = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


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
        shown = repr(operator) if isinstance(operator, str) else describe(operator)
        message = f"Unknown operator {shown}; valid operators are {_VALID_OPERATORS}."
        problems.append((f"{at}.operator", message))
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


def posted_condition_problems(raw_journey: dict[str, Any]) -> Problems:
    """Each ordering condition of a posted journey whose value is a number written as text: it compares
    letter by letter ("100" < "65") and never with a number, so it is almost surely a mistake.

    Checked for what callers send only: a journey stored before this rule still loads."""
    raw_nodes = raw_journey.get("nodes")
    problems: Problems = []
    for index, node in enumerate(raw_nodes if isinstance(raw_nodes, list) else []):
        condition = node.get("condition") if isinstance(node, dict) else None
        if not isinstance(condition, dict):
            continue
        operator, value = condition.get("operator"), condition.get("value")
        # Only text is looked up: an object or a list as the operator cannot be (unhashable), and
        # parse_condition has already named it as the operator's problem.
        if not isinstance(operator, str) or operator not in ORDERING_OPERATORS:
            continue
        if isinstance(value, str) and _NUMBER_AS_TEXT.fullmatch(value):
            problems.append(
                (
                    f"nodes[{index}].condition.value",
                    f"The value {value!r} is text, which orders letter by letter ('100' comes before '65'); "
                    f"write {value} without quotes to compare numbers.",
                )
            )
    return problems
