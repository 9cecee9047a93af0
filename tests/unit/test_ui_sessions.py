"""Run explorer session ids and CSRF tokens: random, stored only hashed, tokens bound to their session."""

from __future__ import annotations

from api.ui.sessions import csrf_token_of, new_session_id, session_hash, tokens_match


def test_each_session_has_its_own_id_hash_and_csrf_token() -> None:
    first, second = new_session_id(), new_session_id()
    assert first != second and len(first) >= 43
    assert session_hash(first) != session_hash(second) and first.encode() not in session_hash(first)
    assert csrf_token_of(first) == csrf_token_of(first) != csrf_token_of(second)


def test_a_csrf_token_matches_only_its_own_session() -> None:
    session = new_session_id()
    assert tokens_match(csrf_token_of(session), csrf_token_of(session))
    assert not tokens_match(csrf_token_of(session), csrf_token_of(new_session_id()))
    assert not tokens_match(csrf_token_of(session), None)
    assert not tokens_match(csrf_token_of(session), "")
