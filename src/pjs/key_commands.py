"""`pjs tenants create` and `pjs keys create|list|revoke`: who may call the API, and the dev key.

A key is printed once, when it is created; the database keeps only its hash. Each change is audited in its
tenant, naming the operator (`--by`, else the OS user), in the change's own statement (api/key_store.py).
These commands connect as the schema owner (PJS_MIGRATION_DATABASE_URL): neither the API's role nor the
workers' may issue a key.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, TypeVar

import asyncpg
import orjson
import typer
from rich.console import Console
from rich.markup import escape

from api.api_keys import PresentedKey, Scope, parse_key
from api.key_store import (
    KeyListing,
    TenantExists,
    UnknownTenant,
    create_key,
    create_tenant,
    full_access_key,
    key_is_active,
    list_keys,
    revoke_key,
)
from pjs import wiring
from pjs.listings import print_rows
from pjs.operators import BY_HELP, operator_actor
from pjs.settings import Settings, get_settings
from pjs.startup_errors import postgres_address

T = TypeVar("T")

tenants_app = typer.Typer(help="Tenants (clinics): each API key belongs to one.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys: create (shown once), list, revoke.", no_args_is_help=True)
console = Console()

DEV_KEY_FILE = "dev-api-key"


@tenants_app.command("create")
def create_tenant_command(
    name: Annotated[str, typer.Argument(help="the tenant's unique name")],
    by: Annotated[str | None, typer.Option("--by", help=BY_HELP)] = None,
) -> None:
    """Create a tenant; prints its id. Audited in the tenant (`TenantCreated`, by whom)."""
    actor = operator_actor(by)
    try:
        tenant_id = _run(lambda pool: create_tenant(pool, name, by=actor))
    except TenantExists:
        console.print(f"[bold red]error:[/] a tenant named {escape(name)!r} exists already")
        raise typer.Exit(code=1) from None
    print(tenant_id)


@keys_app.command("create")
def create_key_command(
    tenant: Annotated[str, typer.Option("--tenant", help="the tenant's name")],
    scopes: Annotated[list[Scope], typer.Option("--scope", help="a scope the key carries (repeatable)")],
    as_json: Annotated[bool, typer.Option("--json", help='print {"key": ..., "keyId": ...}')] = False,
    by: Annotated[str | None, typer.Option("--by", help=BY_HELP)] = None,
) -> None:
    """Create a key and print it: this is the only time it is shown. Audited in its tenant (`ApiKeyCreated`:
    its id and scopes, by whom; never the key)."""
    actor = operator_actor(by)
    try:
        issued = _run(lambda pool: create_key(pool, tenant, scopes, by=actor))
    except UnknownTenant:
        console.print(f"[bold red]error:[/] no tenant named {escape(tenant)!r}; `pjs tenants create` first")
        raise typer.Exit(code=1) from None
    if as_json:
        print(orjson.dumps({"key": issued.key, "keyId": issued.key_id}).decode())
        return
    print(issued.key)
    console.print(f"key id {issued.key_id}: store the key now, it is not shown again", style="dim")


@keys_app.command("list")
def list_keys_command(
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON list, one object per key")] = False,
) -> None:
    """Every key: id, tenant, scopes, when and by whom created and revoked, last used (never the secret or
    its hash). "by" is the audit entry's actor; "-" for a key made before keys were audited."""
    keys = _run(list_keys)
    if as_json:
        print(orjson.dumps([_as_json(key) for key in keys]).decode())
        return
    print_rows(console, _LIST_COLUMNS, [_listed(key) for key in keys])


def _as_json(key: KeyListing) -> dict[str, object]:
    """camelCase, as `keys create --json` and the API answer."""
    return {
        "keyId": key.key_id,
        "tenant": key.tenant,
        "scopes": list(key.scopes),
        "createdAt": key.created_at,
        "revokedAt": key.revoked_at,
        "lastUsedAt": key.last_used_at,
        "createdBy": key.created_by,
        "revokedBy": key.revoked_by,
    }


_LIST_COLUMNS = ("key id", "tenant", "scopes", "created", "created by", "revoked", "revoked by", "last used")


def _listed(key: KeyListing) -> list[str]:
    def moment(at: datetime | None) -> str:
        return "-" if at is None else f"{at:%Y-%m-%d %H:%M:%S}"

    scopes = " ".join(key.scopes)
    return [
        key.key_id,
        key.tenant,
        scopes,
        moment(key.created_at),
        key.created_by or "-",
        moment(key.revoked_at),
        key.revoked_by or "-",
        moment(key.last_used_at),
    ]


@keys_app.command("revoke")
def revoke_key_command(
    key_id: Annotated[str, typer.Argument(help="the key id `pjs keys list` shows")],
    by: Annotated[str | None, typer.Option("--by", help=BY_HELP)] = None,
) -> None:
    """Revoke a key: every API process refuses it from its next request on. Audited in its tenant
    (`ApiKeyRevoked`, by whom); revoking it again changes nothing and adds no entry."""
    actor = operator_actor(by)
    if not _run(lambda pool: revoke_key(pool, key_id, by=actor)):
        console.print(f"[bold red]error:[/] no key with id {escape(key_id)!r}")
        raise typer.Exit(code=1)
    console.print(f"revoked {escape(key_id)}")


async def ensure_dev_key(settings: Settings) -> str:
    """The development key in `<state dir>/dev-api-key` (mode 0600): the one there if it still works,
    else a new key with every scope of the development tenant (created if missing)."""
    path = settings.state_dir / DEV_KEY_FILE
    pool = await wiring.create_pool(settings, max_size=1, admin=True)
    try:
        current = _read_key(path)
        if current is not None and await key_is_active(pool, current):
            return path.read_text().strip()
        issued = await full_access_key(pool, settings.dev_tenant, by=operator_actor(None))
    finally:
        await pool.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(issued.key + "\n")
    path.chmod(0o600)  # O_CREAT's mode does not apply to a file that was already there
    return issued.key


def _read_key(path: Path) -> PresentedKey | None:
    return parse_key(path.read_text().strip()) if path.exists() else None


def _run(action: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
    """Run `action` as the schema owner (the migration DSN): the only role that may create tenants and
    create or revoke keys; the API's role only reads them (events/grants.py)."""

    async def with_pool() -> T:
        pool = await wiring.create_pool(get_settings(), max_size=1, admin=True)
        try:
            return await action(pool)
        finally:
            await pool.close()

    try:
        return asyncio.run(with_pool())
    except asyncpg.InsufficientPrivilegeError:
        where = postgres_address(get_settings().resolved_migration_database_url())
        console.print(
            f"[bold red]error:[/] {escape(where)} may not manage tenants and keys, only the schema owner "
            "may: set PJS_MIGRATION_DATABASE_URL to its DSN"
        )
        raise typer.Exit(code=1) from None
