"""Starting a test's requests clear of a rate limit window's end.

The limiter's sliding window counter keeps counts per window aligned to the clock (multiples of the window
since the epoch) and weighs the previous window's count rounded down, so the first request after a
window's end may pass where one a window was promised. A test that asserts the exact sampling waits out
the end of the window when its requests might straddle it.
"""

from __future__ import annotations

import asyncio
import time


async def clear_of_a_windows_end(window_seconds: float, needed_seconds: float) -> None:
    """Return at once when `needed_seconds` of the current window are left, else once the next one began."""
    left = window_seconds - time.time() % window_seconds
    if left < needed_seconds:
        await asyncio.sleep(left + 0.05)
