"""The run explorer and the API docs in headless Chromium, over the real stack: the API served by uvicorn,
the relay, engine, timer and projector running, journeys and runs made through the JSON API with a key.

Screenshots of every page at 1366x768 and 390x844 land in PJS_UI_ARTIFACTS (default .artifacts/ui).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from api.app import create_app
from pjs.settings import Settings
from pjs.wiring import api_resources
from support.auth import bearer, issue_test_key
from support.browser import browser, screenshot, serving, wait_for
from support.journeys import branch, delay, message
from support.roles import in_process

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

FOLLOW_UP = {
    "name": "Knee surgery follow-up",
    "start_node_id": "welcome",
    "nodes": [
        message("welcome", "settle"),
        delay("settle", 8, "senior"),
        branch("senior", "age", "gte", 65, "leaflet", "bye"),
        message("leaflet", "bye"),
        message("bye"),
    ],
}
LONG_WAIT = {
    "name": "Annual check-up",
    "start_node_id": "invite",
    "nodes": [message("invite", "year"), delay("year", 365 * 86400, "remind"), message("remind")],
}
LUCIA = {
    "id": "patient-321",
    "age": 70,
    "language": "es",
    "first_name": "Lucía",
    "last_name": "García",
    "phone": "+34600123456",
}
OMAR = {"id": "patient-777", "age": 44, "language": "en", "first_name": "Omar", "phone": "+441234567890"}


@dataclass(frozen=True)
class Clinic:
    """What the test made through the API before opening the browser."""

    url: str
    key: str
    follow_up: str
    long_wait: str
    cancelled_run: str
    omar_run: str
    other_clinics_run: str


async def _post(client: httpx.AsyncClient, path: str, body: dict[str, Any], field: str) -> str:
    response = await client.post(path, json=body)
    assert response.status_code in (201, 202), response.text
    value: str = response.json()[field]
    return value


async def _make_clinic(url: str, settings: Settings) -> Clinic:
    key = await issue_test_key(settings.resolved_migration_database_url())
    other_key = await issue_test_key(settings.resolved_migration_database_url())
    async with (
        httpx.AsyncClient(base_url=url, headers=bearer(key)) as api,
        httpx.AsyncClient(base_url=url, headers=bearer(other_key)) as other,
    ):
        follow_up = await _post(api, "/journeys", FOLLOW_UP, "journeyId")
        long_wait = await _post(api, "/journeys", LONG_WAIT, "journeyId")
        await _post(api, f"/journeys/{follow_up}/trigger", LUCIA, "runId")
        cancelled = await _post(api, f"/journeys/{long_wait}/trigger", LUCIA, "runId")
        omar = await _post(api, f"/journeys/{long_wait}/trigger", OMAR, "runId")
        elsewhere = await _post(other, "/journeys", LONG_WAIT, "journeyId")
        other_run = await _post(other, f"/journeys/{elsewhere}/trigger", OMAR, "runId")
    return Clinic(url, key, follow_up, long_wait, cancelled, omar, other_run)


@pytest.fixture
async def stack(settings: Settings) -> AsyncIterator[str]:
    """The API on a loopback port, with the workers that move runs and count them."""
    async with in_process(settings, "relay", "engine", "timer", "projector"):
        with serving(create_app(api_resources(settings))) as url:
            yield url


def _text(driver: WebDriver, css: str) -> str:
    return str(driver.find_element(By.CSS_SELECTOR, css).text)


def _sign_in(driver: WebDriver, clinic: Clinic) -> None:
    driver.get(f"{clinic.url}/ui/journeys")
    wait_for(driver, lambda d: d.current_url.endswith("/ui/login"))
    screenshot(driver, "sign-in")
    body = driver.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)  # the skip link first, then the key's field: signed in by keyboard alone
    assert driver.switch_to.active_element.text == "Skip to content"
    driver.switch_to.active_element.send_keys(Keys.TAB)
    assert driver.switch_to.active_element.get_attribute("id") == "api_key"
    outline = driver.execute_script("return getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", "")  # focus is visible
    driver.switch_to.active_element.send_keys(clinic.key, Keys.ENTER)
    wait_for(driver, lambda d: d.current_url.endswith("/ui/journeys"))
    assert "Knee surgery follow-up" in _text(driver, "main")
    screenshot(driver, "journeys")


def _journey_graph_shows_counts(driver: WebDriver, clinic: Clinic) -> None:
    driver.find_element(By.LINK_TEXT, "Knee surgery follow-up").click()
    welcome = '.graph [data-node="welcome"] [data-counter="entered"]'
    wait_for(driver, lambda d: _text(d, welcome) == "1", seconds=60)  # live: no reload
    assert _text(driver, '.graph [data-node="welcome"] [data-counter="messages_requested"]') == "1"
    screenshot(driver, "journey-graph")


def _filter_runs(driver: WebDriver, clinic: Clinic) -> None:
    driver.get(f"{clinic.url}/ui/runs")
    Select(driver.find_element(By.ID, "journey_id")).select_by_visible_text("Annual check-up")
    Select(driver.find_element(By.ID, "status")).select_by_value("waiting_delay")
    driver.find_element(By.CSS_SELECTOR, "form.filters button").click()
    wait_for(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "tr[data-run]")) == 2, seconds=60)
    shown = {row.get_attribute("data-run") for row in driver.find_elements(By.CSS_SELECTOR, "tr[data-run]")}
    assert shown == {clinic.cancelled_run, clinic.omar_run}
    screenshot(driver, "runs")
    driver.find_element(By.ID, "patient_id").send_keys(OMAR["id"])
    driver.find_element(By.CSS_SELECTOR, "form.filters button").click()
    wait_for(driver, lambda d: "(filtered)" in _text(d, "caption"))
    rows = driver.find_elements(By.CSS_SELECTOR, "tr[data-run]")
    assert [row.get_attribute("data-run") for row in rows] == [clinic.omar_run]
    assert OMAR["id"] not in driver.current_url


def _watch_a_run_complete(driver: WebDriver, clinic: Clinic) -> None:
    """A run started now (its delay is short), followed on its page from waiting to completed."""
    with httpx.Client(base_url=clinic.url, headers=bearer(clinic.key)) as api:
        started = api.post(f"/journeys/{clinic.follow_up}/trigger", json=LUCIA)
    assert started.status_code == 202, started.text
    driver.get(f"{clinic.url}/ui/runs/{started.json()['runId']}")
    driver.execute_script("window.stillTheSamePage = true")
    wait_for(driver, lambda d: _text(d, "#run-status") == "waiting delay", seconds=60)
    assert "current" in str(
        driver.find_element(By.CSS_SELECTOR, '.graph [data-node="settle"]').get_attribute("class")
    )
    wait_for(driver, lambda d: _text(d, "#countdown").startswith(("(in ", "(due now)")))
    screenshot(driver, "run-waiting")
    wait_for(driver, lambda d: _text(d, "#run-status") == "completed", seconds=90)
    assert driver.execute_script("return window.stillTheSamePage") is True  # updated without a reload
    assert "RunCompleted" in _text(driver, "#timeline-rows")
    assert LUCIA["first_name"] not in _text(driver, "main")
    screenshot(driver, "run-completed")


def _cancel_a_run(driver: WebDriver, clinic: Clinic) -> None:
    driver.get(f"{clinic.url}/ui/runs/{clinic.cancelled_run}")
    wait_for(driver, lambda d: _text(d, "#run-status") == "waiting delay", seconds=60)
    driver.find_element(By.ID, "cancel-open").click()
    screenshot(driver, "run-cancel-confirmation")
    driver.find_element(By.ID, "cancel-confirm").click()
    wait_for(driver, lambda d: _text(d, "#run-status") == "cancelled")
    assert not driver.find_elements(By.ID, "cancel-confirm")


def _reveal_patient_data(driver: WebDriver, clinic: Clinic) -> None:
    driver.get(f"{clinic.url}/ui/runs/{clinic.omar_run}")
    assert _text(driver, "#patient-initials") == "O." and _text(driver, "#patient-age-band") == "40-49"
    assert OMAR["phone"] not in _text(driver, "main")
    driver.find_element(By.ID, "reveal").click()
    wait_for(driver, lambda d: d.find_elements(By.ID, "patient-context"))
    assert OMAR["phone"] in _text(driver, "#patient-context")
    assert "PatientDataRevealed" in _text(driver, "table.audit")
    screenshot(driver, "run-revealed")


def _other_clinics_run_is_not_found(driver: WebDriver, clinic: Clinic) -> None:
    driver.get(f"{clinic.url}/ui/runs/{clinic.other_clinics_run}")
    assert _text(driver, "h1") == "404"
    driver.get(f"{clinic.url}/ui/runs")
    assert clinic.other_clinics_run not in driver.page_source


def _explore(clinic: Clinic) -> None:
    with browser() as driver:
        _sign_in(driver, clinic)
        _journey_graph_shows_counts(driver, clinic)
        _filter_runs(driver, clinic)
        _watch_a_run_complete(driver, clinic)
        _cancel_a_run(driver, clinic)
        _reveal_patient_data(driver, clinic)
        _other_clinics_run_is_not_found(driver, clinic)


async def test_a_care_coordinator_follows_filters_cancels_and_reveals_runs_in_the_browser(
    stack: str, settings: Settings
) -> None:
    clinic = await _make_clinic(stack, settings)
    await asyncio.to_thread(_explore, clinic)  # the workers keep running on this loop meanwhile


def _authorize_and_try_it_out(url: str, key: str) -> None:
    with browser() as driver:
        driver.get(f"{url}/api")
        wait_for(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock")) > 5)
        screenshot(driver, "api-docs")
        driver.find_element(By.CSS_SELECTOR, ".btn.authorize").click()
        wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, ".dialog-ux input"))
        driver.find_element(By.CSS_SELECTOR, ".dialog-ux input").send_keys(key)
        driver.find_element(By.CSS_SELECTOR, ".dialog-ux .auth-btn-wrapper .authorize").click()
        wait_for(driver, lambda d: "Logout" in d.find_element(By.CSS_SELECTOR, ".dialog-ux").text)
        driver.find_element(By.CSS_SELECTOR, ".dialog-ux .btn-done").click()
        listing = '[id^="operations-journeys-list_journeys"]'
        driver.find_element(By.CSS_SELECTOR, f"{listing} .opblock-summary").click()
        wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, f"{listing} .try-out__btn"))
        driver.find_element(By.CSS_SELECTOR, f"{listing} .try-out__btn").click()
        driver.find_element(By.CSS_SELECTOR, f"{listing} .btn.execute").click()
        status = f"{listing} .live-responses-table tbody .response-col_status"
        wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, status))
        assert _text(driver, status).startswith("200")
        assert FOLLOW_UP["name"] in _text(driver, f"{listing} .live-responses-table")
        screenshot(driver, "api-docs-try-it-out")


async def test_the_api_docs_render_offline_and_authorize_then_try_it_out_with_a_key(
    settings: Settings,
) -> None:
    key = await issue_test_key(settings.resolved_migration_database_url())
    with serving(create_app(api_resources(settings))) as url:
        async with httpx.AsyncClient(base_url=url, headers=bearer(key)) as api:
            await _post(api, "/journeys", FOLLOW_UP, "journeyId")
        await asyncio.to_thread(_authorize_and_try_it_out, url, key)
