"""The identity provider's signing keys (its JWKS document), fetched over HTTP and kept for a while.

Keys are looked up by the token header's `kid`. An unknown `kid` fetches the document again, since
providers rotate keys by publishing the new one first, but at most once per `min_refetch_seconds`: a
stream of made-up `kid`s must not turn into a stream of requests to the provider. When a fetch fails the
keys fetched before stay in use; only a service that never had any answers `KeySetUnavailable`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

import aiohttp
import jwt
import orjson

log = logging.getLogger(__name__)

MAX_DOCUMENT_BYTES: Final = 1 << 20
FETCH_TIMEOUT_SECONDS: Final = 5.0

Fetch = Callable[[str], Awaitable[bytes]]


class KeySetUnavailable(Exception):
    """The provider's keys could not be fetched, and none fetched earlier are at hand."""


async def fetch_document(url: str) -> bytes:
    """The JWKS document at `url` (a GET with a timeout and a size bound); raises on any failure."""
    timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as response:
        response.raise_for_status()
        body = await response.content.read(MAX_DOCUMENT_BYTES + 1)
        if len(body) > MAX_DOCUMENT_BYTES:
            raise ValueError(f"the key set document is over {MAX_DOCUMENT_BYTES} bytes")
        return body


def signing_keys(document: bytes) -> dict[str | None, jwt.PyJWK]:
    """The document's signing keys by `kid`; encryption keys and keys of unknown types are left out."""
    parsed: Any = orjson.loads(document)
    entries = parsed.get("keys") if isinstance(parsed, dict) else None
    if not isinstance(entries, list):
        raise ValueError("the key set document has no `keys` list")
    keys: dict[str | None, jwt.PyJWK] = {}
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        try:
            key = jwt.PyJWK(entry)
        except jwt.PyJWTError:
            continue  # a key type or curve this service cannot use: other keys still can be
        keys[key.key_id] = key
    return keys


class RemoteKeySet:
    """The signing keys published at `url`, refreshed every `cache_seconds` and on an unknown `kid`."""

    def __init__(
        self,
        url: str,
        *,
        cache_seconds: float = 300.0,
        min_refetch_seconds: float = 30.0,
        fetch: Fetch = fetch_document,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.cache_seconds = cache_seconds
        self.min_refetch_seconds = min_refetch_seconds
        self._fetch = fetch
        self._clock = clock
        self._keys: dict[str | None, jwt.PyJWK] | None = None
        self._fetched_at = float("-inf")
        self._tried_at = float("-inf")
        self._attempts = 0
        self._lock = asyncio.Lock()

    async def key_for(self, key_id: str | None) -> jwt.PyJWK | None:
        """The key a token names, or None when the provider publishes no such key (after one refetch)."""
        if self._clock() - self._fetched_at >= self.cache_seconds:
            await self._refresh_when_allowed()
        found = self._pick(key_id)
        if found is None:  # perhaps a key the provider has just rotated in
            await self._refresh_when_allowed()
            found = self._pick(key_id)
        return found

    def _pick(self, key_id: str | None) -> jwt.PyJWK | None:
        keys = self._keys or {}
        if key_id is None and len(keys) == 1:  # a provider with one key may leave `kid` out
            return next(iter(keys.values()))
        return keys.get(key_id)

    async def _refresh_when_allowed(self) -> None:
        """Fetch again unless a fetch was tried within `min_refetch_seconds` (or while this one waited)."""
        attempts_seen = self._attempts
        async with self._lock:
            recently = self._clock() - self._tried_at < self.min_refetch_seconds
            if self._attempts == attempts_seen and not recently:
                await self._fetch_now()
        if self._keys is None:
            raise KeySetUnavailable(self.url)

    async def _fetch_now(self) -> None:
        self._tried_at = self._clock()
        self._attempts += 1
        try:
            self._keys = signing_keys(await self._fetch(self.url))
            self._fetched_at = self._tried_at
        except Exception as failure:  # an outage of the provider must not fail what the old keys serve
            log.warning("could not fetch the identity provider's keys: %s", type(failure).__name__)
