"""Per-key rate limits: a sliding window per API key, in this process's memory (the `limits` library).

About `burst` requests in any window of `burst / per_second` seconds (rounded up, at least 1): a client may
spend its burst at once, then averages `per_second`. The library's sliding window counter weighs the previous
window's count by how much of it the sliding window still covers; its moving window, exact but kept as a list
of hits per key, cost five times as much per request (its expiry sweep hops to a thread for every key).
Each API process counts on its own, so N processes allow up to N times the rate; a shared store (Redis)
would be the step beyond that.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter


@dataclass(frozen=True)
class RateLimit:
    """The policy; `pjs.settings` fills it from PJS_RATE_LIMIT_* variables."""

    per_second: float = 50.0
    burst: int = 100


class KeyRateLimiter:
    """Counts requests per key id; `hit` answers how long to wait, or None when the request may go on."""

    def __init__(self, policy: RateLimit) -> None:
        window_seconds = max(1, math.ceil(policy.burst / policy.per_second))
        self._item = RateLimitItemPerSecond(policy.burst, window_seconds)
        self._limiter = SlidingWindowCounterRateLimiter(MemoryStorage())

    async def allows(self, key_id: str) -> bool:
        """Whether a request of this key would be let through now; counts nothing."""
        return await self._limiter.test(self._item, key_id)

    async def hit(self, key_id: str) -> int | None:
        """Count one request of this key; the whole seconds until it may retry when over the limit."""
        if await self._limiter.hit(self._item, key_id):
            return None
        stats = await self._limiter.get_window_stats(self._item, key_id)
        return max(1, math.ceil(stats.reset_time - time.time()))
