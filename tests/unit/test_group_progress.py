"""A consumer group member's progress as its heartbeat reports it: behind while a batch is in flight, getting
on when a batch is handled or a fetch finds nothing."""

from __future__ import annotations

from events.group_progress import GroupProgress


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_member_stuck_on_its_batch_is_behind_by_it_and_its_progress_ages() -> None:
    clock = FakeClock()
    progress = GroupProgress(clock)
    progress.fetched(0)  # nothing to do: progress
    clock.now += 1
    progress.fetched(7)
    progress.lag = 0  # the fetch reached the partition's end

    clock.now += 40

    assert progress.records_behind == 7
    assert progress.seconds_since_progress() == 41


def test_a_handled_batch_or_an_empty_fetch_is_progress() -> None:
    clock = FakeClock()
    progress = GroupProgress(clock)
    progress.fetched(5)
    progress.lag = 3
    clock.now += 2
    progress.handled()

    assert (progress.records_behind, progress.seconds_since_progress()) == (3, 0)
    clock.now += 5
    progress.fetched(0)
    assert progress.seconds_since_progress() == 0


def test_a_member_that_never_got_on_counts_from_its_start() -> None:
    clock = FakeClock()
    progress = GroupProgress(clock)
    clock.now += 12
    assert progress.seconds_since_progress() == 12
