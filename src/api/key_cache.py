"""Recently verified API keys, trusted for a short time so a busy client is not one extra query per request.

A key is cached under its id together with the hash of the secret that proved it, so a wrong secret for a
cached id still misses and goes to the database (and is refused there). Only keys the database accepted
are cached; a revocation takes effect on every API process within `seconds` (PJS_API_KEY_CACHE_SECONDS).
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass

from api.api_keys import PresentedKey, Principal, secret_hash
from api.key_store import principal_for
from events.pg import Queryable

_MAX_KEYS = 10_000  # past this many keys seen within `seconds`, the cache starts over


@dataclass(frozen=True)
class _Verified:
    proof: bytes
    principal: Principal
    until: float


class KeyCache:
    """`principal_for` with a memory of the last `seconds`; 0 seconds asks the database every time."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._verified: dict[str, _Verified] = {}

    async def principal_for(self, db: Queryable, key: PresentedKey) -> Principal | None:
        if self.seconds <= 0:
            return await principal_for(db, key)
        proof = secret_hash(key.key_id, key.secret)
        now = self._clock()
        known = self._verified.get(key.key_id)
        if known is not None and known.until > now and hmac.compare_digest(known.proof, proof):
            return known.principal
        principal = await principal_for(db, key)
        if principal is None:
            self._verified.pop(key.key_id, None)
            return None
        if len(self._verified) >= _MAX_KEYS:
            self._verified.clear()
        self._verified[key.key_id] = _Verified(proof, principal, now + self.seconds)
        return principal
