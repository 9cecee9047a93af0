"""Run explorer sessions: a random id in an HttpOnly cookie, kept in Postgres only as its SHA-256.

A session stands for the API key it was opened with: each request looks the key up again, so revoking the
key ends its sessions at once. The CSRF token of a session is an HMAC of its id: nothing more to store,
and a page of another origin can read neither.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Final

from api.api_keys import Principal, parse_scopes
from events.pg import Queryable

SESSION_COOKIE: Final = "pjs_ui_session"
SIGN_IN_COOKIE: Final = "pjs_ui_sign_in"
"""Before a session exists, the sign-in form's CSRF token is checked against this cookie (double submit)."""

_ID_BYTES: Final = 32


def new_session_id() -> str:
    return secrets.token_urlsafe(_ID_BYTES)


def session_hash(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode()).digest()


def csrf_token_of(session_id: str) -> str:
    """The session's CSRF token (derived, so a forged form needs the HttpOnly session id itself)."""
    return hmac.new(session_id.encode(), b"pjs-ui-csrf", hashlib.sha256).hexdigest()


def tokens_match(expected: str, presented: str | None) -> bool:
    """Whether a presented token is the expected one, compared in constant time."""
    return presented is not None and hmac.compare_digest(expected.encode(), presented.encode())


async def open_session(db: Queryable, principal: Principal, session_id: str, lifetime: timedelta) -> None:
    """Store a new session of the principal's key (and forget every expired one on the way)."""
    if principal.kind != "key":
        raise ValueError("a run explorer session stands for an API key")
    await db.execute("DELETE FROM ui_sessions WHERE expires_at < now()")
    await db.execute(
        "INSERT INTO ui_sessions (session_hash, key_id, expires_at) VALUES ($1, $2, now() + $3)",
        session_hash(session_id),
        principal.caller_id,
        lifetime,
    )


async def session_principal(db: Queryable, session_id: str) -> Principal | None:
    """The caller a live session stands for; None once it expired, was closed, or its key was revoked."""
    row = await db.fetchrow(
        """
        SELECT k.key_id, k.tenant_id, k.scopes
        FROM ui_sessions s JOIN api_keys k USING (key_id)
        WHERE s.session_hash = $1 AND s.expires_at > now() AND k.revoked_at IS NULL
        """,
        session_hash(session_id),
    )
    if row is None:
        return None
    return Principal(row["tenant_id"], row["key_id"], parse_scopes(list(row["scopes"])))


async def close_session(db: Queryable, session_id: str) -> None:
    await db.execute("DELETE FROM ui_sessions WHERE session_hash = $1", session_hash(session_id))
