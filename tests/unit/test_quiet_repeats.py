"""A library's repeated connection warnings reach the log once per window, with a count of those held back."""

from __future__ import annotations

import logging

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
