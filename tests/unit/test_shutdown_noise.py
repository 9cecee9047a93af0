"""Stopping with Kafka gone, and aiokafka's known self-healing conditions, read as warnings, not failures:
one line each, no traceback; an aiokafka error nobody explained stays an ERROR."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import GroupCoordinatorNotAvailableError, NodeNotReadyError

from events.offsets import KafkaCommits, stop_consumer
from pjs import process
from pjs.logs import ExpectedKafkaConditions
from pjs.settings import Settings
from support.log_filters import filtered_capture

SHORT = Settings(shutdown_seconds=0.2)
COORDINATOR = "aiokafka.consumer.group_coordinator"


async def _cancelled_on_its_way_out(_settings: Settings, stop: asyncio.Event) -> None:
    """What a consumer role did when aiokafka's stop re-raised its own fetches' cancellation."""
    await stop.wait()
    raise asyncio.CancelledError


async def _stubborn(_settings: Settings, _stop: asyncio.Event) -> None:
    await asyncio.sleep(3600)


@pytest.fixture(autouse=True)
def _fake_roles(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(process.ROLES, "cancelled_on_its_way_out", _cancelled_on_its_way_out)
    monkeypatch.setitem(process.ROLES, "stubborn", _stubborn)


def _lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [(record.levelname, record.getMessage()) for record in caplog.records if record.name == "pjs"]


async def test_a_role_cancelled_by_a_library_while_stopping_is_one_warning_not_a_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.05, stop.set)  # SIGTERM, once the role runs

    with caplog.at_level(logging.INFO, logger="pjs"):
        stopped_in_time = await process.run_until_stopped(["cancelled_on_its_way_out"], SHORT, stop)

    assert stopped_in_time is True
    assert _lines(caplog) == [
        (
            "WARNING",
            "role cancelled_on_its_way_out ended cancelled while it stopped, within its shutdown budget, "
            "by none of ours",
        )
    ]


async def test_a_role_over_its_shutdown_budget_is_one_warning_saying_it_was_cancelled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stop = asyncio.Event()
    stop.set()

    with caplog.at_level(logging.INFO, logger="pjs"):
        stopped_in_time = await process.run_until_stopped(["stubborn"], SHORT, stop)

    assert stopped_in_time is False
    [(level, line)] = _lines(caplog)
    assert level == "WARNING"
    assert line.startswith(
        "role stubborn did not stop within its shutdown budget (0 s, PJS_SHUTDOWN_SECONDS)"
    )
    assert "and was cancelled" in line and not caplog.records[0].exc_info


class _ConsumerLosingItsFetches(AIOKafkaConsumer):
    """A consumer whose stop re-raises the cancellation of fetches still waiting for a lost broker, as
    aiokafka 0.14's does (aio-libs/aiokafka#647); it owns no partition, so there is nothing to commit."""

    def __init__(self) -> None:
        self.stopping = asyncio.Event()

    def assignment(self) -> set[TopicPartition]:
        return set()

    async def stop(self) -> None:
        self.stopping.set()
        await asyncio.sleep(0.05)
        raise asyncio.CancelledError


async def test_stopping_a_consumer_whose_fetches_were_cancelled_logs_a_warning_and_returns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="events.offsets"):
        await stop_consumer(_ConsumerLosingItsFetches(), KafkaCommits(0))

    assert [record.getMessage() for record in caplog.records] == [
        "consumer did not stop cleanly (its fetches to a lost broker were cancelled)"
    ]


async def test_a_role_cancelled_while_it_stops_its_consumer_is_still_cancelled() -> None:
    consumer = _ConsumerLosingItsFetches()
    stopping = asyncio.ensure_future(stop_consumer(consumer, KafkaCommits(0)))
    await consumer.stopping.wait()

    stopping.cancel()

    with pytest.raises(asyncio.CancelledError):
        await stopping


def test_aiokafka_s_known_self_healing_errors_are_logged_as_warnings(
    caplog: pytest.LogCaptureFixture,
) -> None:
    coordinator = logging.getLogger(COORDINATOR)

    with (
        filtered_capture(caplog, ExpectedKafkaConditions()),
        caplog.at_level(logging.WARNING, logger="aiokafka"),
    ):
        coordinator.error("Group Coordinator Request failed: %s", GroupCoordinatorNotAvailableError())
        coordinator.error("Heartbeat session expired - marking coordinator dead")
        coordinator.error("LeaveGroup request failed: %s", GroupCoordinatorNotAvailableError())

    assert [record.levelname for record in caplog.records] == ["WARNING"] * 3
    assert "GroupCoordinatorNotAvailableError" in caplog.records[0].getMessage()


def test_an_aiokafka_error_not_known_to_heal_itself_stays_an_error(caplog: pytest.LogCaptureFixture) -> None:
    with (
        filtered_capture(caplog, ExpectedKafkaConditions()),
        caplog.at_level(logging.WARNING, logger="aiokafka"),
    ):
        logging.getLogger(COORDINATOR).error("Group Coordinator Request failed: %s", NodeNotReadyError(1))
        logging.getLogger(COORDINATOR).error("Unexpected error in coordinator routine")
        logging.getLogger("aiokafka").error("Heartbeat session expired - marking coordinator dead")
        logging.getLogger("pjs").error("Heartbeat session expired - marking coordinator dead")

    assert [record.levelname for record in caplog.records] == ["ERROR"] * 4
