"""The identity provider's signing keys (its JWKS document), fetched over HTTP and kept for a while.

Keys are looked up by the token header's `kid`. Keys older than `cache_seconds` are still served while a
fetch in the background replaces them, so no request waits on the provider once keys are at hand. One
fetch runs at a time, as a task of its own; requests that need its answer wait for it. An
unknown `kid` is waited for, since providers rotate keys by publishing the new one first, but at most once
per `min_refetch_seconds`: a stream of made-up `kid`s must not turn into a stream of requests to the
provider. When fetches fail (or bring no usable key), the keys fetched before stay in use for up to
`max_stale_seconds` past their cache time; a service that has none answers `KeySetUnavailable`.
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

from api.provider_http import bounded_body

log = logging.getLogger(__name__)

MAX_DOCUMENT_BYTES: Final = 1 << 20
FETCH_TIMEOUT_SECONDS: Final = 5.0

Fetch = Callable[[str], Awaitable[bytes]]


class KeySetUnavailable(Exception):
    """The provider's keys could not be fetched, and none fetched earlier are at hand."""


async def fetch_document(url: str) -> bytes:
    """The JWKS document at `url`: a GET with a timeout and a size bound, no redirects; raises on failure."""
    timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT_SECONDS)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(url, allow_redirects=False) as response,
    ):
        if response.status != 200:  # a redirect or an error: either way not the document
            raise aiohttp.ClientResponseError(
                response.request_info, response.history, status=response.status, message="not the key set"
            )
        return await bounded_body(response, MAX_DOCUMENT_BYTES)


def signing_keys(document: bytes) -> dict[str | None, dict[str, Any]]:
    """The document's usable signing keys (JWKs) by `kid`; encryption keys, shared-secret keys and keys
    this service cannot read are left out, so one odd entry does not cost the others."""
    parsed: Any = orjson.loads(document)
    entries = parsed.get("keys") if isinstance(parsed, dict) else None
    if not isinstance(entries, list):
        raise ValueError("the key set document has no `keys` list")
    keys: dict[str | None, dict[str, Any]] = {}
    for entry in entries:
        if _usable(entry):
            keys[entry.get("kid")] = entry
    return keys


def _usable(entry: object) -> bool:
    if not isinstance(entry, dict) or entry.get("use", "sig") != "sig" or entry.get("kty") == "oct":
        return False
    if not isinstance(entry.get("kid", ""), str):
        return False
    try:
        jwt.PyJWK(entry)
    except Exception:  # a key type, curve or field this library cannot use, however it says so
        return False
    return True


def key_for_algorithm(entry: dict[str, Any], algorithm: str) -> jwt.PyJWK:
    """The JWK as a key for `algorithm`. A JWK that names its own `alg` keeps it (a token under another
    is then refused); one that names none would default to RS256 for RSA, so it takes the token's."""
    return jwt.PyJWK(entry, algorithm=None if entry.get("alg") else algorithm)


class RemoteKeySet:
    """The signing keys published at `url`; see the module's docstring for when they are fetched."""

    def __init__(
        self,
        url: str,
        *,
        cache_seconds: float = 300.0,
        min_refetch_seconds: float = 30.0,
        max_stale_seconds: float = 3600.0,
        fetch: Fetch = fetch_document,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.cache_seconds = cache_seconds
        self.min_refetch_seconds = min_refetch_seconds
        self.max_stale_seconds = max_stale_seconds
        self._fetch = fetch
        self._clock = clock
        self._keys: dict[str | None, dict[str, Any]] = {}
        self._fetched_at = float("-inf")
        self._tried_at = float("-inf")
        self._fetching: asyncio.Task[None] | None = None  # the one fetch at a time

    async def key_for(self, key_id: str | None) -> dict[str, Any] | None:
        """The JWK a token names, or None when the provider publishes no such key (after one refetch)."""
        age = self._clock() - self._fetched_at
        if age >= self.cache_seconds + self.max_stale_seconds:
            self._keys = {}  # too old to trust: a key the provider withdrew must not live on
        if not self._keys:
            await self._refreshed_unless_recent()
            if not self._keys:
                raise KeySetUnavailable(self.url)
        elif age >= self.cache_seconds:
            self._start_refresh()  # the stale keys serve meanwhile
        found = self._pick(key_id)
        if found is None:  # perhaps a key the provider has just rotated in
            await self._refreshed_unless_recent()
            found = self._pick(key_id)
        return found

    async def refreshed(self) -> None:
        """Wait for the fetch under way, if there is one."""
        if self._fetching is not None:
            await asyncio.shield(self._fetching)

    def close(self) -> None:
        """Stop a fetch under way (the app is shutting down)."""
        if self._fetching is not None:
            self._fetching.cancel()

    def _pick(self, key_id: str | None) -> dict[str, Any] | None:
        if key_id is None and len(self._keys) == 1:  # a provider with one key may leave `kid` out
            return next(iter(self._keys.values()))
        return self._keys.get(key_id)

    async def _refreshed_unless_recent(self) -> None:
        self._start_refresh()
        await self.refreshed()

    def _start_refresh(self) -> None:
        """Start a fetch unless one is under way or one was tried within `min_refetch_seconds`. It runs
        as a task of its own, so a request that gives up waiting (a client gone) does not cut it short."""
        under_way = self._fetching is not None and not self._fetching.done()
        if under_way or self._clock() - self._tried_at < self.min_refetch_seconds:
            return
        self._tried_at = self._clock()
        self._fetching = asyncio.create_task(self._fetch_keys())

    async def _fetch_keys(self) -> None:
        try:
            keys = signing_keys(await self._fetch(self.url))
            if not keys:
                raise ValueError("the key set holds no signing key this service can use")
        except Exception as failure:  # an outage of the provider must not fail what the old keys serve
            log.warning("could not fetch the identity provider's keys: %s", failure.__class__.__name__)
            return
        self._keys = keys
        self._fetched_at = self._tried_at
