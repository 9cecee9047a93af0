"""OAuth2/OIDC access tokens (signed JWTs) as callers: verified against the provider's keys, mapped to a
tenant and scopes by their claims.

A token is accepted only when its signature verifies with a key the provider publishes, under one of the
configured asymmetric algorithms, and its issuer, audience, expiry and subject are present and right. Its
tenant is the tenant *name* in `tenant_claim` (as `pjs tenants create` named it), and must be one of the
tenants the provider is trusted for: whoever administers the provider can mint any claim, so it acts for
those tenants only. Its scopes are those of `scope_claim` that the policy lets tokens carry (a
space-separated string, or a list as some providers send `scp`). Refusals say what was wrong in general
terms and never repeat the token.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Final
from uuid import UUID

import jwt

from api.api_keys import Principal, parse_scopes
from api.jwks import RemoteKeySet, key_for_algorithm
from api.token_policy import TokenPolicy
from events.pg import Queryable

MAX_TOKEN_CHARS: Final = 8192
MAX_SUBJECT_CHARS: Final = 255
_TENANT_CACHE_SECONDS: Final = 60.0
_FAR_ENOUGH_SECONDS: Final = 30 * 24 * 3600.0  # past any session's lifetime


class TokenRefused(Exception):
    """The token is not one this service accepts; the message says why, without repeating it."""


def looks_like_a_token(presented: str) -> bool:
    """Whether a bearer credential is shaped like a signed JWT (three base64url parts)."""
    return presented.count(".") == 2 and len(presented) <= MAX_TOKEN_CHARS


def scopes_in(value: object) -> list[str]:
    """Scope names from a claim: a space-separated string or a list of strings; anything else is none."""
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        return [name for name in value if isinstance(name, str)]
    return []


class TokenVerifier:
    """Turns a presented access token into the `Principal` it stands for, or refuses it."""

    def __init__(
        self, policy: TokenPolicy, keys: RemoteKeySet, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.policy = policy
        self.keys = keys
        self._clock = clock
        self._trusted: dict[str, UUID] = {}
        self._trusted_until = float("-inf")

    async def principal_for(self, db: Queryable, token: str) -> Principal:
        """The token's caller; `TokenRefused` when it is not valid, `KeySetUnavailable` when no keys are."""
        return await self._principal(db, await self._verified_claims(token))

    async def caller_until(self, db: Queryable, token: str) -> tuple[Principal, datetime]:
        """The token's caller and when the token expires (what a session opened with it must not outlive)."""
        claims = await self._verified_claims(token)
        expires = min(int(claims["exp"]), int(time.time() + _FAR_ENOUGH_SECONDS))  # a far `exp` is no error
        return await self._principal(db, claims), datetime.fromtimestamp(expires, UTC)

    async def admits(self, db: Queryable, principal: Principal) -> Principal | None:
        """A token's caller (a run explorer session's) as the policy admits it now: None when its tenant is
        not one the provider may act for any more, its scopes narrowed to those tokens may carry now."""
        if principal.tenant_id not in (await self._trusted_tenants(db)).values():
            return None
        return replace(principal, scopes=principal.scopes & self.policy.scopes)

    async def _principal(self, db: Queryable, claims: dict[str, Any]) -> Principal:
        claim = self.policy.tenant_claim
        tenant_name = claims.get(claim)
        if not isinstance(tenant_name, str) or not _printable(tenant_name, 200):
            raise TokenRefused(f"the token has no `{claim}` claim naming a tenant")
        tenant_id = (await self._trusted_tenants(db)).get(tenant_name)
        if tenant_id is None:
            raise TokenRefused(f"the token's `{claim}` names no tenant this identity provider may act for")
        subject = claims["sub"]
        if not isinstance(subject, str) or not _printable(subject, MAX_SUBJECT_CHARS):
            raise TokenRefused(f"the token's subject must be 1 to {MAX_SUBJECT_CHARS} printable characters")
        scopes = parse_scopes(scopes_in(claims.get(self.policy.scope_claim))) & self.policy.scopes
        return Principal(tenant_id, subject, scopes, kind="token")

    async def _verified_claims(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as malformed:
            raise TokenRefused("the token is malformed") from malformed
        algorithm = header.get("alg")
        if algorithm not in self.policy.algorithms:
            raise TokenRefused("the token is signed with an algorithm this service does not accept")
        entry = await self.keys.key_for(header.get("kid"))  # PyJWT refused a `kid` that is not text
        if entry is None:
            raise TokenRefused("the token is signed with a key the identity provider does not publish")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key_for_algorithm(entry, algorithm),
                algorithms=[algorithm],
                audience=self.policy.audience,
                issuer=self.policy.issuer,
                leeway=self.policy.leeway_seconds,
                options={"require": ["exp", "iss", "aud", "sub"], "enforce_minimum_key_length": True},
            )
        except jwt.ExpiredSignatureError as expired:
            raise TokenRefused("the token has expired") from expired
        except jwt.PyJWTError as invalid:  # InvalidKeyError too: a key of another type than `alg` says
            raise TokenRefused(f"the token is not valid ({_reason(invalid)})") from invalid
        return claims

    async def _trusted_tenants(self, db: Queryable) -> dict[str, UUID]:
        """The ids of the tenants the provider may act for, by name: one query a minute at most, so a
        tenant created (or named in the settings) a moment ago is found within a minute."""
        if self._clock() >= self._trusted_until:
            rows = await db.fetch(
                "SELECT name, tenant_id FROM tenants WHERE name = ANY($1::text[])",
                sorted(self.policy.tenants),
            )
            self._trusted = {row["name"]: row["tenant_id"] for row in rows}
            self._trusted_until = self._clock() + _TENANT_CACHE_SECONDS
        return self._trusted


def _printable(text: str, most: int) -> bool:
    """1 to `most` characters, none of them a control character (they would reach the audit log)."""
    return 0 < len(text) <= most and text.isprintable()


_REASONS: Final[tuple[tuple[type[jwt.PyJWTError], str], ...]] = (
    (jwt.InvalidSignatureError, "bad signature"),
    (jwt.InvalidAudienceError, "wrong audience"),
    (jwt.InvalidIssuerError, "wrong issuer"),
    (jwt.ImmatureSignatureError, "not valid yet"),
    (jwt.MissingRequiredClaimError, "a required claim is missing"),
    (jwt.InvalidKeyError, "a key too short or unfit for its algorithm"),
    (jwt.InvalidAlgorithmError, "an algorithm its key does not allow"),
)


def _reason(error: jwt.PyJWTError) -> str:
    """A short cause that names no claim value (the library's own messages may quote them)."""
    return next((reason for kind, reason in _REASONS if isinstance(error, kind)), "malformed")
