"""The one retry policy: transient errors are retried (bounded, or until stopped), others are not."""

from __future__ import annotations

import asyncio
import logging

import pytest

from events.errors import AppendRaced, StoreUnavailable
from events.retry import OutageLog, RetryLater, retry_transient, retry_until_stopped
from events.waiting import ABANDONED

log = logging.getLogger(__name__)


class Flaky:
    """Fails with `error` the first `failures` times, then returns the number of calls."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.calls = 0
        self._failures = failures
        self._error = error

    async def __call__(self) -> int:
        self.calls += 1
        if self.calls <= self._failures:
            raise self._error
        return self.calls


async def test_a_lost_race_is_retried_until_it_succeeds() -> None:
    flaky = Flaky(2, AppendRaced("a racing append won"))
    assert await retry_transient(flaky, attempts=5, first_wait=0.0001) == 3


async def test_a_lambda_returning_a_coroutine_is_awaited_not_handed_back() -> None:
    flaky = Flaky(0, AppendRaced("unused"))
    assert await retry_transient(lambda: flaky(), first_wait=0.0001) == 1


async def test_a_race_lost_every_time_is_raised_after_the_bounded_attempts() -> None:
    flaky = Flaky(10, AppendRaced("a racing append won"))
    with pytest.raises(AppendRaced):
        await retry_transient(flaky, attempts=3, first_wait=0.0001)
    assert flaky.calls == 3


async def test_an_error_that_is_not_transient_is_raised_at_once() -> None:
    flaky = Flaky(1, ValueError("a bug"))
    with pytest.raises(ValueError):
        await retry_transient(flaky, first_wait=0.0001)
    assert flaky.calls == 1


async def test_a_role_keeps_retrying_while_its_store_is_down_and_says_so_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    flaky = Flaky(5, StoreUnavailable("connection refused"))
    with caplog.at_level(logging.WARNING):
        result = await retry_until_stopped(
            flaky, asyncio.Event(), log=log, what="work", first_wait=0.0001, max_wait=0.001
        )
    assert result == 6
    assert len(caplog.records) == 1


async def test_retrying_until_stopped_gives_up_quietly_when_stopped() -> None:
    stop = asyncio.Event()

    async def never_done() -> int:
        stop.set()
        raise RetryLater("contention")

    assert await retry_until_stopped(never_done, stop, log=log, what="work", first_wait=0.0001) is ABANDONED


async def test_retrying_until_stopped_gives_up_when_the_work_is_abandoned() -> None:
    flaky = Flaky(100, RetryLater("contention"))
    result = await retry_until_stopped(
        flaky, asyncio.Event(), log=log, what="work", first_wait=0.0001, give_up=lambda: flaky.calls >= 3
    )
    assert result is ABANDONED and flaky.calls == 3


async def test_work_whose_result_is_none_is_told_apart_from_work_abandoned_when_stopped() -> None:
    stop = asyncio.Event()
    calls = 0

    async def store_then_stop() -> None:  # e.g. a write that answers nothing
        nonlocal calls
        calls += 1
        if calls == 1:
            raise StoreUnavailable("connection refused")
        stop.set()  # stopping right after the work succeeded does not undo it

    result = await retry_until_stopped(store_then_stop, stop, log=log, what="work", first_wait=0.0001)

    assert result is None and calls == 2


def test_a_loop_reporting_an_outage_logs_its_first_and_every_tenth_failure_then_the_recovery(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outage = OutageLog(log, "relay reaching Kafka")
    with caplog.at_level(logging.INFO):
        for _ in range(25):
            outage.failed(ConnectionRefusedError())
        outage.recovered()
        outage.recovered()  # answering again without a failure in between says nothing
        outage.failed(ConnectionRefusedError())
    lines = [record.getMessage() for record in caplog.records]
    assert lines == [
        "relay reaching Kafka not done (ConnectionRefusedError), attempt 1; retrying",
        "relay reaching Kafka not done (ConnectionRefusedError), attempt 10; retrying",
        "relay reaching Kafka not done (ConnectionRefusedError), attempt 20; retrying",
        "relay reaching Kafka done after 25 failed attempt(s)",
        "relay reaching Kafka not done (ConnectionRefusedError), attempt 1; retrying",
    ]
