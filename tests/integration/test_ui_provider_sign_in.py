"""Signing in to the run explorer with the clinic's identity provider: the authorization code flow with
PKCE against a real HTTP provider on loopback (tests/support), and every way it can go wrong.

The test plays the browser: it follows the explorer's redirect to the provider, the provider's redirect
back, and sends the cookies the explorer set.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import pytest
from pydantic import SecretStr

from api.api_keys import Scope
from api.key_store import create_tenant
from api.token_policy import SIGN_IN_CALLBACK_PATH
from api.ui.provider_sign_in import PENDING_COOKIE
from api.ui.sessions import SESSION_COOKIE
from pjs.settings import Settings
from support.api import app_client
from support.auth import issue_test_key
from support.identity_provider import (
    CLIENT_ID,
    IdentityProvider,
    identity_provider,
    rsa_key,
    signing_in_with,
)

NURSE = {"pjs_tenant": "st-mary", "scope": "journeys:read runs:read", "sub": "nurse-4711"}


@pytest.fixture
def provider() -> Iterator[IdentityProvider]:
    with identity_provider(rsa_key("rsa-2026")) as running:
        running.signed_in_claims = dict(NURSE)
        yield running


def _with_provider(settings: Settings, provider: IdentityProvider, **more: Any) -> Settings:
    return signing_in_with(provider, settings, f"http://127.0.0.1{SIGN_IN_CALLBACK_PATH}", **more)


@pytest.fixture
async def tenants(settings: Settings) -> None:
    connection = await asyncpg.connect(settings.resolved_migration_database_url())
    try:
        for name in ("st-mary", "elsewhere"):
            await create_tenant(connection, name, by="operator:tests")
    finally:
        await connection.close()


@pytest.fixture
async def browser(
    settings: Settings, provider: IdentityProvider, tenants: None
) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(_with_provider(settings, provider), None) as (client, _):
        yield client


async def back_from_provider(browser: httpx.AsyncClient, **tamper: str) -> httpx.Response:
    """Start a sign-in, let the provider sign the user in, and come back (with `tamper`ed query fields)."""
    started = await browser.get("/ui/login/provider")
    assert started.status_code == 303
    async with httpx.AsyncClient() as outside:
        at_provider = await outside.get(started.headers["location"])
    assert at_provider.status_code == 302
    back = urlsplit(at_provider.headers["location"])
    query = {name: values[0] for name, values in parse_qs(back.query).items()} | tamper
    return await browser.get(back.path, params=query)


async def _sessions(settings: Settings) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(settings.resolved_migration_database_url())
    try:
        return await connection.fetch("SELECT subject, key_id, scopes, expires_at FROM ui_sessions")
    finally:
        await connection.close()


async def test_signing_in_with_the_provider_opens_a_session_of_the_tokens_tenant_and_scopes(
    browser: httpx.AsyncClient, provider: IdentityProvider, settings: Settings
) -> None:
    started = await browser.get("/ui/login/provider")
    sent_to = parse_qs(urlsplit(started.headers["location"]).query)

    back = await back_from_provider(browser)
    journeys = await browser.get("/ui/journeys")

    assert sent_to["client_id"] == [CLIENT_ID] and sent_to["code_challenge_method"] == ["S256"]
    assert back.status_code == 200 and 'http-equiv="refresh" content="0; url=/ui/journeys"' in back.text
    assert journeys.status_code == 200 and "Journeys" in journeys.text
    [session] = await _sessions(settings)
    assert (session["subject"], session["key_id"], sorted(session["scopes"])) == (
        "nurse-4711",
        None,
        ["journeys:read", "runs:read"],
    )
    assert provider.exchanges[-1]["code_verifier"]  # PKCE: the provider checked it against the challenge


async def test_the_sign_in_is_audited_with_the_tokens_subject(
    browser: httpx.AsyncClient, settings: Settings
) -> None:
    await back_from_provider(browser)
    auditor = await issue_test_key(settings.resolved_migration_database_url(), tenant="st-mary")

    entries = (await browser.get("/audit", headers={"Authorization": f"Bearer {auditor}"})).json()["entries"]

    assert [e["actor"] for e in entries if e["action"] == "UiSignedIn"] == ["token:nurse-4711"]


async def test_the_session_ends_no_later_than_the_token(
    browser: httpx.AsyncClient, provider: IdentityProvider, settings: Settings
) -> None:
    provider.signed_in_claims["exp"] = int((datetime.now(UTC) + timedelta(seconds=90)).timestamp())

    await back_from_provider(browser)

    [session] = await _sessions(settings)
    assert session["expires_at"] <= datetime.now(UTC) + timedelta(seconds=91)


@pytest.mark.parametrize(
    ("tamper", "status", "problem"),
    [
        ({"state": "forged"}, 400, "did not start in this browser"),
        ({"error": "access_denied", "code": ""}, 401, "did not sign you in (access_denied)"),
        ({"error": "<b>not-oauth</b>", "code": ""}, 401, "did not sign you in (unspecified)"),
        ({"code": "made-up"}, 401, "refused the sign-in (invalid_grant)"),
    ],
    ids=["forged state", "user said no", "odd error", "made-up code"],
)
async def test_a_sign_in_that_goes_wrong_says_why_on_the_sign_in_page_and_opens_no_session(
    browser: httpx.AsyncClient, settings: Settings, tamper: dict[str, str], status: int, problem: str
) -> None:
    back = await back_from_provider(browser, **tamper)

    assert back.status_code == status
    assert problem in back.text
    assert await _sessions(settings) == []
    assert (await browser.get("/ui/journeys")).status_code == 303


async def test_a_callback_in_another_browser_is_refused(
    browser: httpx.AsyncClient, settings: Settings, provider: IdentityProvider
) -> None:
    started = await browser.get("/ui/login/provider")
    async with httpx.AsyncClient() as outside:
        back = urlsplit((await outside.get(started.headers["location"])).headers["location"])
    async with app_client(_with_provider(settings, provider), None) as (other_browser, _):
        answer = await other_browser.get(f"{back.path}?{back.query}")

    assert answer.status_code == 400
    assert await _sessions(settings) == []


async def test_a_token_for_a_tenant_the_provider_may_not_act_for_opens_no_session(
    browser: httpx.AsyncClient, provider: IdentityProvider, settings: Settings
) -> None:
    provider.signed_in_claims["pjs_tenant"] = "elsewhere"

    back = await back_from_provider(browser)

    assert back.status_code == 401 and "names no tenant this identity provider may act for" in back.text
    assert await _sessions(settings) == []


async def test_a_confidential_client_proves_itself_with_its_secret(
    settings: Settings, provider: IdentityProvider, tenants: None
) -> None:
    provider.client_secret = "s3c:r&t +%"  # form-encoded before HTTP Basic, as RFC 6749 2.3.1 says
    right = _with_provider(settings, provider, oidc_client_secret=SecretStr("s3c:r&t +%"))
    wrong = _with_provider(settings, provider, oidc_client_secret=SecretStr("guess"))

    async with app_client(right, None) as (browser, _):
        accepted = await back_from_provider(browser)
    async with app_client(wrong, None) as (browser, _):
        refused = await back_from_provider(browser)

    assert accepted.status_code == 200
    assert refused.status_code == 401 and "invalid_client" in refused.text


async def test_a_provider_that_cannot_be_reached_is_a_503_on_the_sign_in_page(
    settings: Settings, provider: IdentityProvider, tenants: None
) -> None:
    gone = _with_provider(settings, provider, oidc_token_url="http://127.0.0.1:9/token")  # nothing listens

    async with app_client(gone, None) as (browser, _):
        back = await back_from_provider(browser)

    assert back.status_code == 503 and "could not be reached" in back.text


async def test_without_a_client_configured_there_is_no_provider_sign_in(settings: Settings) -> None:
    async with app_client(settings, None) as (browser, _):
        page = await browser.get("/ui/login")
        start = await browser.get("/ui/login/provider")

    assert "Sign in with your organisation" not in page.text
    assert start.status_code == 404


async def test_with_a_client_configured_the_sign_in_page_offers_it(browser: httpx.AsyncClient) -> None:
    page = await browser.get("/ui/login")

    assert 'href="/ui/login/provider"' in page.text


async def test_a_provider_error_that_is_not_text_is_a_refusal_not_a_crash(
    browser: httpx.AsyncClient, provider: IdentityProvider, settings: Settings
) -> None:
    provider.token_error = ["invalid_grant", {"nested": True}]

    back = await back_from_provider(browser)

    assert back.status_code == 401 and "refused the sign-in (unspecified)" in back.text
    assert await _sessions(settings) == []


async def test_a_pending_sign_in_over_ten_minutes_old_is_refused_whatever_the_cookie_says(
    browser: httpx.AsyncClient, settings: Settings
) -> None:
    started = await browser.get("/ui/login/provider")
    state = parse_qs(urlsplit(started.headers["location"]).query)["state"][0]
    eleven_minutes_ago = int(datetime.now(UTC).timestamp()) - 660
    browser.cookies.set(PENDING_COOKIE, f"{state}.{'v' * 64}.{eleven_minutes_ago}", path="/ui/login/provider")

    back = await browser.get(SIGN_IN_CALLBACK_PATH, params={"state": state, "code": "whatever"})

    assert back.status_code == 400
    assert await _sessions(settings) == []


async def test_starting_a_new_sign_in_ends_the_browsers_session(
    browser: httpx.AsyncClient, settings: Settings
) -> None:
    await back_from_provider(browser)
    assert len(await _sessions(settings)) == 1

    await browser.get("/ui/login/provider")

    assert await _sessions(settings) == []


async def _same_session_under(settings: Settings, browser: httpx.AsyncClient, path: str) -> httpx.Response:
    """`path` asked by a browser holding `browser`'s session, of an API process with `settings`."""
    async with app_client(settings, None) as (other, _):
        other.cookies.set(SESSION_COOKIE, browser.cookies[SESSION_COOKIE], path="/ui")
        return await other.get(path)


async def test_a_token_session_holds_only_while_the_settings_still_admit_its_tenant_and_scopes(
    browser: httpx.AsyncClient, provider: IdentityProvider, settings: Settings
) -> None:
    await back_from_provider(browser)

    as_before = await _same_session_under(_with_provider(settings, provider), browser, "/ui/journeys")
    tenant_dropped = _with_provider(settings, provider, oidc_tenants=["elsewhere"])
    scopes_narrowed = _with_provider(settings, provider, oidc_scopes=[Scope.RUNS_READ])

    assert as_before.status_code == 200
    assert (await _same_session_under(tenant_dropped, browser, "/ui/journeys")).status_code == 303
    assert (await _same_session_under(scopes_narrowed, browser, "/ui/journeys")).status_code == 403
    assert (await _same_session_under(settings, browser, "/ui/journeys")).status_code == 303  # no provider


async def test_over_https_the_pending_sign_in_is_a_host_cookie_set_and_deleted_as_secure(
    settings: Settings, provider: IdentityProvider, tenants: None
) -> None:
    remote = {"client": ("203.0.113.7", 40000), "base_url": "https://pjs"}
    async with app_client(_with_provider(settings, provider), None, **remote) as (browser, _):  # type: ignore[arg-type]
        started = await browser.get("/ui/login/provider")
        back = await back_from_provider(browser)

    set_header = started.headers["set-cookie"]
    deleted = [header for header in back.headers.get_list("set-cookie") if PENDING_COOKIE in header]
    assert set_header.startswith(f"__Host-{PENDING_COOKIE}=") and "Path=/;" in set_header
    assert "Secure" in set_header and "HttpOnly" in set_header and "SameSite=lax" in set_header
    assert back.status_code == 200
    assert (
        len(deleted) == 1 and "Secure" in deleted[0] and "Path=/;" in deleted[0] and "Max-Age=0" in deleted[0]
    )


async def test_a_token_expiring_beyond_any_calendar_opens_a_session_of_the_usual_length(
    browser: httpx.AsyncClient, provider: IdentityProvider, settings: Settings
) -> None:
    provider.signed_in_claims["exp"] = 10**400

    back = await back_from_provider(browser)

    [session] = await _sessions(settings)
    assert back.status_code == 200
    assert session["expires_at"] <= datetime.now(UTC) + timedelta(
        minutes=settings.ui_session_minutes, seconds=1
    )
