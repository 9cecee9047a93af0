"""Signing in to the run explorer with the clinic's identity provider in headless Chromium, the provider
on another site than the explorer (`localhost` against `127.0.0.1`), as it is in production. The way
back starts with a click on the provider's page, a navigation from another site, on which Chromium
sends no SameSite=Strict cookie: the explorer's page that moves on is what lets its first request carry
the new session (a plain redirect there would land on the sign-in page; this test fails then)."""

from __future__ import annotations

import asyncpg
import pytest
from selenium.webdriver.common.by import By

from api.app import create_app
from api.key_store import create_tenant
from api.token_policy import SIGN_IN_CALLBACK_PATH
from pjs.settings import Settings
from pjs.wiring import api_resources
from support.browser import browser, screenshot, serving, wait_for
from support.identity_provider import identity_provider, rsa_key, signing_in_with
from support.roles import free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


async def test_a_nurse_signs_in_with_the_clinics_provider_and_lands_on_the_journeys(
    settings: Settings,
) -> None:
    connection = await asyncpg.connect(settings.resolved_migration_database_url())
    try:
        await create_tenant(connection, "st-mary", by="operator:tests")
    finally:
        await connection.close()
    port = free_port()
    with identity_provider(rsa_key("rsa-2026")) as provider:
        provider.signed_in_claims = {"pjs_tenant": "st-mary", "scope": "journeys:read runs:read"}
        provider.asks_user = True  # the way back starts with a click on the provider's own page
        elsewhere = provider.authorize_url.replace("127.0.0.1", "localhost")  # another site
        callback = f"http://127.0.0.1:{port}{SIGN_IN_CALLBACK_PATH}"
        explorer = signing_in_with(provider, settings, callback, oidc_authorization_url=elsewhere)
        with serving(create_app(api_resources(explorer)), port) as url, browser() as driver:
            driver.get(f"{url}/ui/journeys")
            wait_for(driver, lambda d: d.current_url.endswith("/ui/login"))
            driver.find_element(By.LINK_TEXT, "Sign in with your organisation").click()
            wait_for(driver, lambda d: d.current_url.startswith("http://localhost:"))
            driver.find_element(By.ID, "continue").click()
            wait_for(driver, lambda d: d.current_url.endswith(("/ui/journeys", "/ui/login")))

            heading = driver.find_element(By.TAG_NAME, "h1").text
            screenshot(driver, "journeys-after-provider-sign-in")

    assert heading == "Journeys"
    assert len(provider.exchanges) == 1
