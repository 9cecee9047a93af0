"""Run explorer sessions: a random id in an HttpOnly cookie, kept in Postgres only as its SHA-256.

A session stands for the API key it was opened with: each request looks the key up again, so revoking the
key ends its sessions at once. Or it stands for the access token a sign-in with the identity provider
brought: its tenant, subject and scopes are kept with it, and it ends no later than the token would.
The CSRF token of a session is an HMAC of its id: nothing more to store, and a page of another origin can
read neither.
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
    """Store a new session of the principal's key or token (and forget every expired one on the way)."""
    await db.execute("DELETE FROM ui_sessions WHERE expires_at < now()")
    token = principal.kind == "token"
    await db.execute(
        """
        INSERT INTO ui_sessions (session_hash, key_id, subject, tenant_id, scopes, expires_at)
        VALUES ($1, $2, $3, $4, $5, now() + $6)
        """,
        session_hash(session_id),
        None if token else principal.caller_id,
        principal.caller_id if token else None,
        principal.tenant_id if token else None,
        sorted(scope.value for scope in principal.scopes) if token else None,
        lifetime,
    )


async def session_principal(db: Queryable, session_id: str) -> Principal | None:
    """The caller a live session stands for; None once it expired, was closed, or its key was revoked."""
    row = await db.fetchrow(
        """
        SELECT s.key_id, s.subject,
               coalesce(k.tenant_id, s.tenant_id) AS tenant_id, coalesce(k.scopes, s.scopes) AS scopes
        FROM ui_sessions s LEFT JOIN api_keys k ON k.key_id = s.key_id AND k.revoked_at IS NULL
        WHERE s.session_hash = $1 AND s.expires_at > now() AND (k.key_id IS NOT NULL OR s.subject IS NOT NULL)
        """,
        session_hash(session_id),
    )
    if row is None:
        return None
    scopes = parse_scopes(list(row["scopes"]))
    if row["subject"] is not None:
        return Principal(row["tenant_id"], row["subject"], scopes, kind="token")
    return Principal(row["tenant_id"], row["key_id"], scopes)


async def close_session(db: Queryable, session_id: str) -> None:
    await db.execute("DELETE FROM ui_sessions WHERE session_hash = $1", session_hash(session_id))
