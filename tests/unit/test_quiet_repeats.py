"""A library's repeated connection warnings reach the log once per window, with a count of those held back."""

from __future__ import annotations

import logging
import sys

from pjs.logs import QuietRepeats


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def record(name: str, msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args, None)


def test_a_broker_outage_logs_one_line_a_window_however_many_attempts_fail() -> None:
    clock = Clock()
    quiet = QuietRepeats(window_seconds=60, clock=clock)
    shown = []
    for attempt in range(5000):
        clock.now = attempt * 0.01  # 50 s of attempts, 100 a second
        line = record("aiokafka.conn", "Unable connect to node with id %s: %s", 1, f"attempt {attempt}")
        if quiet.filter(line):
            shown.append(line)
    assert len(shown) == 1

    clock.now = 61
    after_window = record("aiokafka.conn", "Unable connect to node with id %s: %s", 1, "again")
    assert quiet.filter(after_window)
    assert "4999 similar line(s) held back" in after_window.getMessage()


def test_different_warnings_and_our_own_lines_are_never_held_back() -> None:
    quiet = QuietRepeats(window_seconds=60, clock=Clock())
    assert quiet.filter(record("aiokafka.conn", "Unable connect to node with id %s", 1))
    assert quiet.filter(record("aiokafka.client", "Unable to update metadata from %s", 1))
    for _ in range(3):
        assert quiet.filter(record("events.relay", "relay reaching Kafka not done"))


def test_a_librarys_expected_outage_is_one_line_naming_the_error_not_a_traceback() -> None:
    try:
        raise ConnectionRefusedError(111, "Connect call failed")
    except ConnectionRefusedError:
        failed = logging.LogRecord(
            "asyncpg.pool",
            logging.WARNING,
            __file__,
            1,
            "Failed to restore the pool connection floor; retrying",
            (),
            sys.exc_info(),
        )
    assert QuietRepeats(clock=Clock()).filter(failed)
    assert failed.exc_info is None
    assert (
        failed.getMessage()
        == "Failed to restore the pool connection floor; retrying (ConnectionRefusedError)"
    )


def test_every_request_refused_while_postgres_is_down_is_one_line_a_window() -> None:
    quiet = QuietRepeats(window_seconds=60, clock=Clock())
    refused = [
        record("api.errors.outages", "request failed, store unavailable: %s", "ConnectionRefusedError")
    ]
    refused += [
        record("api.errors.outages", "request failed, store unavailable: %s", "X") for _ in range(250)
    ]
    assert sum(quiet.filter(line) for line in refused) == 1
    assert quiet.filter(record("api.errors", "unhandled error on %s %s", "GET", "/journeys"))
