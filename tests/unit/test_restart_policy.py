"""The supervisor's restart backoff: small at first, doubling per crash, capped, reset after a healthy run."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pjs.supervisor import RestartPolicy

POLICY = RestartPolicy(first_seconds=0.5, max_seconds=30.0, healthy_seconds=60.0)


def test_a_role_crashing_at_once_waits_longer_each_time_up_to_the_cap() -> None:
    delays: list[float] = []
    delay = None
    for _ in range(9):
        delay = POLICY.next_delay(delay, ran_for=1.0)
        delays.append(delay)

    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]


def test_a_role_that_ran_healthily_before_crashing_restarts_after_the_first_wait() -> None:
    assert POLICY.next_delay(30.0, ran_for=60.0) == 0.5


@given(
    previous=st.none() | st.floats(min_value=0.0, max_value=1e6),
    ran_for=st.floats(min_value=0.0, max_value=1e6),
)
def test_a_wait_is_never_longer_than_the_cap(previous: float | None, ran_for: float) -> None:
    assert POLICY.next_delay(previous, ran_for) <= POLICY.max_seconds
