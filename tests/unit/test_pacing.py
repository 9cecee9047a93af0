"""`Every`: at most once an interval, the first time always."""

from __future__ import annotations

from events.pacing import Every


def test_due_at_most_once_an_interval_and_the_first_time_always() -> None:
    now = [50.0]
    every = Every(1.0, clock=lambda: now[0])

    answers = []
    for at in (50.0, 50.2, 50.99, 51.0, 51.5, 52.1):
        now[0] = at
        answers.append(every.due())

    assert answers == [True, False, False, True, False, True]


def test_an_interval_of_zero_is_always_due() -> None:
    every = Every(0.0, clock=lambda: 7.0)

    assert [every.due() for _ in range(3)] == [True, True, True]
