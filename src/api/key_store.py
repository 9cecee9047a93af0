"""Tenants and API keys in Postgres: create, list, revoke, and the per-request lookup of a presented key.

Each change is audited in the tenant it concerns, by the actor the caller names (`operator:<name>` from the
CLI), in the change's own statement: there is no change without its entry, nor an entry without its change.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress
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
    created_by: str | None  # the audit entry's actor; None for keys made before keys were audited
    revoked_by: str | None


async def create_tenant(db: Queryable, name: str, *, by: str) -> UUID:
    """A new tenant's id, audited in its own tenant as `TenantCreated` by `by` (the actor) in the same
    statement; `TenantExists` when the name is taken."""
    tenant_id = await db.fetchval(
        """
        WITH made AS (
            INSERT INTO tenants (tenant_id, name) VALUES ($1, $2)
            ON CONFLICT (name) DO NOTHING RETURNING tenant_id, created_at
        ), audited AS (
            INSERT INTO audit_log (source_id, actor, action, occurred_at, details, tenant_id)
            SELECT 'tenant:' || tenant_id || ':created', $3, 'TenantCreated', created_at,
                   jsonb_build_object('name', $2::text), tenant_id
            FROM made
        )
        SELECT tenant_id FROM made
        """,
        uuid4(),
        name,
        by,
    )
    if tenant_id is None:
        raise TenantExists(name)
    assert isinstance(tenant_id, UUID)
    return tenant_id


async def tenant_id_of(db: Queryable, name: str) -> UUID | None:
    found = await db.fetchval("SELECT tenant_id FROM tenants WHERE name = $1", name)
    assert found is None or isinstance(found, UUID)
    return found


async def create_key(db: Queryable, tenant: str, scopes: Iterable[Scope], *, by: str) -> IssuedKey:
    """A new key of the named tenant, audited in that tenant as `ApiKeyCreated` (its id and scopes, never
    its secret or hash) by `by` in the same statement; its full text is in the result and nowhere else."""
    issued = issue_key()
    made = await db.fetchval(
        """
        WITH made AS (
            INSERT INTO api_keys (key_id, tenant_id, scopes, secret_hash)
            SELECT $1, tenant_id, $3, $4 FROM tenants WHERE name = $2
            RETURNING key_id, tenant_id, scopes, created_at
        ), audited AS (
            INSERT INTO audit_log (source_id, actor, action, occurred_at, details, tenant_id)
            SELECT 'api-key:' || key_id || ':created', $5, 'ApiKeyCreated', created_at,
                   jsonb_build_object('keyId', key_id, 'scopes', to_jsonb(scopes)), tenant_id
            FROM made
        )
        SELECT key_id FROM made
        """,
        issued.key_id,
        tenant,
        sorted(scope.value for scope in scopes),
        issued.secret_hash,
        by,
    )
    if made is None:
        raise UnknownTenant(tenant)
    return issued


async def full_access_key(db: Queryable, tenant: str, *, by: str) -> IssuedKey:
    """A new key with every scope of `tenant`, created first if missing (dev, bench and fault suite)."""
    if await tenant_id_of(db, tenant) is None:
        with suppress(TenantExists):  # made meanwhile by another process: the key goes to that one
            await create_tenant(db, tenant, by=by)
    return await create_key(db, tenant, ALL_SCOPES, by=by)


async def list_keys(db: Queryable) -> list[KeyListing]:
    rows = await db.fetch(
        """
        SELECT k.key_id, t.name AS tenant, k.scopes, k.created_at, k.revoked_at, k.last_used_at,
               created.actor AS created_by, revoked.actor AS revoked_by
        FROM api_keys k JOIN tenants t USING (tenant_id)
        LEFT JOIN audit_log created ON created.source_id = 'api-key:' || k.key_id || ':created'
        LEFT JOIN audit_log revoked ON revoked.source_id = 'api-key:' || k.key_id || ':revoked'
        ORDER BY t.name, k.created_at, k.key_id
        """
    )
    return [KeyListing(**{**dict(row), "scopes": tuple(row["scopes"])}) for row in rows]


async def revoke_key(db: Queryable, key_id: str, *, by: str) -> bool:
    """Revoke a key, audited in its tenant as `ApiKeyRevoked` by `by` in the same statement; False if
    unknown. Idempotent: a revoked key keeps its first revocation time and its one entry."""
    found = await db.fetchval(
        """
        WITH revoked AS (
            UPDATE api_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL
            RETURNING key_id, tenant_id, revoked_at
        ), audited AS (
            INSERT INTO audit_log (source_id, actor, action, occurred_at, details, tenant_id)
            SELECT 'api-key:' || key_id || ':revoked', $2, 'ApiKeyRevoked', revoked_at,
                   jsonb_build_object('keyId', key_id), tenant_id
            FROM revoked
        )
        SELECT EXISTS (SELECT FROM api_keys WHERE key_id = $1)
        """,
        key_id,
        by,
    )
    return bool(found)


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
