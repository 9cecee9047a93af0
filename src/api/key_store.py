"""Tenants and API keys in Postgres: create, list, revoke, and the per-request lookup of a presented key."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

from api.api_keys import (
    ALL_SCOPES,
    IssuedKey,
    PresentedKey,
    Principal,
    Scope,
    issue_key,
    matches,
    parse_scopes,
)
from events.pg import Queryable

LAST_USED_RESOLUTION_SECONDS = 60
"""last_used_at is refreshed at most this often per key, so reads do not become a write per request."""


class UnknownTenant(Exception):
    """No tenant has that name."""


class TenantExists(Exception):
    """A tenant with that name exists already."""


@dataclass(frozen=True)
class KeyListing:
    """A key as `pjs keys list` shows it: never its secret or hash."""

    key_id: str
    tenant: str
    scopes: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


async def create_tenant(db: Queryable, name: str) -> UUID:
    """A new tenant's id; `TenantExists` when the name is taken."""
    tenant_id = await db.fetchval(
        "INSERT INTO tenants (tenant_id, name) VALUES ($1, $2)"
        " ON CONFLICT (name) DO NOTHING RETURNING tenant_id",
        uuid4(),
        name,
    )
    if tenant_id is None:
        raise TenantExists(name)
    assert isinstance(tenant_id, UUID)
    return tenant_id


async def tenant_id_of(db: Queryable, name: str) -> UUID | None:
    found = await db.fetchval("SELECT tenant_id FROM tenants WHERE name = $1", name)
    assert found is None or isinstance(found, UUID)
    return found


async def create_key(db: Queryable, tenant: str, scopes: Iterable[Scope]) -> IssuedKey:
    """A new key of the named tenant; its full text is in the result and nowhere else."""
    tenant_id = await tenant_id_of(db, tenant)
    if tenant_id is None:
        raise UnknownTenant(tenant)
    issued = issue_key()
    await db.execute(
        "INSERT INTO api_keys (key_id, tenant_id, scopes, secret_hash) VALUES ($1, $2, $3, $4)",
        issued.key_id,
        tenant_id,
        sorted(scope.value for scope in scopes),
        issued.secret_hash,
    )
    return issued


async def full_access_key(db: Queryable, tenant: str) -> IssuedKey:
    """A new key with every scope of `tenant`, created first if missing (dev, bench and fault suite)."""
    if await tenant_id_of(db, tenant) is None:
        await db.execute(
            "INSERT INTO tenants (tenant_id, name) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            uuid4(),
            tenant,
        )
    return await create_key(db, tenant, ALL_SCOPES)


async def list_keys(db: Queryable) -> list[KeyListing]:
    rows = await db.fetch(
        """
        SELECT k.key_id, t.name AS tenant, k.scopes, k.created_at, k.revoked_at, k.last_used_at
        FROM api_keys k JOIN tenants t USING (tenant_id)
        ORDER BY t.name, k.created_at, k.key_id
        """
    )
    return [KeyListing(**{**dict(row), "scopes": tuple(row["scopes"])}) for row in rows]


async def revoke_key(db: Queryable, key_id: str) -> bool:
    """Revoke a key (idempotent: a revoked key keeps its first revocation time); False if unknown."""
    found = await db.fetchval(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE key_id = $1 RETURNING key_id",
        key_id,
    )
    return found is not None


async def key_is_active(db: Queryable, key: PresentedKey) -> bool:
    return await principal_for(db, key) is not None


async def principal_for(db: Queryable, key: PresentedKey) -> Principal | None:
    """The caller a presented key stands for, or None when it is unknown, revoked or its secret is wrong.

    One primary-key lookup, uncached (`api.key_cache` remembers its answers for PJS_API_KEY_CACHE_SECONDS).
    """
    row = await db.fetchrow(
        """
        SELECT tenant_id, scopes, secret_hash,
               last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $2) AS stale_use
        FROM api_keys WHERE key_id = $1 AND revoked_at IS NULL
        """,
        key.key_id,
        LAST_USED_RESOLUTION_SECONDS,
    )
    if row is None or not matches(key, bytes(row["secret_hash"])):
        return None
    if row["stale_use"]:
        await db.execute("UPDATE api_keys SET last_used_at = now() WHERE key_id = $1", key.key_id)
    return Principal(row["tenant_id"], key.key_id, parse_scopes(list(row["scopes"])))
