"""The run explorer over HTTP, as a browser would use it: sessions, CSRF, scopes, tenants and masking."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from api.api_keys import ALL_SCOPES, Scope
from api.examples import CLINIC_PATIENT, SEED_JOURNEY
from pjs.settings import Settings
from support.api import app_client
from support.auth import issue_test_key, revoke_test_key
from support.ui import csrf_token, sign_in

pytestmark = pytest.mark.integration


@pytest.fixture
async def browser(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client sending no API key: only what the explorer's session cookie allows."""
    async with app_client(settings, None) as (client, _):
        yield client


async def started_run(api: httpx.AsyncClient) -> str:
    journey_id = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]
    response = await api.post(f"/journeys/{journey_id}/trigger", json=CLINIC_PATIENT)
    assert response.status_code == 202, response.text
    run_id: str = response.json()["runId"]
    return run_id


async def test_signing_in_opens_an_httponly_strict_session_and_shows_the_tenants_journeys(
    api: httpx.AsyncClient, browser: httpx.AsyncClient, api_key: str
) -> None:
    await api.post("/journeys", json=SEED_JOURNEY)
    signed_in = await sign_in(browser, api_key)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/ui/journeys"
    cookie = signed_in.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/ui" in cookie
    assert api_key not in cookie
    journeys = await browser.get("/ui/journeys")
    assert journeys.status_code == 200
    assert SEED_JOURNEY["name"] in journeys.text
    assert "default-src 'self'" in journeys.headers["content-security-policy"]


async def test_a_page_without_a_session_sends_the_browser_to_sign_in(browser: httpx.AsyncClient) -> None:
    response = await browser.get("/ui/runs")
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/login"


async def test_a_wrong_key_is_refused_on_the_sign_in_page(browser: httpx.AsyncClient) -> None:
    response = await sign_in(browser, "pjs_live_0123456789abcdef_" + "x" * 43)
    assert response.status_code == 401
    assert "not valid" in response.text
    assert (await browser.get("/ui/journeys")).status_code == 303


async def test_a_form_posted_without_its_csrf_token_is_refused(
    api: httpx.AsyncClient, browser: httpx.AsyncClient, api_key: str
) -> None:
    run_id = await started_run(api)
    await sign_in(browser, api_key)
    forged = await browser.post(f"/ui/runs/{run_id}/cancel", data={"confirm": "yes"})
    wrong = await browser.post(f"/ui/runs/{run_id}/cancel", data={"confirm": "yes", "csrf_token": "0" * 64})
    assert (forged.status_code, wrong.status_code) == (403, 403)
    assert (await api.get(f"/journeys/runs/{run_id}")).json()["status"] != "cancelled"


async def test_cancelling_from_the_run_page_cancels_the_run(
    api: httpx.AsyncClient, browser: httpx.AsyncClient, api_key: str
) -> None:
    run_id = await started_run(api)
    await sign_in(browser, api_key)
    page = await browser.get(f"/ui/runs/{run_id}")
    assert "Yes, cancel this run" in page.text
    data = {"csrf_token": csrf_token(page.text), "confirm": "yes"}
    response = await browser.post(f"/ui/runs/{run_id}/cancel", data=data)
    assert response.status_code == 303
    assert (await api.get(f"/journeys/runs/{run_id}")).json()["status"] == "cancelled"


async def test_a_key_without_the_cancel_scope_sees_no_cancel_button_and_its_post_is_refused(
    api: httpx.AsyncClient, browser: httpx.AsyncClient, settings: Settings
) -> None:
    run_id = await started_run(api)
    tenant = await _tenant_name(settings, api)
    reader = await issue_test_key(
        settings.resolved_migration_database_url(), ALL_SCOPES - {Scope.RUNS_CANCEL}, tenant=tenant
    )
    await sign_in(browser, reader)
    page = await browser.get(f"/ui/runs/{run_id}")
    assert page.status_code == 200 and "Yes, cancel this run" not in page.text
    data = {"csrf_token": csrf_token(page.text), "confirm": "yes"}
    assert (await browser.post(f"/ui/runs/{run_id}/cancel", data=data)).status_code == 403


async def test_another_tenants_run_is_not_found(
    api: httpx.AsyncClient, browser: httpx.AsyncClient, settings: Settings
) -> None:
    run_id = await started_run(api)
    other_clinic = await issue_test_key(settings.resolved_migration_database_url())
    await sign_in(browser, other_clinic)
    assert (await browser.get(f"/ui/runs/{run_id}")).status_code == 404
    assert run_id not in (await browser.get("/ui/runs")).text
    assert (await browser.get(f"/ui/live/runs/{run_id}")).status_code == 404


async def test_patient_data_is_masked_until_revealed_and_the_reveal_is_audited(
    api: httpx.AsyncClient, browser: httpx.AsyncClient, api_key: str
) -> None:
    run_id = await started_run(api)
    await sign_in(browser, api_key)
    page = await browser.get(f"/ui/runs/{run_id}")
    assert "L." in page.text and "50-59" in page.text
    for clear in (CLINIC_PATIENT["first_name"], CLINIC_PATIENT["phone"], CLINIC_PATIENT["id"]):
        assert clear not in page.text
    revealed = await browser.post(f"/ui/runs/{run_id}/reveal", data={"csrf_token": csrf_token(page.text)})
    assert CLINIC_PATIENT["phone"] in revealed.text
    audit = (await api.get("/audit", params={"runId": run_id})).json()["entries"]
    assert [e["actor"] for e in audit if e["action"] == "PatientDataRevealed"] != []


async def test_signing_out_ends_the_session(browser: httpx.AsyncClient, api_key: str) -> None:
    await sign_in(browser, api_key)
    page = await browser.get("/ui/journeys")
    assert (await browser.post("/ui/logout", data={"csrf_token": csrf_token(page.text)})).status_code == 303
    assert (await browser.get("/ui/journeys")).status_code == 303


async def test_signing_in_again_ends_the_browsers_previous_session(
    browser: httpx.AsyncClient, api_key: str, settings: Settings
) -> None:
    await sign_in(browser, api_key)
    previous = browser.cookies["pjs_ui_session"]

    await sign_in(browser, api_key)

    assert browser.cookies["pjs_ui_session"] != previous
    assert (await browser.get("/ui/journeys")).status_code == 200
    async with app_client(settings, None) as (stale, _):
        replayed = await stale.get("/ui/journeys", headers={"Cookie": f"pjs_ui_session={previous}"})
    assert replayed.status_code == 303  # back to sign-in: the old session is gone


async def test_the_api_docs_load_their_assets_from_this_service(browser: httpx.AsyncClient) -> None:
    for page, asset in (("/api", "swagger-ui-bundle.js"), ("/api/redoc", "redoc.standalone.js")):
        docs = await browser.get(page)
        assert f"/api/assets/{asset}" in docs.text and "cdn" not in docs.text.lower()
        assert "https://" not in docs.text  # nothing loaded from elsewhere
        script = await browser.get(f"/api/assets/{asset}")
        assert script.status_code == 200 and len(script.content) > 100_000


async def _tenant_name(settings: Settings, api: httpx.AsyncClient) -> str:
    """The name of the tenant behind the `api` client's key."""
    presented = api.headers["authorization"].removeprefix("Bearer ").split("_")[2]
    connection = await asyncpg.connect(settings.resolved_migration_database_url())  # keys' reader
    try:
        name: str = await connection.fetchval(
            "SELECT t.name FROM api_keys k JOIN tenants t USING (tenant_id) WHERE k.key_id = $1", presented
        )
    finally:
        await connection.close()
    return name


async def test_the_session_is_stored_hashed_and_ends_when_it_expires_or_its_key_is_revoked(
    browser: httpx.AsyncClient, settings: Settings, migration_pool: asyncpg.Pool
) -> None:
    key = await issue_test_key(settings.resolved_migration_database_url())
    await sign_in(browser, key)
    session_id = browser.cookies["pjs_ui_session"]
    stored = await migration_pool.fetchval("SELECT session_hash FROM ui_sessions")
    assert bytes(stored) == hashlib.sha256(session_id.encode()).digest()
    assert (await browser.get("/ui/journeys")).status_code == 200
    await migration_pool.execute("UPDATE ui_sessions SET expires_at = now() - interval '1 second'")
    assert (await browser.get("/ui/journeys")).status_code == 303
    await sign_in(browser, key)
    assert (await browser.get("/ui/journeys")).status_code == 200
    await revoke_test_key(settings.resolved_migration_database_url(), key)
    assert (await browser.get("/ui/journeys")).status_code == 303
