"""JSON values as validation speaks of them: what counts as a number, and a value's kind in plain English."""

import math


def is_number(value: object) -> bool:
    """True for finite ints and floats; bool is not a number here."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)


def describe(value: object) -> str:
    """A short name for a JSON value's kind, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
