"""Condition evaluation: strict, type-aware comparisons that never raise."""

import unicodedata
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.conditions import OPERATORS, evaluate
from domain.journey import Condition

PATIENT: dict[str, Any] = {
    "id": "p-1",
    "age": 65,
    "language": "en",
    "condition": "diabetes",
    "weight": 80.5,
    "smoker": True,
    "allergies": None,
    "address": {"city": "Madrid", "zip": "28001"},
}


def holds(field: str, operator: str, value: Any, context: dict[str, Any] = PATIENT) -> bool:
    return evaluate(Condition(field=field, operator=operator, value=value), context)


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        ("=", 65, True),
        ("==", 65, True),
        ("eq", 65, True),
        ("=", 64, False),
        ("!=", 64, True),
        ("ne", 65, False),
        (">", 65, False),
        ("gt", 64, True),
        (">=", 65, True),
        ("gte", 66, False),
        ("<", 65, False),
        ("lt", 66, True),
        ("<=", 65, True),
        ("lte", 64, False),
    ],
)
def test_every_comparison_operator_and_alias(operator: str, value: Any, expected: bool) -> None:
    assert holds("age", operator, value) is expected


def test_age_boundary_at_65() -> None:
    assert holds("age", ">", 65) is False
    assert holds("age", ">=", 65) is True


def test_int_and_float_compare_numerically() -> None:
    assert holds("age", "=", 65.0) is True
    assert holds("weight", ">", 80) is True
    assert holds("age", "in", [64.0, 65.0]) is True


def test_a_numeric_string_is_not_a_number() -> None:
    assert holds("age", "=", "65") is False
    assert holds("age", "!=", "65") is True
    assert holds("age", ">", "6") is False
    assert holds("age", "<", "600") is False


def test_bool_is_not_a_number() -> None:
    assert holds("smoker", "=", 1) is False
    assert holds("smoker", "=", True) is True
    assert holds("age", "=", True) is False
    assert holds("smoker", ">", 0) is False
    assert holds("flag", "=", 1, {"flag": 1}) is True


def test_strings_compare_with_strings() -> None:
    assert holds("language", "=", "en") is True
    assert holds("language", "<", "es") is True


def test_ordering_against_null_list_or_object_is_false() -> None:
    assert holds("allergies", ">", 1) is False
    assert holds("address", ">", "a") is False
    assert holds("age", "<", None) is False


def test_null_equals_only_null() -> None:
    assert holds("allergies", "=", None) is True
    assert holds("age", "=", None) is False


@pytest.mark.parametrize("operator", OPERATORS)
def test_a_missing_field_is_false_for_every_operator(operator: str) -> None:
    value: Any = [1, 2] if operator in ("in", "nin") else 1
    assert holds("height", operator, value) is False


def test_patient_prefix_and_bare_field_mean_the_same() -> None:
    assert holds("patient.age", ">=", 65) is True
    assert holds("patient.address.city", "=", "Madrid") is True
    assert holds("address.city", "=", "Madrid") is True


def test_patient_prefix_is_kept_when_the_context_has_a_patient_key() -> None:
    context = {"patient": {"age": 30}, "age": 90}
    assert holds("patient.age", "=", 30, context) is True
    assert holds("age", "=", 90, context) is True


def test_path_through_a_non_object_is_missing() -> None:
    assert holds("age.years", "=", 65) is False
    assert holds("address.city.name", "!=", "x") is False


def test_in_is_strict_membership() -> None:
    assert holds("language", "in", ["en", "es"]) is True
    assert holds("language", "in", ["fr"]) is False
    assert holds("age", "in", ["65"]) is False
    assert holds("smoker", "in", [1]) is False
    assert holds("language", "in", ("en",)) is True


def test_nin_needs_the_field_present_and_not_listed() -> None:
    assert holds("language", "nin", ["fr", "de"]) is True
    assert holds("language", "nin", ["en"]) is False
    assert holds("age", "nin", ["65"]) is True
    assert holds("height", "nin", [1]) is False


def test_membership_with_a_non_list_value_is_false() -> None:
    assert holds("language", "in", "en") is False
    assert holds("language", "nin", "fr") is False


def test_equality_of_lists_and_objects_is_strict() -> None:
    context = {"tags": [1, "a"], "meta": {"k": 1}}
    assert holds("tags", "=", [1.0, "a"], context) is True
    assert holds("tags", "=", [True, "a"], context) is False
    assert holds("meta", "=", {"k": 1}, context) is True
    assert holds("meta", "=", {"k": "1"}, context) is False


def test_unknown_operator_is_rejected() -> None:
    with pytest.raises(ValueError, match="~"):
        holds("age", "~", 1)


COMPOSED_E_ACUTE, DECOMPOSED_E_ACUTE = "\u00e9", "e\u0301"  # one character; "e" and a combining accent


@pytest.mark.parametrize(
    ("sent", "written"), [(COMPOSED_E_ACUTE, DECOMPOSED_E_ACUTE), (DECOMPOSED_E_ACUTE, COMPOSED_E_ACUTE)]
)
def test_text_typed_in_either_unicode_form_takes_the_same_branch(sent: str, written: str) -> None:
    context = {"city": f"Gen{sent}ve"}
    assert holds("city", "=", f"Gen{written}ve", context) is True
    assert holds("city", "!=", f"Gen{written}ve", context) is False
    assert holds("city", "in", ["Lyon", f"Gen{written}ve"], context) is True
    assert holds("city", "nin", [f"Gen{written}ve"], context) is False
    assert holds("city", ">=", f"Gen{written}ve", context) is True
    assert holds("city", "<", f"Gen{written}ve", context) is False


@given(st.text())
def test_a_string_equals_its_decomposed_and_composed_forms(text: str) -> None:
    for form in ("NFC", "NFD"):
        written = unicodedata.normalize(form, text)
        assert holds("name", "=", written, {"name": text}) is True
        assert holds("name", "<=", written, {"name": text}) is True
