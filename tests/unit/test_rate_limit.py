"""The per-key limiter's promise at a window's end, on a clock the test moves.

The sliding window counter's windows are aligned to the clock and weigh the previous window's count by how
much of it the sliding window still covers, rounded down; a refused request is not counted. So a burst that
straddles a window's end may let one request more through than `burst`, never two, and never none.
"""

from __future__ import annotations

import asyncio
from unittest import mock

from hypothesis import given
from hypothesis import strategies as st

from api.rate_limit import KeyRateLimiter, RateLimit

POLICY = RateLimit(per_second=0.2, burst=5)  # a 25 s window
WINDOW_SECONDS = 25


def let_through(window_end_after: int, requests: int, spacing: float) -> list[bool]:
    """Which of `requests` hits, `spacing` seconds apart, pass when a window ends after the first N."""
    start = 1_000_000 * WINDOW_SECONDS - window_end_after * spacing - spacing / 2
    return asyncio.run(_hits(start, requests, spacing))


async def _hits(start: float, requests: int, spacing: float) -> list[bool]:
    clock = [start]
    with mock.patch("time.time", lambda: clock[0]):
        limiter = KeyRateLimiter(POLICY)
        answers = []
        for index in range(requests):
            clock[0] = start + index * spacing
            answers.append(await limiter.hit("key") is None)
        return answers


def test_a_burst_at_once_passes_and_the_next_request_is_refused() -> None:
    assert let_through(window_end_after=100, requests=6, spacing=0.01) == [True] * 5 + [False]


@given(
    window_end_after=st.integers(min_value=0, max_value=7),
    spacing=st.floats(min_value=0.001, max_value=0.5),
)
def test_straddling_a_windows_end_lets_at_most_one_more_through(
    window_end_after: int, spacing: float
) -> None:
    answers = let_through(window_end_after, requests=7, spacing=spacing)
    assert answers[:5] == [True] * 5
    assert 5 <= sum(answers) <= 6
