"""The edge's shared body checks: text Postgres can store, nesting depth, string lengths, 64-bit integers."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from api.limits import INT64_MAX, Limits, exact_integers, json_problems, unstorable_text

LIMITS = Limits(max_json_depth=4, max_id_length=5, max_text_length=10)

storable_text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=5)
numbers = st.integers(-INT64_MAX, INT64_MAX) | st.floats(allow_nan=False)
json_values = st.recursive(
    st.none() | st.booleans() | numbers | storable_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(storable_text, inner, max_size=3),
    max_leaves=10,
)
wrappers = st.lists(st.sampled_from(["list", "dict"]), max_size=3)


def wrap(value: Any, layers: list[str]) -> tuple[Any, str]:
    path = ""
    for layer in layers:
        value = [value] if layer == "list" else {"k": value}
    for layer in reversed(layers):
        path = f"{path}[0]" if layer == "list" else (f"{path}.k" if path else "k")
    return value, path


def test_nul_and_lone_surrogates_cannot_be_stored_but_any_other_text_can() -> None:
    assert unstorable_text("a\x00b") is not None
    assert unstorable_text("\ud800") is not None
    assert unstorable_text("Grüße 🩺 名前") is None


@given(json_values.filter(lambda value: not isinstance(value, list | dict)) | st.just([]), wrappers)
def test_shallow_storable_json_breaks_no_limit(value: Any, layers: list[str]) -> None:
    wrapped, _ = wrap(value, layers)

    assert json_problems(wrapped, Limits()) == []


@given(wrappers, st.sampled_from(["\x00", "a\ud800"]))
def test_unstorable_text_is_reported_where_it_is(layers: list[str], text: str) -> None:
    wrapped, path = wrap(text, layers)

    problems = json_problems(wrapped, LIMITS)

    assert [problem.path for problem in problems] == [path]


def test_nesting_deeper_than_the_limit_is_reported_once() -> None:
    assert json_problems([[[[]]]], LIMITS) == []
    problems = json_problems([[[[[[[]]]]]]], LIMITS)

    assert [problem.path for problem in problems] == ["[0][0][0][0]"]
    assert "PJS_MAX_JSON_DEPTH" in problems[0].message


def test_ids_and_names_are_held_to_the_shorter_limit() -> None:
    problems = json_problems({"name": "n" * 6, "note": "t" * 6, "nodes": [{"id": "i" * 6}]}, LIMITS)

    assert {problem.path: problem.message.rpartition("(")[2] for problem in problems} == {
        "name": "PJS_MAX_ID_LENGTH).",
        "nodes[0].id": "PJS_MAX_ID_LENGTH).",
    }


def test_a_bad_key_is_reported_at_its_object_without_echoing_it() -> None:
    problems = json_problems({"notes": {"secret\x00": 1, "k" * 6: 2}}, LIMITS)

    assert [problem.path for problem in problems] == ["notes", "notes"]
    assert all("secret" not in problem.message for problem in problems)


def test_an_integer_beyond_64_bits_that_orjson_rounds_is_found_in_the_raw_body() -> None:
    raw = b'{"ids": [1e22, 12345678901234567890123], "big": 18446744073709551615}'

    problems = json_problems(orjson.loads(raw), LIMITS, raw)

    assert [problem.path for problem in problems] == ["ids[1]", "big"]
    assert all("64 bits" in problem.message for problem in problems)


def test_large_floats_written_as_floats_break_no_limit() -> None:
    raw = b'{"a": 1e22, "b": -1.5e300, "c": 9223372036854775807.0}'

    assert json_problems(orjson.loads(raw), LIMITS, raw) == []


def test_a_body_checked_later_gets_its_huge_integers_exact_and_others_unchanged() -> None:
    huge = b'{"items": [{"mrn": 12345678901234567890123}]}'
    plain = b'{"items": [{"mrn": 4711, "score": 1e22}]}'

    assert exact_integers(orjson.loads(huge), huge) == {"items": [{"mrn": 12345678901234567890123}]}
    assert exact_integers(orjson.loads(plain), plain) == {"items": [{"mrn": 4711, "score": 1e22}]}
