"""A refusal whose audit entry cannot be written is answered as it would be (a 404 stays that 404, a 403
that 403, never a 500 nor a 503), and the failure is a line naming the error's class (ERROR, WARNING when the
store is down or busy) and a count on /metrics."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from api.api_keys import Scope
from api.rate_limit import KeyRateLimiter
from api.refusals import ONE_A_MINUTE
from pjs.logs import QuietRepeats
from pjs.settings import Settings
from support.api import app_client
from support.auth import bearer, issue_test_key
from support.log_filters import filtered_capture
from support.ui import sign_in

UNWRITTEN = "pjs_refusal_entries_unwritten"
LOGGER = "api.refusals.unwritten"


@asynccontextmanager
async def audit_log_closed_to_the_api(settings: Settings) -> AsyncIterator[None]:
    """The API's role may not insert into the audit log (a grant lost in a botched migration) until the
    block ends."""
    api_role = urlsplit(settings.resolved_database_url()).username
    owner = await asyncpg.connect(settings.resolved_migration_database_url())
    try:
        await owner.execute(f'REVOKE INSERT ON audit_log FROM "{api_role}"')
        try:
            yield
        finally:
            await owner.execute(f'GRANT INSERT ON audit_log TO "{api_role}"')
    finally:
        await owner.close()


async def unwritten(client: httpx.AsyncClient, action: str, cause: str = "error") -> float:
    """The count of `action`'s entries not written for `cause`, as a scrape of /metrics reads it."""
    scraped = await client.get("/metrics")
    assert scraped.status_code == 200, scraped.text
    for family in text_string_to_metric_families(scraped.text):
        for sample in family.samples:
            if sample.name == f"{UNWRITTEN}_total" and sample.labels == {"action": action, "cause": cause}:
                return sample.value
    raise AssertionError(f"{UNWRITTEN}_total{{action={action!r}, cause={cause!r}}} is not on /metrics")


def failure_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == LOGGER]


async def test_a_404_whose_audit_entry_cannot_be_written_is_still_the_404_and_the_failure_is_counted(
    settings: Settings, api: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    # Given an API whose role lost its INSERT on the audit log
    caplog.set_level(logging.WARNING, logger=LOGGER)
    run_id = str(uuid.uuid4())
    before = await unwritten(api, "NotFoundAnswered")
    async with audit_log_closed_to_the_api(settings):
        # When a client asks for a run its clinic does not have
        answer = await api.get(f"/journeys/runs/{run_id}")

    # Then it gets the 404 with its usual body, and operators see the entry that was not written
    assert answer.status_code == 404
    assert answer.json() == {"message": f"Run {run_id} does not exist."}
    assert await unwritten(api, "NotFoundAnswered") == before + 1
    [line] = failure_lines(caplog)
    assert line.levelno == logging.ERROR
    assert "NotFoundAnswered" in line.getMessage() and "InsufficientPrivilegeError" in line.getMessage()
    assert run_id not in caplog.text


async def test_the_explorers_404_page_stays_a_404_page_when_its_audit_entry_cannot_be_written(
    settings: Settings, api: httpx.AsyncClient, api_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    run_id = str(uuid.uuid4())
    before = await unwritten(api, "NotFoundAnswered")
    async with app_client(settings, None) as (browser, _):
        await sign_in(browser, api_key)  # signing in is audited too: before the grant is lost
        async with audit_log_closed_to_the_api(settings):
            page = await browser.get(f"/ui/runs/{run_id}")

    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert f"Run {run_id} does not exist." in page.text
    assert await unwritten(api, "NotFoundAnswered") == before + 1
    assert [line.levelno for line in failure_lines(caplog)] == [logging.ERROR]
    assert run_id not in caplog.text


async def test_a_403_whose_audit_entry_cannot_be_written_is_still_the_403_and_the_failure_is_counted(
    settings: Settings, api: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    trigger_only = await issue_test_key(settings.resolved_migration_database_url(), [Scope.RUNS_TRIGGER])
    before = await unwritten(api, "AccessRefused")
    async with audit_log_closed_to_the_api(settings):
        answer = await api.get(f"/journeys/runs/{uuid.uuid4()}", headers=bearer(trigger_only))

    assert answer.status_code == 403
    assert answer.json() == {"message": "This API key lacks the scope this operation needs: runs:read."}
    assert await unwritten(api, "AccessRefused") == before + 1
    [line] = failure_lines(caplog)
    assert (line.levelno, line.getMessage()) == (
        logging.ERROR,
        "a refusal's audit entry (AccessRefused) not written: InsufficientPrivilegeError",
    )


# An API whose two connections a test can hold. Its key must stay cached meanwhile: the default half a
# second can pass in the first refusal's audit write and a metrics scrape on a loaded machine, and the key's
# lookup would then need the pool.
TWO_CONNECTIONS = {"api_pool_size": 2, "api_acquire_seconds": 0.5, "api_key_cache_seconds": 60.0}


async def test_a_403_while_every_database_connection_is_busy_is_still_the_403_and_leaves_no_entry(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a clinic's key that may only trigger runs, refused once while the store answers (its key is
    # then in the API's cache), and an API whose two connections are then all held
    caplog.set_level(logging.WARNING, logger=LOGGER)
    trigger_only = await issue_test_key(settings.resolved_migration_database_url(), [Scope.RUNS_TRIGGER])
    small = settings.model_copy(update=TWO_CONNECTIONS)
    async with app_client(small, trigger_only) as (api, app):
        assert (await api.get(f"/journeys/runs/{uuid.uuid4()}")).status_code == 403
        before = await unwritten(api, "AccessRefused", "store_unavailable")
        pool = app.state.resources.pool
        held = [await pool.acquire() for _ in range(2)]
        try:
            # When the key asks again for what its scope does not cover
            answer = await api.get(f"/journeys/runs/{uuid.uuid4()}")
        finally:
            for connection in held:
                await pool.release(connection)
        after = await unwritten(api, "AccessRefused", "store_unavailable")
    owner = await asyncpg.connect(settings.resolved_migration_database_url())
    try:
        refused = await owner.fetchval("SELECT count(*) FROM audit_log WHERE action = 'AccessRefused'")
    finally:
        await owner.close()

    # Then it is the same 403, not a 503 to retry; the refusal is a WARNING line and a count, as the
    # outage's other lines are, and only the refusal made while the store answered is in the audit log
    assert answer.status_code == 403
    assert answer.json() == {"message": "This API key lacks the scope this operation needs: runs:read."}
    assert after == before + 1
    [line] = failure_lines(caplog)
    assert (line.levelno, line.getMessage()) == (
        logging.WARNING,
        "a refusal's audit entry (AccessRefused) not written, store unavailable: PoolExhausted",
    )
    assert refused == 1


async def test_once_the_grant_is_back_the_next_sampled_entry_counts_the_404s_whose_entry_was_lost(
    settings: Settings, api_key: str
) -> None:
    async with app_client(settings, api_key) as (api, app):
        async with audit_log_closed_to_the_api(settings):
            assert (await api.get(f"/journeys/runs/{uuid.uuid4()}")).status_code == 404
        # A minute later, when the key may have its next entry on the route (the sampler's window, restarted)
        app.state.refusal_log._per_caller_route = KeyRateLimiter(ONE_A_MINUTE)
        assert (await api.get(f"/journeys/runs/{uuid.uuid4()}")).status_code == 404

        entries = (await api.get("/audit")).json()["entries"]

    sampled = [entry["details"] for entry in entries if entry["action"] == "NotFoundAnswered"]
    assert sampled == [{"status": 404, "route": "GET /journeys/runs/{runId}", "count": 2}]


async def test_an_entry_lost_to_an_error_is_logged_at_once_even_right_after_one_lost_to_an_outage(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # Given the API's log as it runs, repeats of a line held back for a minute (pjs.logs.QuietRepeats), and
    # a refusal whose entry a busy store just left unwritten (a WARNING line)
    caplog.set_level(logging.WARNING, logger=LOGGER)
    with filtered_capture(caplog, QuietRepeats()):
        trigger_only = await issue_test_key(settings.resolved_migration_database_url(), [Scope.RUNS_TRIGGER])
        small = settings.model_copy(update=TWO_CONNECTIONS)
        async with app_client(small, trigger_only) as (api, app):
            assert (await api.get(f"/journeys/runs/{uuid.uuid4()}")).status_code == 403  # the key now cached
            pool = app.state.resources.pool
            held = [await pool.acquire() for _ in range(2)]
            try:
                assert (await api.get(f"/journeys/runs/{uuid.uuid4()}")).status_code == 403
            finally:
                for connection in held:
                    await pool.release(connection)

            # When, seconds later, the API's role has lost its INSERT on the audit log
            async with audit_log_closed_to_the_api(settings):
                assert (await api.get(f"/journeys/runs/{uuid.uuid4()}")).status_code == 403

    # Then the ERROR line is shown, not held back as a repeat of the outage's WARNING line
    assert [(line.levelno, line.getMessage()) for line in failure_lines(caplog)] == [
        (
            logging.WARNING,
            "a refusal's audit entry (AccessRefused) not written, store unavailable: PoolExhausted",
        ),
        (logging.ERROR, "a refusal's audit entry (AccessRefused) not written: InsufficientPrivilegeError"),
    ]
