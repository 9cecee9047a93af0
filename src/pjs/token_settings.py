"""The access-token part of the settings: an OAuth2/OIDC identity provider whose signed JWTs the API accepts
beside its own API keys (api/bearer_tokens.py; docs/api.md "Access tokens")."""

from __future__ import annotations

from ipaddress import ip_address
from typing import Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings

from api.api_keys import ALL_SCOPES, Scope
from api.token_policy import SIGN_IN_CALLBACK_PATH, SignInClient, TokenPolicy, algorithms_problem


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

    # Signing in to the run explorer with the provider (api/ui/provider_sign_in.py); optional.
    oidc_client_id: str | None = Field(
        default=None,
        description="The run explorer's client id at the provider; unset = sign in with API keys only.",
    )
    oidc_client_secret: SecretStr | None = Field(
        default=None,
        description="Its client secret (HTTP Basic at the token endpoint); unset = a public client.",
    )
    oidc_authorization_url: str | None = Field(
        default=None, description="The provider's authorization endpoint."
    )
    oidc_token_url: str | None = Field(default=None, description="The provider's token endpoint.")
    oidc_redirect_url: str | None = Field(
        default=None,
        description="This service's `/ui/login/provider/callback` URL as registered at the provider.",
    )
    oidc_sign_in_scope: str = Field(
        default="openid",
        description="The scope asked for at sign-in (space-separated), as the provider wants it.",
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
            raise ValueError(
                "PJS_OIDC_JWKS_URL must be https (or http to a loopback address), no user or fragment"
            )
        if problem := self._sign_in_problem():
            raise ValueError(problem)
        return self

    def _sign_in_problem(self) -> str | None:
        client = {
            "PJS_OIDC_CLIENT_ID": self.oidc_client_id,
            "PJS_OIDC_AUTHORIZATION_URL": self.oidc_authorization_url,
            "PJS_OIDC_TOKEN_URL": self.oidc_token_url,
            "PJS_OIDC_REDIRECT_URL": self.oidc_redirect_url,
        }
        named = [value for value in client.values() if value]
        if not named:
            return (
                "PJS_OIDC_CLIENT_SECRET needs PJS_OIDC_CLIENT_ID and the rest"
                if self.oidc_client_secret
                else None
            )
        if len(named) < len(client) or self.oidc_issuer is None:
            needed = ", ".join(client)
            return f"signing in with the provider needs {needed}, and the provider's own PJS_OIDC_* settings"
        unsafe = [name for name, url in list(client.items())[1:] if not _fetchable_safely(str(url))]
        if unsafe:
            return f"{', '.join(unsafe)} must be https (or http to a loopback address), no user or fragment"
        if not urlsplit(str(self.oidc_redirect_url)).path.endswith(SIGN_IN_CALLBACK_PATH):
            return f"PJS_OIDC_REDIRECT_URL must end with {SIGN_IN_CALLBACK_PATH}"
        return None

    def sign_in_client(self) -> SignInClient | None:
        """The run explorer as the provider's client, or None when it signs in with API keys only."""
        client_id, authorization_url = self.oidc_client_id, self.oidc_authorization_url
        token_url, redirect_url = self.oidc_token_url, self.oidc_redirect_url
        if not (client_id and authorization_url and token_url and redirect_url):
            return None
        secret = self.oidc_client_secret.get_secret_value() if self.oidc_client_secret else None
        return SignInClient(
            client_id, authorization_url, token_url, redirect_url, self.oidc_sign_in_scope, secret
        )

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
    """https anywhere; plain http only to a loopback address (a local provider in development or tests);
    never with a user in it or a fragment (which would swallow the query a redirect adds)."""
    parts = urlsplit(url)
    if "#" in url or parts.username is not None or parts.password is not None:
        return False
    if parts.scheme == "https":
        return bool(parts.hostname)
    if parts.scheme != "http" or not parts.hostname:
        return False
    try:
        return ip_address(parts.hostname).is_loopback
    except ValueError:
        return parts.hostname == "localhost"
