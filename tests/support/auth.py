"""API keys for tests: a tenant and a key issued in the test's own database, as `pjs keys create` would."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import asyncpg

from api.api_keys import ALL_SCOPES, Scope, parse_key
from api.key_store import create_key, create_tenant, revoke_key


async def issue_test_key(
    database_url: str, scopes: Iterable[Scope] = ALL_SCOPES, *, tenant: str | None = None
) -> str:
    """A key carrying `scopes` (every scope unless told) of a new tenant, or of the existing `tenant`, to
    send as a bearer token."""
    connection = await asyncpg.connect(database_url)
    try:
        if tenant is None:
            tenant = f"clinic-{uuid.uuid4().hex[:8]}"
            await create_tenant(connection, tenant)
        return (await create_key(connection, tenant, scopes)).key
    finally:
        await connection.close()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def revoke_test_key(database_url: str, key: str) -> None:
    """Revoke a key as `pjs keys revoke <key id>` would."""
    presented = parse_key(key)
    assert presented is not None
    connection = await asyncpg.connect(database_url)
    try:
        assert await revoke_key(connection, presented.key_id)
    finally:
        await connection.close()
