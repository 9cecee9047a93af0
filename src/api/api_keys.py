"""API keys as values: scopes, the key format `pjs_live_<key id>_<secret>`, and the stored hash.

A key's secret is 32 random bytes, so one SHA-256 of it cannot be brute-forced and needs no salt or slow
hash (bcrypt/argon2 protect guessable passwords, and would cost milliseconds on every request).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Literal
from uuid import UUID

KEY_PREFIX: Final = "pjs_live_"
"""Every key starts with this, so a leaked key is recognisable (and secret scanners can look for it)."""

_KEY_ID_HEX_CHARS: Final = 16
_SECRET_BYTES: Final = 32


class Scope(StrEnum):
    """What a key may do; each operation needs exactly one. `admin` is for the ops probes, not a superset."""

    JOURNEYS_READ = "journeys:read"
    JOURNEYS_WRITE = "journeys:write"
    RUNS_TRIGGER = "runs:trigger"
    RUNS_READ = "runs:read"
    RUNS_CANCEL = "runs:cancel"
    AUDIT_READ = "audit:read"
    PATIENTS_ERASE = "patients:erase"
    ADMIN = "admin"


ALL_SCOPES: Final = frozenset(Scope)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the single source for routes, audit entries, rate limits and tenant scoping."""

    tenant_id: UUID
    caller_id: str  # the API key's id, or the access token's subject
    scopes: frozenset[Scope]
    kind: Literal["key", "token"] = "key"

    @property
    def actor(self) -> str:
        """How the audit log names this caller (`key:<key id>` or `token:<subject>`)."""
        return f"{self.kind}:{self.caller_id}"


@dataclass(frozen=True)
class IssuedKey:
    """A new key: `key` is shown once and never stored; `secret_hash` is what the database keeps."""

    key: str
    key_id: str
    secret_hash: bytes


@dataclass(frozen=True)
class PresentedKey:
    """A key as a client sent it, split into its id (to look it up) and its secret (to verify)."""

    key_id: str
    secret: str


def issue_key() -> IssuedKey:
    key_id = secrets.token_hex(_KEY_ID_HEX_CHARS // 2)
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    return IssuedKey(f"{KEY_PREFIX}{key_id}_{secret}", key_id, secret_hash(key_id, secret))


def parse_key(key: str) -> PresentedKey | None:
    """The key's parts, or None when it is not shaped like a key this service issues."""
    if not key.startswith(KEY_PREFIX):
        return None
    key_id, separator, secret = key.removeprefix(KEY_PREFIX).partition("_")
    well_formed = (
        separator == "_"
        and len(key_id) == _KEY_ID_HEX_CHARS
        and all(c in "0123456789abcdef" for c in key_id)
        and 32 <= len(secret) <= 128
        and secret.isascii()
    )
    return PresentedKey(key_id, secret) if well_formed else None


def secret_hash(key_id: str, secret: str) -> bytes:
    """SHA-256 over id and secret: a hash copied from one key's row cannot be replayed as another's."""
    return hashlib.sha256(f"{key_id}:{secret}".encode()).digest()


def matches(presented: PresentedKey, stored_hash: bytes) -> bool:
    """Whether the presented secret is the stored one, compared in constant time."""
    return hmac.compare_digest(secret_hash(presented.key_id, presented.secret), stored_hash)


def parse_scopes(names: list[str]) -> frozenset[Scope]:
    """Scopes from their names; unknown names (from a newer version) are ignored, never granted."""
    known = {scope.value for scope in Scope}
    return frozenset(Scope(name) for name in names if name in known)
