"""Access tokens of a clinic's identity provider, beside API keys: a signed JWT naming a tenant and scopes
acts as that tenant with those scopes; every other token is refused with 401 (503 while the provider's
keys cannot be had), and nothing of a token reaches a response or the log.

The provider is a real HTTP server on loopback publishing keys this test generates (tests/support).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
from collections.abc import AsyncIterator, Callable, Iterator

import asyncpg
import httpx
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from api.api_keys import Scope
from api.key_store import create_tenant
from pjs.settings import Settings
from support.api import app_client
from support.auth import bearer, issue_test_key
from support.identity_provider import (
    AUDIENCE,
    ISSUER,
    IdentityProvider,
    SigningKey,
    ec_key,
    identity_provider,
    rsa_key,
)
from support.journeys import message, patient

JOURNEY = {"name": "Pre-op", "start_node_id": "hello", "nodes": [message("hello")]}
REMOTE = ("203.0.113.7", 40000)  # not loopback: the ops probes need `admin` from here
EVERY_SCOPE = "journeys:read journeys:write runs:trigger runs:read runs:cancel audit:read"


@pytest.fixture
def provider() -> Iterator[IdentityProvider]:
    with identity_provider(rsa_key("rsa-2026"), ec_key("ec-2026")) as running:
        yield running


@pytest.fixture
def token_settings(settings: Settings, provider: IdentityProvider) -> Settings:
    provider_settings = {
        "oidc_issuer": ISSUER,
        "oidc_audience": AUDIENCE,
        "oidc_jwks_url": provider.jwks_url,
        "oidc_tenants": ["st-mary", "riverside"],
    }
    return settings.model_copy(update=provider_settings)


@pytest.fixture
async def clinics(settings: Settings) -> list[str]:
    """The two tenants the provider may act for, and a third it may not, as `pjs tenants create` made them."""
    connection = await asyncpg.connect(settings.resolved_migration_database_url())
    try:
        for name in ("st-mary", "riverside", "elsewhere"):
            await create_tenant(connection, name, by="operator:tests")
    finally:
        await connection.close()
    return ["st-mary", "riverside"]


@pytest.fixture
async def api(token_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client sending no credential of its own: each request brings its token."""
    async with app_client(token_settings, None) as (client, _):
        yield client


async def test_a_token_acts_for_its_tenant_and_the_audit_log_names_its_subject(
    api: httpx.AsyncClient, provider: IdentityProvider, clinics: list[str]
) -> None:
    nurse = bearer(provider.token(pjs_tenant=clinics[0], scope=EVERY_SCOPE))

    journey = await api.post("/journeys", json=JOURNEY, headers=nurse)
    run = await api.post(f"/journeys/{journey.json()['journeyId']}/trigger", json=patient(), headers=nurse)
    status = await api.get(f"/journeys/runs/{run.json()['runId']}", headers=nurse)
    audit = await api.get("/audit", headers=nurse)

    assert (journey.status_code, run.status_code, status.status_code) == (201, 202, 200)
    actors = {entry["actor"] for entry in audit.json()["entries"]}
    assert actors == {"token:nurse-4711", "operator:tests"}  # the tenant's creation names its operator


async def test_a_token_of_another_tenant_gets_404_for_a_run_it_does_not_own(
    api: httpx.AsyncClient, provider: IdentityProvider, clinics: list[str]
) -> None:
    ours = bearer(provider.token(pjs_tenant=clinics[0], scope=EVERY_SCOPE))
    theirs = bearer(provider.token(pjs_tenant=clinics[1], scope=EVERY_SCOPE, sub="clerk-9"))
    journey_id = (await api.post("/journeys", json=JOURNEY, headers=ours)).json()["journeyId"]
    run_id = (await api.post(f"/journeys/{journey_id}/trigger", json=patient(), headers=ours)).json()["runId"]

    assert (await api.get(f"/journeys/runs/{run_id}", headers=theirs)).status_code == 404
    assert (await api.get("/journeys", headers=theirs)).json()["journeys"] == []


async def test_scopes_come_from_a_string_or_a_list_and_a_missing_one_is_403_naming_it(
    api: httpx.AsyncClient, provider: IdentityProvider, clinics: list[str]
) -> None:
    reader = bearer(provider.token(pjs_tenant=clinics[0], scope="journeys:read"))
    listed = bearer(
        provider.token(
            provider.published[1], pjs_tenant=clinics[0], scope=["journeys:read", "journeys:write"]
        )
    )

    refused = await api.post("/journeys", json=JOURNEY, headers=reader)

    assert refused.status_code == 403
    assert (
        refused.json()["message"] == "This access token lacks the scope this operation needs: journeys:write."
    )
    assert (await api.get("/journeys", headers=reader)).status_code == 200
    assert (await api.post("/journeys", json=JOURNEY, headers=listed)).status_code == 201


def _forged(provider: IdentityProvider) -> str:
    """Signed with a key of the attacker's, under the provider's own key id."""
    impostor = rsa_key(provider.published[0].key_id)
    return provider.token(signed_with=impostor, pjs_tenant="st-mary", scope=EVERY_SCOPE)


def _hand_made(
    provider: IdentityProvider, algorithm: str, secret: bytes = b"", **header_fields: object
) -> str:
    """A token PyJWT would not make: `alg: none` (no signature), HS256 keyed with `secret`, odd headers."""
    header = {"alg": algorithm, "typ": "JWT", "kid": provider.published[0].key_id, **header_fields}
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": 4_000_000_000, "pjs_tenant": "st-mary"}
    signing_input = f"{_b64(orjson.dumps(header))}.{_b64(orjson.dumps(claims))}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest() if secret else b""
    return f"{signing_input}.{_b64(signature)}"


def _b64(value: bytes) -> str:
    return base64.urlsafe_b64encode(value).rstrip(b"=").decode()


def _public_key_as_hmac_secret(provider: IdentityProvider) -> str:
    """The classic confusion: HS256 "signed" with the provider's public key, which anyone can fetch."""
    public = provider.published[0].private.public_key()
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return _hand_made(provider, "HS256", pem)


REFUSED: dict[str, tuple[Callable[[IdentityProvider], str], str]] = {
    "expired": (lambda p: p.token(pjs_tenant="st-mary", exp=1_700_000_000), "the token has expired"),
    "another audience": (lambda p: p.token(pjs_tenant="st-mary", aud="billing"), "wrong audience"),
    "another issuer": (lambda p: p.token(pjs_tenant="st-mary", iss="https://evil.example/"), "wrong issuer"),
    "no expiry": (lambda p: p.token(pjs_tenant="st-mary", exp=None), "a required claim is missing"),
    "no subject": (lambda p: p.token(pjs_tenant="st-mary", sub=None), "a required claim is missing"),
    "not valid yet": (lambda p: p.token(pjs_tenant="st-mary", nbf=4_000_000_000), "not valid yet"),
    "no tenant": (lambda p: p.token(), "no `pjs_tenant` claim naming a tenant"),
    "an unknown tenant": (lambda p: p.token(pjs_tenant="nowhere"), "names no tenant this identity provider"),
    "a tenant the provider is not trusted for": (
        lambda p: p.token(pjs_tenant="elsewhere"),
        "names no tenant this identity provider may act for",
    ),
    "a control character in the tenant": (
        lambda p: p.token(pjs_tenant="st-mary\x00"),
        "no `pjs_tenant` claim",
    ),
    "a control character in the subject": (lambda p: p.token(pjs_tenant="st-mary", sub="a\nb"), "printable"),
    "a key id that is not a string": (lambda p: _hand_made(p, "RS256", kid=5), "the token is malformed"),
    "a critical header this service does not know": (
        lambda p: _hand_made(p, "RS256", crit=["exp"]),
        "the token is malformed",
    ),
    "forged signature": (_forged, "bad signature"),
    "alg none": (lambda p: _hand_made(p, "none"), "an algorithm this service does not accept"),
    "HS256 with the public key": (_public_key_as_hmac_secret, "an algorithm this service does not accept"),
    "an unpublished key": (lambda p: p.token(signed_with=rsa_key("stolen")), "a key the identity provider"),
    "a subject too long": (lambda p: p.token(pjs_tenant="st-mary", sub="s" * 256), "1 to 255 printable"),
    "three dots of garbage": (lambda p: "not.a.t0ken-garbage", "the token is malformed"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
async def test_a_token_that_is_not_right_is_401_saying_why_without_repeating_it(
    api: httpx.AsyncClient,
    provider: IdentityProvider,
    clinics: list[str],
    case: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    make, reason = REFUSED[case]
    token = make(provider)
    caplog.set_level(logging.DEBUG)

    response = await api.get("/journeys", headers=bearer(token))

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="pjs", error="invalid_token"'
    assert reason in response.json()["message"]
    signature = token.rpartition(".")[2]
    assert token not in response.text and (not signature or signature not in caplog.text)


async def test_a_key_rotated_in_is_fetched_and_made_up_key_ids_fetch_nothing_more(
    token_settings: Settings, provider: IdentityProvider, clinics: list[str]
) -> None:
    def token(key: SigningKey | None = None) -> dict[str, str]:
        return bearer(provider.token(key, pjs_tenant="st-mary", scope=EVERY_SCOPE))

    rotated = rsa_key("rsa-2027")
    made_up_keys = [rsa_key(f"made-up-{n}") for n in range(5)]  # made before the window opens: it is short
    async with app_client(token_settings, None) as (api, app):
        # 30 s by default; the six requests below must fall within one window, even on a loaded machine
        app.state.resources.tokens.keys.min_refetch_seconds = 5.0
        assert (await api.get("/journeys", headers=token())).status_code == 200
        provider.published.append(rotated)
        await asyncio.sleep(5.1)

        accepted = await api.get("/journeys", headers=token(rotated))
        made_up = [await api.get("/journeys", headers=token(key)) for key in made_up_keys]

    assert accepted.status_code == 200
    assert [response.status_code for response in made_up] == [401] * 5
    assert provider.fetches == 2


async def test_while_the_provider_never_answered_tokens_get_503_and_api_keys_still_work(
    token_settings: Settings, provider: IdentityProvider, clinics: list[str]
) -> None:
    provider.available = False
    key = await issue_test_key(token_settings.resolved_migration_database_url(), tenant="st-mary")
    async with app_client(token_settings, None) as (api, _):
        token = await api.get(
            "/journeys", headers=bearer(provider.token(pjs_tenant="st-mary", scope=EVERY_SCOPE))
        )
        keyed = await api.get("/journeys", headers=bearer(key))

    assert token.status_code == 503 and token.headers["Retry-After"] == "30"
    assert "identity provider" in token.json()["message"]
    assert keyed.status_code == 200


async def test_without_a_provider_configured_a_token_is_refused_like_a_bad_key(
    settings: Settings, provider: IdentityProvider, clinics: list[str]
) -> None:
    async with app_client(settings, None) as (api, _):
        response = await api.get(
            "/journeys", headers=bearer(provider.token(pjs_tenant="st-mary", scope=EVERY_SCOPE))
        )

    assert response.status_code == 401
    assert provider.fetches == 0


async def test_a_token_without_a_key_id_is_verified_with_the_only_key_published_and_aud_may_be_a_list(
    settings: Settings, clinics: list[str]
) -> None:
    with identity_provider(rsa_key("only")) as single:
        update = {
            "oidc_issuer": ISSUER,
            "oidc_audience": AUDIENCE,
            "oidc_jwks_url": single.jwks_url,
            "oidc_tenants": ["st-mary"],
        }
        token = single.token(
            with_key_id=False, pjs_tenant="st-mary", scope="journeys:read", aud=["billing", AUDIENCE]
        )
        async with app_client(settings.model_copy(update=update), None) as (api, _):
            response = await api.get("/journeys", headers=bearer(token))

    assert response.status_code == 200


async def test_admin_is_not_a_token_scope_unless_the_settings_allow_it(
    token_settings: Settings, provider: IdentityProvider, clinics: list[str]
) -> None:
    admin = bearer(provider.token(pjs_tenant="st-mary", scope="admin journeys:read"))
    allowing = token_settings.model_copy(update={"oidc_scopes": [Scope.ADMIN, Scope.JOURNEYS_READ]})

    async with app_client(token_settings, None, client=REMOTE) as (api, _):
        refused = await api.get("/metrics", headers=admin)
    async with app_client(allowing, None, client=REMOTE) as (api, _):
        allowed = await api.get("/metrics", headers=admin)

    assert refused.status_code == 403 and "admin" in refused.json()["message"]
    assert allowed.status_code == 200


@pytest.mark.parametrize(
    ("pieces", "padding_bytes", "status"),
    [(4, 0, 200), (1, 1 << 20, 503)],
    ids=["sent in pieces: read whole", "over a mebibyte: not read"],
)
async def test_the_key_set_document_is_read_whole_up_to_a_mebibyte(
    api: httpx.AsyncClient,
    provider: IdentityProvider,
    clinics: list[str],
    pieces: int,
    padding_bytes: int,
    status: int,
) -> None:
    provider.published.extend(rsa_key(f"spare-{n}") for n in range(12))  # a document of several kilobytes
    provider.in_pieces, provider.padding_bytes = pieces, padding_bytes

    response = await api.get(
        "/journeys", headers=bearer(provider.token(pjs_tenant="st-mary", scope=EVERY_SCOPE))
    )

    assert response.status_code == status


async def test_a_token_signed_with_a_short_rsa_key_is_refused_even_when_published(
    api: httpx.AsyncClient, provider: IdentityProvider, clinics: list[str]
) -> None:
    short = SigningKey("short", rsa.generate_private_key(public_exponent=65537, key_size=1024), "RS256")
    provider.published.append(short)

    response = await api.get("/journeys", headers=bearer(provider.token(short, pjs_tenant="st-mary")))

    assert response.status_code == 401
    assert "a key too short or unfit for its algorithm" in response.json()["message"]


async def test_a_token_with_an_expiry_far_beyond_any_calendar_is_accepted_not_a_crash(
    api: httpx.AsyncClient, provider: IdentityProvider, clinics: list[str]
) -> None:
    token = provider.token(pjs_tenant="st-mary", scope=EVERY_SCOPE, exp=10**400)

    assert (await api.get("/journeys", headers=bearer(token))).status_code == 200


async def test_a_trusted_tenant_name_that_no_tenant_has_yet_refuses_its_tokens_and_no_others(
    token_settings: Settings, provider: IdentityProvider, clinics: list[str]
) -> None:
    with_a_typo = token_settings.model_copy(update={"oidc_tenants": ["st-mary", "st-mray"]})

    async with app_client(with_a_typo, None) as (api, _):
        ours = await api.get(
            "/journeys", headers=bearer(provider.token(pjs_tenant="st-mary", scope=EVERY_SCOPE))
        )
        typo = await api.get(
            "/journeys", headers=bearer(provider.token(pjs_tenant="st-mray", scope=EVERY_SCOPE))
        )

    assert (ours.status_code, typo.status_code) == (200, 401)
