"""Waits until Postgres answers a query and a Kafka broker answers a metadata request, not just a port."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg

from events.broker import broker_answers
from pjs.services.processes import ServiceError
from pjs.settings import Settings

_CHECK_EVERY_SECONDS = 1.0


async def database_problem(url: str, timeout_seconds: float = 3.0) -> str | None:
    """Why Postgres does not answer `SELECT 1` (the error's class name), or None when it does."""
    try:
        async with asyncio.timeout(timeout_seconds):
            connection = await asyncpg.connect(url)
            try:
                await connection.fetchval("SELECT 1")
            finally:
                await connection.close()
    except Exception as error:  # any failure to answer means "not ready"; the check itself must not fail
        return type(error).__name__
    return None


async def problems(settings: Settings) -> dict[str, str]:
    """What does not answer yet, by service name."""
    found: dict[str, str] = {}
    database = await database_problem(settings.resolved_database_url())
    if database is not None:
        found["Postgres"] = f"no answer to a query ({database})"
    kafka = settings.kafka_connection()
    if not await broker_answers(kafka):
        found["Kafka"] = f"no answer to a metadata request at {kafka.bootstrap}"
    return found


async def wait_until_ready(settings: Settings, report: Callable[[str], None]) -> None:
    """Return once both answer; `report` hears each new reason once, not every check.

    Raises ServiceError naming what still does not answer after `services_ready_timeout_seconds`.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.services_ready_timeout_seconds
    reported: dict[str, str] = {}
    while found := await problems(settings):
        for service, problem in found.items():
            if reported.get(service) != problem:
                report(f"waiting for {service}: {problem}")
        reported = found
        if loop.time() >= deadline:
            waited = settings.services_ready_timeout_seconds
            raise ServiceError(
                f"not ready after {waited:.0f}s: "
                + "; ".join(f"{service}: {problem}" for service, problem in found.items())
                + " (`pjs services status` shows whether the local services run)"
            )
        await asyncio.sleep(_CHECK_EVERY_SECONDS)
