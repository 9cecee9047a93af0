"""A role's start waiting for a Postgres or a Kafka not up yet (a host's reboot, a server still starting or
recovering): retried as every transient error is (`events.retry`), for at most
`PJS_STARTUP_POSTGRES_WAIT_SECONDS` or `PJS_STARTUP_KAFKA_WAIT_SECONDS`, then a clear exit naming the address
and the variable. A refusal (a wrong password) is not waited for."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import asyncpg
from aiokafka.errors import KafkaConnectionError

from events.pools import connect
from events.retry import RETRY_LATER_ERRORS, retry_until_stopped
from events.waiting import ABANDONED, Abandoned
from pjs.settings import Settings
from pjs.startup_errors import (
    API_DSN,
    WORKER_DSN,
    NotUpInTime,
    database_url,
    kafka_address,
    postgres_address,
)
from pjs.wiring import own_database_url, session_limits

log = logging.getLogger("pjs")

T = TypeVar("T")

WAIT_VARIABLE = "PJS_STARTUP_POSTGRES_WAIT_SECONDS"
KAFKA_WAIT_VARIABLE = "PJS_STARTUP_KAFKA_WAIT_SECONDS"


async def until_postgres_answers(
    operation: Callable[[], Awaitable[T]],
    stop: asyncio.Event,
    settings: Settings,
    *,
    what: str,
    variable: str,
) -> T | Abandoned:
    """`operation`'s result, retried while Postgres cannot be reached; `ABANDONED` once `stop` is set. Raises
    `NotUpInTime` when the bound passes, and any error that is not transient (a refusal) at once.

    `what` names the wait in its log line (the first attempt, then every tenth); `variable` is the DSN's
    environment variable, named in the exit line."""
    seconds = settings.startup_postgres_wait_seconds

    def not_up(last_error: str) -> NotUpInTime:
        return NotUpInTime(
            f"Postgres at {_address(settings, variable)} did not answer within {seconds:.0f} s "
            f"({WAIT_VARIABLE}; last: {last_error}); check the host and port in {variable} and that the "
            "server runs"
        )

    return await _within(seconds, operation, stop, what=what, not_up=not_up)


async def until_kafka_answers(
    operation: Callable[[], Awaitable[T]], stop: asyncio.Event, settings: Settings, *, what: str
) -> T | Abandoned:
    """`operation`'s result, retried while the Kafka broker cannot be reached; `ABANDONED` once `stop` is
    set. Raises `NotUpInTime` when `PJS_STARTUP_KAFKA_WAIT_SECONDS` passes."""
    seconds = settings.startup_kafka_wait_seconds

    def not_up(last_error: str) -> NotUpInTime:
        return NotUpInTime(
            f"Kafka at {kafka_address(settings)} did not answer within {seconds:.0f} s "
            f"({KAFKA_WAIT_VARIABLE}; last: {last_error}); check PJS_KAFKA_BOOTSTRAP and that the broker runs"
        )

    return await _within(
        seconds, operation, stop, what=what, not_up=not_up, also_retry=(KafkaConnectionError,)
    )


async def _within(
    seconds: float,
    operation: Callable[[], Awaitable[T]],
    stop: asyncio.Event,
    *,
    what: str,
    not_up: Callable[[str], NotUpInTime],
    also_retry: tuple[type[BaseException], ...] = (),
) -> T | Abandoned:
    """The one bounded wait: `operation` retried (its transient errors and `also_retry`) until it succeeds,
    `stop` is set (`ABANDONED`) or `seconds` pass (raises `not_up` of the last error's type)."""
    deadline = time.monotonic() + seconds
    last_error = "no answer"

    async def attempt() -> T:
        nonlocal last_error
        try:
            return await operation()
        except (*RETRY_LATER_ERRORS, *also_retry) as error:
            last_error = type(error).__name__
            raise

    result = await retry_until_stopped(
        attempt,
        stop,
        log=log,
        what=f"{what} (waiting up to {seconds:.0f} s)",
        give_up=lambda: time.monotonic() >= deadline,
        also_retry=also_retry,
    )
    if result is ABANDONED and not stop.is_set():
        raise not_up(last_error)
    return result


async def own_postgres_connection(
    name: str, roles: Sequence[str], settings: Settings, stop: asyncio.Event
) -> asyncpg.Connection | Abandoned:
    """A connection of the roles' own DSN (the API's, else the workers'), for the process `name`, opened
    within the bounded wait; `ABANDONED` if stopped while waiting. The process's heartbeat beats on it
    (`pjs.heartbeat`): what the start waited for is what it goes on with, not a connection thrown away."""
    variable = API_DSN if "api" in roles else WORKER_DSN
    url = own_database_url(roles, settings)

    async def connected() -> asyncpg.Connection:
        return await connect(url, session_limits(settings))

    what = f"role {name} connecting to Postgres at {postgres_address(url)}"
    return await until_postgres_answers(connected, stop, settings, what=what, variable=variable)


def _address(settings: Settings, variable: str) -> str:
    found = database_url(settings, variable)
    return "the configured Postgres" if found is None else postgres_address(found[1])
