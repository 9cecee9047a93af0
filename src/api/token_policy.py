"""What an access token must say to be accepted (`TokenPolicy`), and this service as a client of the
identity provider (`SignInClient`), apart from the code that uses them, so the settings can build and
validate them without loading the JWT and HTTP libraries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from api.api_keys import ALL_SCOPES, Scope

ASYMMETRIC_ALGORITHMS: Final = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
"""The algorithms a token may be signed with: a shared-secret one (HS256) or `none` never is."""


@dataclass(frozen=True)
class TokenPolicy:
    """What a token must say to be accepted, and which claims carry its tenant and scopes."""

    issuer: str
    audience: str
    tenants: frozenset[str]
    scopes: frozenset[Scope] = frozenset(ALL_SCOPES - {Scope.ADMIN})
    algorithms: tuple[str, ...] = ("RS256", "ES256")
    tenant_claim: str = "pjs_tenant"
    scope_claim: str = "scope"
    leeway_seconds: float = 30.0

    def __post_init__(self) -> None:
        if problem := algorithms_problem(self.algorithms):
            raise ValueError(problem)


def algorithms_problem(algorithms: Sequence[str]) -> str | None:
    """Why a list of accepted algorithms is unsafe or empty, or None when it is fine."""
    refused = sorted(set(algorithms) - ASYMMETRIC_ALGORITHMS)
    if refused:
        return f"token algorithms must be asymmetric signatures, not {', '.join(refused)}"
    return None if algorithms else "at least one token algorithm is needed"


SIGN_IN_CALLBACK_PATH: Final = "/ui/login/provider/callback"


@dataclass(frozen=True)
class SignInClient:
    """This service as a client of the provider, as registered there."""

    client_id: str
    authorization_url: str
    token_url: str
    redirect_url: str  # where the provider sends the browser back: .../ui/login/provider/callback
    scope: str = "openid"
    client_secret: str | None = None
