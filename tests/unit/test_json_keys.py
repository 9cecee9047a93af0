"""Repeated keys in a JSON body: found at their paths, and never in a body without any."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from api.json_keys import repeated_keys

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


@given(JSON_VALUES)
def test_a_body_whose_objects_name_each_key_once_has_no_repeats(value: Any) -> None:
    assert repeated_keys(orjson.dumps(value)) == []


def test_a_key_repeated_deep_in_the_body_is_named_by_its_path() -> None:
    body = b'{"patient": {"language": "en", "age": 70, "language": "es"}, "language": "en"}'

    assert [problem.path for problem in repeated_keys(body)] == ["patient.language"]


def test_every_repeated_key_of_an_object_and_of_objects_in_lists_is_named() -> None:
    body = b'{"items": [{"id": 1}, {"id": 2, "id": 3, "key": "a", "key": "b"}], "x": 1, "x": 1}'

    assert [problem.path for problem in repeated_keys(body)] == ["x"]  # the outer object stands for all
    assert [problem.path for problem in repeated_keys(body.replace(b', "x": 1, "x": 1', b""))] == [
        "items[1].id",
        "items[1].key",
    ]


def test_a_body_nested_beyond_any_limit_is_left_to_the_depth_limit() -> None:
    assert repeated_keys(b"[" * 100_000 + b"]" * 100_000) == []
