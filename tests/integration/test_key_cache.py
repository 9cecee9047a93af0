"""Verified API keys are trusted for PJS_API_KEY_CACHE_SECONDS, never longer, and never for a wrong secret."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from api.api_keys import PresentedKey, parse_key
from api.key_cache import KeyCache
from pjs.settings import Settings
from support.auth import issue_test_key, revoke_test_key


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def pool(api_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """The API's role, which looks keys up (the workers' may not read them)."""
    async with asyncpg.create_pool(api_database_url, min_size=1, max_size=2) as created:
        yield created


async def _key(settings: Settings) -> tuple[str, PresentedKey]:
    text = await issue_test_key(settings.resolved_migration_database_url())
    presented = parse_key(text)
    assert presented is not None
    return text, presented


async def test_a_revoked_key_is_trusted_until_its_cache_time_ends_then_refused(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    clock = Clock()
    cache = KeyCache(2.0, clock)
    text, key = await _key(settings)
    principal = await cache.principal_for(pool, key)
    assert principal is not None

    await revoke_test_key(settings.resolved_migration_database_url(), text)
    clock.now += 1.9
    still = await cache.principal_for(pool, key)
    clock.now += 0.2
    after = await cache.principal_for(pool, key)

    assert still == principal and after is None


async def test_a_wrong_secret_for_a_cached_key_id_is_refused(settings: Settings, pool: asyncpg.Pool) -> None:
    cache = KeyCache(60.0)
    _, key = await _key(settings)
    assert await cache.principal_for(pool, key) is not None

    wrong = PresentedKey(key.key_id, "x" * len(key.secret))

    assert await cache.principal_for(pool, wrong) is None
    assert await cache.principal_for(pool, key) is not None


async def test_with_no_cache_time_a_revocation_holds_on_the_next_request(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    cache = KeyCache(0.0)
    text, key = await _key(settings)
    assert await cache.principal_for(pool, key) is not None

    await revoke_test_key(settings.resolved_migration_database_url(), text)

    assert await cache.principal_for(pool, key) is None
