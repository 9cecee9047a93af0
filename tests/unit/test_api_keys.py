"""API keys as values: the format parses back, only the exact key verifies, scopes never widen."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from api.api_keys import KEY_PREFIX, Scope, issue_key, matches, parse_key, parse_scopes


def test_an_issued_key_is_prefixed_parses_back_and_verifies_against_its_hash() -> None:
    issued = issue_key()

    presented = parse_key(issued.key)

    assert issued.key.startswith(f"{KEY_PREFIX}{issued.key_id}_")
    assert presented is not None and presented.key_id == issued.key_id
    assert matches(presented, issued.secret_hash)
    assert len(presented.secret) >= 43  # 32 random bytes, base64url
    assert presented.secret.encode() not in issued.secret_hash


def test_two_keys_never_share_an_id_or_a_secret() -> None:
    keys = [issue_key() for _ in range(200)]

    assert len({key.key_id for key in keys}) == len({key.key for key in keys}) == 200


@given(position=st.integers(min_value=len(KEY_PREFIX) + 17, max_value=200), replacement=st.characters())
def test_a_key_with_any_character_of_its_secret_changed_does_not_verify(
    position: int, replacement: str
) -> None:
    issued = issue_key()
    index = min(position, len(issued.key) - 1)
    altered = issued.key[:index] + replacement + issued.key[index + 1 :]

    presented = parse_key(altered)

    assert altered == issued.key or presented is None or not matches(presented, issued.secret_hash)


def test_one_keys_hash_does_not_verify_another_keys_secret() -> None:
    first, second = issue_key(), issue_key()
    presented = parse_key(second.key)

    assert presented is not None and not matches(presented, first.secret_hash)


@given(st.text(max_size=120))
def test_text_that_is_not_an_issued_key_never_parses_as_one_unless_shaped_like_one(text: str) -> None:
    presented = parse_key(text)

    assert presented is None or (text.startswith(KEY_PREFIX) and len(presented.key_id) == 16)


def test_unknown_scope_names_are_ignored_never_granted() -> None:
    assert parse_scopes(["runs:read", "superuser", "admin "]) == frozenset({Scope.RUNS_READ})
