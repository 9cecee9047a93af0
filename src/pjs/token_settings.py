"""The access-token part of the settings: an OAuth2/OIDC identity provider whose signed JWTs the API accepts
beside its own API keys (api/bearer_tokens.py; docs/api.md "Access tokens")."""

from __future__ import annotations

from ipaddress import ip_address
from typing import Self
from urllib.parse import urlsplit

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings

from api.api_keys import ALL_SCOPES, Scope
from api.token_policy import TokenPolicy, algorithms_problem


class TokenSettings(BaseSettings):
    """Mixed into `pjs.settings.Settings`, whose configuration (the PJS_ prefix) applies to these fields."""

    oidc_issuer: str | None = Field(
        default=None,
        description="The `iss` every access token must carry; unset = API keys only. Needs "
        "PJS_OIDC_AUDIENCE and PJS_OIDC_JWKS_URL too.",
    )
    oidc_audience: str | None = Field(default=None, description="The `aud` every access token must carry.")
    oidc_jwks_url: str | None = Field(
        default=None,
        description="Where the provider publishes its signing keys (JWKS); https, or http on loopback only.",
    )
    oidc_tenants: list[str] = Field(
        default=[],
        description="The tenants (by name) the provider's tokens may act for, a JSON list; needed with a "
        "provider: whoever administers it can put any tenant in a token.",
    )
    oidc_scopes: list[Scope] = Field(
        default=sorted(ALL_SCOPES - {Scope.ADMIN}),
        description="The scopes a token may carry (JSON list); those of its claim outside it are ignored. "
        "Every scope but `admin` by default.",
    )
    oidc_algorithms: list[str] = Field(
        default=["RS256", "ES256"],
        description="Signature algorithms accepted (JSON list); asymmetric ones only (RS*, PS*, ES*, EdDSA).",
    )
    oidc_tenant_claim: str = Field(
        default="pjs_tenant", description="The claim naming the caller's tenant, as `pjs tenants create` did."
    )
    oidc_scope_claim: str = Field(
        default="scope", description="The claim carrying the scopes: a space-separated string or a list."
    )
    oidc_leeway_seconds: float = Field(
        default=30.0, ge=0, le=300, description="Clock skew allowed when checking `exp` and `nbf`, seconds."
    )
    oidc_jwks_cache_seconds: float = Field(
        default=300.0,
        ge=30,
        description="How long the provider's keys are used before they are fetched again.",
    )

    @model_validator(mode="after")
    def _provider_whole(self) -> Self:
        named = [self.oidc_issuer, self.oidc_audience, self.oidc_jwks_url]
        if any(named) and not all(named):
            raise ValueError("set PJS_OIDC_ISSUER, PJS_OIDC_AUDIENCE and PJS_OIDC_JWKS_URL together, or none")
        if all(named) and not self.oidc_tenants:
            raise ValueError("PJS_OIDC_TENANTS must name the tenants the identity provider may act for")
        if problem := algorithms_problem(self.oidc_algorithms):
            raise ValueError(f"PJS_OIDC_ALGORITHMS: {problem}")
        if self.oidc_jwks_url is not None and not _fetchable_safely(self.oidc_jwks_url):
            raise ValueError("PJS_OIDC_JWKS_URL must be https (or http to a loopback address)")
        return self

    def token_policy(self) -> TokenPolicy | None:
        """What an access token must say, or None when no identity provider is configured."""
        if self.oidc_issuer is None or self.oidc_audience is None:
            return None
        return TokenPolicy(
            issuer=self.oidc_issuer,
            audience=self.oidc_audience,
            tenants=frozenset(self.oidc_tenants),
            scopes=frozenset(self.oidc_scopes),
            algorithms=tuple(self.oidc_algorithms),
            tenant_claim=self.oidc_tenant_claim,
            scope_claim=self.oidc_scope_claim,
            leeway_seconds=self.oidc_leeway_seconds,
        )


def _fetchable_safely(url: str) -> bool:
    """https anywhere; plain http only to a loopback address (a local provider in development or tests)."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return bool(parts.hostname)
    if parts.scheme != "http" or not parts.hostname:
        return False
    try:
        return ip_address(parts.hostname).is_loopback
    except ValueError:
        return parts.hostname == "localhost"
