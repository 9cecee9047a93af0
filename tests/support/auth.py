"""API keys for tests: a tenant and a key issued in the test's own database, as `pjs keys create` would."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable

import asyncpg
import httpx

from api.api_keys import ALL_SCOPES, Scope, parse_key
from api.key_store import create_key, create_tenant, revoke_key

TEST_OPERATOR = "operator:tests"
"""How the audit log names whoever issues the tests' keys and tenants, as `pjs keys create --by` would."""


async def issue_test_key(
    database_url: str, scopes: Iterable[Scope] = ALL_SCOPES, *, tenant: str | None = None
) -> str:
    """A key carrying `scopes` (every scope unless told) of a new tenant, or of the existing `tenant`, to
    send as a bearer token."""
    connection = await asyncpg.connect(database_url)
    try:
        if tenant is None:
            tenant = f"clinic-{uuid.uuid4().hex[:8]}"
            await create_tenant(connection, tenant, by=TEST_OPERATOR)
        return (await create_key(connection, tenant, scopes, by=TEST_OPERATOR)).key
    finally:
        await connection.close()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def secret_of(key: str) -> str:
    """The key's secret part, as the service parses it (a secret may itself contain `_`)."""
    presented = parse_key(key)
    assert presented is not None
    return presented.secret


async def revoke_test_key(database_url: str, key: str) -> None:
    """Revoke a key as `pjs keys revoke <key id>` would."""
    presented = parse_key(key)
    assert presented is not None
    connection = await asyncpg.connect(database_url)
    try:
        assert await revoke_key(connection, presented.key_id, by=TEST_OPERATOR)
    finally:
        await connection.close()


async def refused_within(api: httpx.AsyncClient, key: str | None = None, seconds: float = 10.0) -> None:
    """Asks until the key (else the client's own) is refused: a revocation reaches every API process within
    PJS_API_KEY_CACHE_SECONDS (0.5 s by default). The bound here leaves a loaded machine room for the requests
    themselves; tests/integration/test_key_cache.py holds the cache to its exact time on a fake clock."""
    headers = bearer(key) if key else None
    revoked_at = time.monotonic()
    while (await api.get("/journeys", headers=headers)).status_code != 401:
        assert time.monotonic() - revoked_at < seconds, f"the revoked key still worked after {seconds} s"
        await asyncio.sleep(0.05)
