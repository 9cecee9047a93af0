"""The one retry policy for transient trouble: which errors count as transient, and how long to wait.

Two shapes, one list of errors and one backoff (tenacity's exponential backoff with jitter):
`retry_transient` for a short, bounded retry of one operation (a lost race inside a transaction), and
`retry_until_stopped` for a role's loop that must keep trying while its dependency is down, saying so in
its log once, not once per attempt.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from events.errors import CONNECTION_ERRORS, AppendRaced, StoreUnavailable
from events.waiting import ABANDONED, Abandoned, sleep_unless_stopped

T = TypeVar("T")

RACE_ERRORS: tuple[type[BaseException], ...] = (
    AppendRaced,
    asyncpg.TransactionRollbackError,  # a deadlock or serialization failure Postgres broke
    asyncpg.LockNotAvailableError,  # waited past lock_timeout for a lock another transaction holds
)
"""A transaction lost a race and rolled back: nothing was committed, the same work can be tried at once."""

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (StoreUnavailable, *RACE_ERRORS, *CONNECTION_ERRORS)
"""Errors after which the same work, tried again later, can succeed. A lost connection is among them; a
write that is not idempotent must retry only `RACE_ERRORS`, since a connection lost during COMMIT may have
committed it."""


class RetryLater(Exception):
    """Raised by work that cannot be finished now (e.g. contention) and should be tried again later."""


RETRY_LATER_ERRORS: tuple[type[BaseException], ...] = (*TRANSIENT_ERRORS, RetryLater)
"""What a role's loop retries: transient errors, and work that asked to be tried again later."""


async def retry_transient(
    operation: Callable[[], Awaitable[T]],
    *,
    attempts: int = 5,
    first_wait: float = 0.001,
    max_wait: float = 0.1,
    retry_on: tuple[type[BaseException], ...] = TRANSIENT_ERRORS,
) -> T:
    """Run `operation`; on an error of `retry_on` try again (at most `attempts` times), then re-raise it."""
    retrying = AsyncRetrying(
        retry=retry_if_exception_type(retry_on),
        stop=stop_after_attempt(attempts),
        wait=wait_exponential_jitter(multiplier=first_wait, max=max_wait, jitter=first_wait),
        reraise=True,
    )
    return await retrying(_awaiting(operation))


async def retry_until_stopped(
    operation: Callable[[], Awaitable[T]],
    stop: asyncio.Event,
    *,
    log: logging.Logger,
    what: str,
    first_wait: float = 0.2,
    max_wait: float = 10.0,
    give_up: Callable[[], bool] = lambda: False,
    also_retry: tuple[type[BaseException], ...] = (),
) -> T | Abandoned:
    """Run `operation` until it succeeds, retrying transient errors, `RetryLater` and `also_retry` (e.g. a
    broker not reachable yet, where the caller knows that is all it means) with backoff; its result.

    Returns `ABANDONED`, without raising, once `stop` is set or `give_up()` is true after a failed attempt
    (the caller abandons the work; whoever picks it up next does it again). Other errors propagate at once.
    """

    def finished(_state: RetryCallState) -> bool:
        return stop.is_set() or give_up()

    async def sleep(seconds: float) -> None:
        await sleep_unless_stopped(stop, seconds)

    retrying = AsyncRetrying(
        retry=retry_if_exception_type((*RETRY_LATER_ERRORS, *also_retry)),
        stop=finished,
        wait=wait_exponential_jitter(multiplier=first_wait, max=max_wait, jitter=first_wait),
        sleep=sleep,
        before_sleep=_log_first_and_every_tenth(log, what),
        retry_error_callback=lambda _state: ABANDONED,
    )
    result: T | Abandoned = await retrying(_awaiting(operation))
    return result


def _awaiting(operation: Callable[[], Awaitable[T]]) -> Callable[[], Awaitable[T]]:
    """A coroutine function around `operation`: tenacity awaits only what it recognises as one, and would
    hand back a lambda's coroutine unawaited."""

    async def attempt() -> T:
        return await operation()

    return attempt


def _worth_reporting(attempt: int) -> bool:
    """A dependency that stays down is reported once, then every tenth attempt, never per attempt."""
    return attempt == 1 or attempt % 10 == 0


def _report_failure(log: logging.Logger, what: str, error: BaseException | None, attempt: int) -> None:
    if _worth_reporting(attempt):
        log.warning("%s not done (%s), attempt %d; retrying", what, type(error).__name__, attempt)


def _log_first_and_every_tenth(log: logging.Logger, what: str) -> Callable[[RetryCallState], None]:
    def report(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        _report_failure(log, what, error, state.attempt_number)

    return report


class OutageLog:
    """The same reporting for a loop that retries by itself: count failures in a row, log the first and
    every tenth, and say once when the dependency answers again."""

    def __init__(self, log: logging.Logger, what: str) -> None:
        self._log = log
        self._what = what
        self.failures = 0

    def failed(self, error: BaseException) -> None:
        self.failures += 1
        _report_failure(self._log, self._what, error, self.failures)

    def recovered(self) -> None:
        if self.failures:
            self._log.info("%s done after %d failed attempt(s)", self._what, self.failures)
        self.failures = 0
