"""The settings that name a clinic's identity provider: all or nothing, safe algorithms and URLs, the
tenants it is trusted for, and the run explorer as its client."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from api.api_keys import Scope
from pjs.settings import Settings

PROVIDER = {
    "oidc_issuer": "https://idp.example/",
    "oidc_audience": "pjs-api",
    "oidc_jwks_url": "https://idp.example/jwks",
    "oidc_tenants": ["st-mary"],
}


def test_a_provider_is_named_whole_with_its_tenants_or_not_at_all() -> None:
    policy = Settings(**PROVIDER).token_policy()  # type: ignore[arg-type]

    assert policy is not None and policy.tenants == {"st-mary"} and Scope.ADMIN not in policy.scopes
    assert Settings().token_policy() is None
    with pytest.raises(ValidationError, match="together"):
        Settings(oidc_issuer="https://idp.example/")
    with pytest.raises(ValidationError, match="PJS_OIDC_TENANTS"):
        Settings(**{**PROVIDER, "oidc_tenants": []})  # type: ignore[arg-type]


@pytest.mark.parametrize("algorithms", [["HS256"], ["RS256", "none"], []])
def test_shared_secret_and_unsigned_algorithms_are_refused(algorithms: list[str]) -> None:
    with pytest.raises(ValidationError, match="PJS_OIDC_ALGORITHMS"):
        Settings(**PROVIDER, oidc_algorithms=algorithms)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        ("https://idp.example/jwks", True),
        ("http://127.0.0.1:8080/jwks", True),
        ("http://localhost/jwks", True),
        ("http://idp.example/jwks", False),
        ("ftp://idp.example/jwks", False),
        ("https:///jwks", False),
    ],
)
def test_the_key_set_is_fetched_over_https_or_from_loopback(url: str, accepted: bool) -> None:
    settings = {**PROVIDER, "oidc_jwks_url": url}
    if accepted:
        assert Settings(**settings).oidc_jwks_url == url  # type: ignore[arg-type]
    else:
        with pytest.raises(ValidationError, match="https"):
            Settings(**settings)  # type: ignore[arg-type]


CLIENT = {
    "oidc_client_id": "pjs-run-explorer",
    "oidc_authorization_url": "https://idp.example/authorize",
    "oidc_token_url": "https://idp.example/token",
    "oidc_redirect_url": "https://pjs.clinic.example/ui/login/provider/callback",
}


def test_the_run_explorer_is_a_client_of_the_provider_only_when_named_whole() -> None:
    client = Settings(**PROVIDER, **CLIENT).sign_in_client()  # type: ignore[arg-type]

    assert client is not None and client.scope == "openid" and client.client_secret is None
    assert Settings(**PROVIDER).sign_in_client() is None  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="PJS_OIDC_TOKEN_URL"):
        Settings(**PROVIDER, **{**CLIENT, "oidc_token_url": None})  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="provider's own"):
        Settings(**CLIENT)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("oidc_token_url", "http://idp.example/token", "must be https"),
        ("oidc_authorization_url", "javascript:alert(1)", "must be https"),
        (
            "oidc_redirect_url",
            "https://pjs.clinic.example/elsewhere",
            "must end with /ui/login/provider/callback",
        ),
    ],
)
def test_the_clients_urls_are_safe_and_come_back_to_the_callback(
    field: str, value: str, problem: str
) -> None:
    with pytest.raises(ValidationError, match=problem):
        Settings(**PROVIDER, **{**CLIENT, field: value})  # type: ignore[arg-type]


def test_a_client_secret_without_a_client_is_refused() -> None:
    with pytest.raises(ValidationError, match="PJS_OIDC_CLIENT_SECRET needs PJS_OIDC_CLIENT_ID"):
        Settings(**PROVIDER, oidc_client_secret="s3cret")  # type: ignore[arg-type]
