"""Refused requests leave a trace an auditor can read: a 403 (the API's or the explorer's) in the caller's
tenant's audit log, a 401 as a bounded WARNING line, a 404 as a sampled entry with its count; none names a
path's ids or a key's secret."""

from __future__ import annotations

import logging
import secrets
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from api.api_keys import ALL_SCOPES, KEY_PREFIX, Scope, parse_key
from api.key_store import create_tenant
from pjs.settings import Settings
from support.api import app_client
from support.auth import TEST_OPERATOR, bearer, issue_test_key, refused_within, revoke_test_key, secret_of
from support.journeys import patient
from support.ui import csrf_token, sign_in
from support.windows import clear_of_a_windows_end

REFUSALS = "api.refusals"
SAMPLING_WINDOW_SECONDS = 60  # refusals are logged and audited once a minute per key and route
JOURNEY = {"name": "j", "start_node_id": "a", "nodes": [{"id": "a", "type": "MESSAGE", "message": "hi"}]}


async def _tenant(settings: Settings) -> str:
    name = f"clinic-{uuid.uuid4().hex[:6]}"
    connection = await asyncpg.connect(settings.resolved_migration_database_url())
    try:
        await create_tenant(connection, name, by=TEST_OPERATOR)
    finally:
        await connection.close()
    return name


async def _key(settings: Settings, tenant: str, *scopes: Scope) -> str:
    return await issue_test_key(settings.resolved_migration_database_url(), scopes, tenant=tenant)


async def _entries(api: httpx.AsyncClient, auditor: str, action: str) -> list[dict[str, Any]]:
    answer = await api.get("/audit", headers=bearer(auditor), params={"limit": 1000})
    assert answer.status_code == 200, answer.text
    return [entry for entry in answer.json()["entries"] if entry["action"] == action]


async def _clinics_run(settings: Settings, api: httpx.AsyncClient, patient_id: str) -> tuple[str, str, str]:
    """A clinic of its own, a key of it with every scope, and the id of a run of the patient it started."""
    tenant = await _tenant(settings)
    clinic = await _key(settings, tenant, *ALL_SCOPES)
    journey = (await api.post("/journeys", json=JOURNEY, headers=bearer(clinic))).json()["journeyId"]
    triggered = await api.post(
        f"/journeys/{journey}/trigger", json=patient(patient_id=patient_id), headers=bearer(clinic)
    )
    return tenant, clinic, triggered.json()["runId"]


def _actor(key: str) -> str:
    presented = parse_key(key)
    assert presented is not None
    return f"key:{presented.key_id}"


async def test_a_key_lacking_the_scope_is_refused_and_audited_in_its_tenant_by_route_never_by_path(
    settings: Settings, api: httpx.AsyncClient
) -> None:
    tenant = await _tenant(settings)
    trigger_only = await _key(settings, tenant, Scope.RUNS_TRIGGER)
    auditor = await _key(settings, tenant, Scope.AUDIT_READ)
    run_id = str(uuid.uuid4())

    read = await api.get(f"/journeys/runs/{run_id}", headers=bearer(trigger_only))

    assert read.status_code == 403
    refused = await _entries(api, auditor, "AccessRefused")
    assert [(entry["actor"], entry["runId"], entry["details"]) for entry in refused] == [
        (_actor(trigger_only), None, {"status": 403, "route": "GET /journeys/runs/{runId}",
                                      "scopeNeeded": "runs:read"}),
    ]  # fmt: skip
    assert run_id not in str(refused)
    others = await api.get("/audit")  # another clinic's auditor
    assert _actor(trigger_only) not in others.text


async def test_a_revoked_keys_requests_are_one_warning_line_a_minute_naming_its_key_id_never_its_secret(
    settings: Settings, api: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=REFUSALS)
    key = await issue_test_key(settings.resolved_migration_database_url(), ALL_SCOPES)
    assert (await api.get("/journeys", headers=bearer(key))).status_code == 200
    await revoke_test_key(settings.resolved_migration_database_url(), key)
    await clear_of_a_windows_end(SAMPLING_WINDOW_SECONDS, needed_seconds=20)
    await refused_within(api, key)

    answers = {
        (await api.get(f"/journeys/runs/{uuid.uuid4()}", headers=bearer(key))).status_code for _ in range(30)
    }

    assert answers == {401}
    lines = [record for record in caplog.records if record.name == REFUSALS]
    assert [record.levelno for record in lines] == [logging.WARNING]
    [line] = [record.getMessage() for record in lines]
    assert f"credential={_actor(key)}" in line and "refused=401" in line
    assert "route='GET /journeys'" in line and "reason=" in line
    assert secret_of(key) not in caplog.text


async def test_a_flood_of_made_up_keys_is_answered_401_and_logged_a_bounded_number_of_lines(
    api: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=REFUSALS)
    made_up = [f"{KEY_PREFIX}{secrets.token_hex(8)}_{secrets.token_urlsafe(32)}" for _ in range(150)]
    await clear_of_a_windows_end(SAMPLING_WINDOW_SECONDS, needed_seconds=20)

    answers = {(await api.get("/journeys", headers=bearer(key))).status_code for key in made_up}
    answers |= {(await api.get("/journeys", headers={"Authorization": ""})).status_code for _ in range(20)}

    assert answers == {401}
    lines = [record.getMessage() for record in caplog.records if record.name == REFUSALS]
    # Each key once until the minute's allowance of 60 is spent.
    assert len(lines) == 60
    assert not any(secret_of(key) in caplog.text for key in made_up)


async def test_another_clinics_run_ids_answer_404_and_a_sampled_entry_counts_them_in_the_callers_tenant(
    settings: Settings, api: httpx.AsyncClient
) -> None:
    owner, prober = await _tenant(settings), await _tenant(settings)
    owners_key = await _key(settings, owner, *ALL_SCOPES)
    probing_key = await _key(settings, prober, Scope.RUNS_READ, Scope.AUDIT_READ)
    journey = (await api.post("/journeys", json=JOURNEY, headers=bearer(owners_key))).json()["journeyId"]
    triggered = await api.post(f"/journeys/{journey}/trigger", json=patient(), headers=bearer(owners_key))
    run_id = triggered.json()["runId"]
    await clear_of_a_windows_end(SAMPLING_WINDOW_SECONDS, needed_seconds=20)

    answers = {(await api.get(f"/journeys/runs/{run_id}", headers=bearer(probing_key))).status_code
               for _ in range(20)}  # fmt: skip

    assert answers == {404}
    sampled = await _entries(api, probing_key, "NotFoundAnswered")
    assert [(entry["actor"], entry["details"]) for entry in sampled] == [
        (_actor(probing_key), {"status": 404, "route": "GET /journeys/runs/{runId}", "count": 1})
    ]
    assert run_id not in str(sampled)
    owners = (await api.get("/audit", headers=bearer(owners_key), params={"limit": 1000})).text
    assert _actor(probing_key) not in owners


async def test_accepted_requests_leave_no_refusal_behind(
    api: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=REFUSALS)
    journey = (await api.post("/journeys", json=JOURNEY)).json()["journeyId"]

    for number in range(5):
        assert (
            await api.post(f"/journeys/{journey}/trigger", json=patient(patient_id=f"p-{number}"))
        ).is_success

    actions = {entry["action"] for entry in (await api.get("/audit")).json()["entries"]}
    assert not actions & {"AccessRefused", "NotFoundAnswered"}
    assert not [record for record in caplog.records if record.name == REFUSALS]


async def test_an_explorer_session_lacking_the_scope_for_a_page_is_refused_and_audited_as_the_api_refuses(
    settings: Settings, api: httpx.AsyncClient
) -> None:
    # Given a run of a clinic, and a colleague signed in to the explorer with a key that may not read runs
    tenant, clinic, run_id = await _clinics_run(settings, api, "p-explorer-417")
    no_runs = await _key(settings, tenant, *(ALL_SCOPES - {Scope.RUNS_READ}))

    async with app_client(settings, None) as (browser, _):
        await sign_in(browser, no_runs)
        # When the colleague opens the run's page
        page = await browser.get(f"/ui/runs/{run_id}")

    # Then it is a 403, and the clinic's audit log names the colleague's key, the route and the scope
    assert page.status_code == 403 and "runs:read" in page.text
    refused = await _entries(api, clinic, "AccessRefused")
    assert [(entry["actor"], entry["runId"], entry["details"]) for entry in refused] == [
        (_actor(no_runs), None, {"status": 403, "route": "GET /ui/runs/{runId}", "scopeNeeded": "runs:read"}),
    ]
    assert run_id not in str(refused) and "p-explorer-417" not in str(refused)


async def test_an_explorer_session_opening_another_clinics_run_gets_the_404_page_and_a_sampled_entry(
    settings: Settings, api: httpx.AsyncClient
) -> None:
    # Given another clinic's run, and a prober signed in to the explorer with a key that may read runs
    owner, prober = await _tenant(settings), await _tenant(settings)
    owners_key = await _key(settings, owner, *ALL_SCOPES)
    journey = (await api.post("/journeys", json=JOURNEY, headers=bearer(owners_key))).json()["journeyId"]
    triggered = await api.post(f"/journeys/{journey}/trigger", json=patient(), headers=bearer(owners_key))
    run_id = triggered.json()["runId"]
    session_key = await _key(settings, prober, Scope.RUNS_READ, Scope.JOURNEYS_READ)
    auditor = await _key(settings, prober, Scope.AUDIT_READ)

    async with app_client(settings, None) as (browser, _):
        await sign_in(browser, session_key)
        await clear_of_a_windows_end(SAMPLING_WINDOW_SECONDS, needed_seconds=20)
        # When the prober opens that run's page again and again
        pages = [await browser.get(f"/ui/runs/{run_id}") for _ in range(5)]

    # Then each is the 404 page, and the prober's clinic's audit log has one sampled entry for the page's
    # route naming the session's key (the other four held back for the next one's count), never the run id
    assert {page.status_code for page in pages} == {404}
    assert all(page.headers["content-type"].startswith("text/html") for page in pages)
    sampled = await _entries(api, auditor, "NotFoundAnswered")
    assert [(entry["actor"], entry["runId"], entry["details"]) for entry in sampled] == [
        (_actor(session_key), None, {"status": 404, "route": "GET /ui/runs/{runId}", "count": 1})
    ]
    assert run_id not in str(sampled)
    owners = (await api.get("/audit", headers=bearer(owners_key), params={"limit": 1000})).text
    assert _actor(session_key) not in owners


@pytest.mark.parametrize(
    ("form", "posted"),
    [
        ("cancel", {"confirm": "yes"}),  # a forged form, from a page of the same site
        ("cancel", {"confirm": "yes", "csrf_token": "0" * 64}),
        ("reveal", {"csrf_token": ""}),
    ],
)
async def test_an_explorer_form_refused_for_its_csrf_token_is_audited_with_that_reason(
    settings: Settings, api: httpx.AsyncClient, form: str, posted: dict[str, str]
) -> None:
    # Given a run of a clinic, and a colleague signed in to the explorer with a key that may do anything
    tenant, clinic, run_id = await _clinics_run(settings, api, "p-explorer-418")
    colleague = await _key(settings, tenant, *ALL_SCOPES)

    async with app_client(settings, None) as (browser, _):
        await sign_in(browser, colleague)
        # When a form of the run's page arrives without the session's CSRF token
        refused = await browser.post(f"/ui/runs/{run_id}/{form}", data=posted)

    # Then it is refused, nothing was done, and the clinic's audit log names the colleague's key, the
    # form's route and the CSRF token as the reason, never the run or the patient
    assert refused.status_code == 403 and "CSRF token" in refused.text
    assert (await api.get(f"/journeys/runs/{run_id}", headers=bearer(clinic))).json()["status"] != "cancelled"
    entries = await _entries(api, clinic, "AccessRefused")
    assert [(entry["actor"], entry["runId"], entry["details"]) for entry in entries] == [
        (_actor(colleague), None, {"status": 403, "route": f"POST /ui/runs/{{runId}}/{form}",
                                   "reason": "csrfToken"}),
    ]  # fmt: skip
    assert run_id not in str(entries) and "p-explorer-418" not in str(entries)
    reads = await _entries(api, clinic, "RunRead")
    assert _actor(colleague) not in str(reads)  # the reveal showed nothing


async def test_a_form_from_a_page_of_an_earlier_session_is_refused_and_audited_for_its_csrf_token(
    settings: Settings, api: httpx.AsyncClient
) -> None:
    # Given a run's page opened in one session, then a sign-out and a new sign-in from the same browser
    # (another tab): what most such entries are, since the session cookie (SameSite=Strict) is not sent
    # with another site's posts at all
    tenant, clinic, run_id = await _clinics_run(settings, api, "p-explorer-419")
    colleague = await _key(settings, tenant, *ALL_SCOPES)
    async with app_client(settings, None) as (browser, _):
        await sign_in(browser, colleague)
        earlier = csrf_token((await browser.get(f"/ui/runs/{run_id}")).text)
        signed_out = await browser.post("/ui/logout", data={"csrf_token": earlier})
        await sign_in(browser, colleague)

        # When the page left open posts its cancel form
        refused = await browser.post(
            f"/ui/runs/{run_id}/cancel", data={"confirm": "yes", "csrf_token": earlier}
        )

    # Then it is refused, the run goes on, and the entry names the CSRF token as the reason
    assert signed_out.status_code == 303
    assert refused.status_code == 403 and "CSRF token" in refused.text
    assert (await api.get(f"/journeys/runs/{run_id}", headers=bearer(clinic))).json()["status"] != "cancelled"
    entries = await _entries(api, clinic, "AccessRefused")
    assert [(entry["actor"], entry["details"]) for entry in entries] == [
        (_actor(colleague), {"status": 403, "route": "POST /ui/runs/{runId}/cancel", "reason": "csrfToken"}),
    ]
