"""`pjs tenants create`, `pjs keys create|list|revoke` and the dev key, as an operator runs them."""

from __future__ import annotations

import asyncio
import stat
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson

from api.api_keys import KEY_PREFIX
from pjs.key_commands import ensure_dev_key
from pjs.settings import Settings
from support.auth import bearer, refused_within, secret_of
from support.cli import pjs_cli


async def test_a_key_created_for_a_tenant_works_until_it_is_revoked(
    settings: Settings, api: httpx.AsyncClient
) -> None:
    tenant = f"clinic-{uuid.uuid4().hex[:6]}"
    created_tenant = await asyncio.to_thread(pjs_cli, settings, "tenants", "create", tenant)
    assert created_tenant.exit_code == 0, created_tenant.output
    assert uuid.UUID(created_tenant.stdout.strip())

    created = await asyncio.to_thread(
        pjs_cli, settings, "keys", "create", "--tenant", tenant, "--scope", "journeys:read",
        "--scope", "runs:read", "--json",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    issued = orjson.loads(created.stdout)
    assert issued["key"].startswith(f"{KEY_PREFIX}{issued['keyId']}_")
    assert (await api.get("/journeys", headers=bearer(issued["key"]))).status_code == 200
    assert (await api.get("/audit", headers=bearer(issued["key"]))).status_code == 403

    listed = await asyncio.to_thread(pjs_cli, settings, "keys", "list")
    assert listed.exit_code == 0, listed.output
    row = next(line for line in listed.stdout.splitlines() if issued["keyId"] in line)
    assert tenant in row and "journeys:read runs:read" in row
    assert secret_of(issued["key"]) not in listed.stdout  # never the secret
    assert row.split("\t")[:3] == [issued["keyId"], tenant, "journeys:read runs:read"]  # whole, not cut
    as_json = await asyncio.to_thread(pjs_cli, settings, "keys", "list", "--json")
    [mine] = [key for key in orjson.loads(as_json.stdout) if key["keyId"] == issued["keyId"]]
    assert (mine["tenant"], mine["scopes"]) == (tenant, ["journeys:read", "runs:read"])
    assert mine["revokedAt"] is None and mine["createdAt"].startswith(f"{datetime.now(UTC):%Y}-")
    assert secret_of(issued["key"]) not in as_json.stdout

    revoked = await asyncio.to_thread(pjs_cli, settings, "keys", "revoke", issued["keyId"])
    assert revoked.exit_code == 0, revoked.output
    await refused_within(api, issued["key"])
    relisted = await asyncio.to_thread(pjs_cli, settings, "keys", "list")
    revoked_row = next(line for line in relisted.stdout.splitlines() if issued["keyId"] in line)
    year = f"{datetime.now(UTC):%Y}-"
    assert revoked_row.count(year) == row.count(year) + 1  # the revocation time, beside created and last used


async def test_the_cli_refuses_an_unknown_tenant_scope_or_key(settings: Settings) -> None:
    unknown_tenant = await asyncio.to_thread(
        pjs_cli, settings, "keys", "create", "--tenant", "nobody", "--scope", "admin"
    )
    unknown_scope = await asyncio.to_thread(
        pjs_cli, settings, "keys", "create", "--tenant", "nobody", "--scope", "everything"
    )
    unknown_key = await asyncio.to_thread(pjs_cli, settings, "keys", "revoke", "0123456789abcdef")
    await asyncio.to_thread(pjs_cli, settings, "tenants", "create", "twice")
    second_tenant = await asyncio.to_thread(pjs_cli, settings, "tenants", "create", "twice")

    assert unknown_tenant.exit_code == 1 and "no tenant named" in unknown_tenant.output
    assert unknown_scope.exit_code == 2
    assert unknown_key.exit_code == 1 and "no key with id" in unknown_key.output
    assert second_tenant.exit_code == 1 and "exists already" in second_tenant.output


async def test_the_dev_key_is_written_once_private_and_reused_while_it_works(
    settings: Settings, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    local = settings.model_copy(update={"state_dir": tmp_path})

    first = await ensure_dev_key(local)
    again = await ensure_dev_key(local)

    key_file = tmp_path / "dev-api-key"
    assert first == again == key_file.read_text().strip()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert (await api.get("/audit", headers=bearer(first))).status_code == 200
    revoked = await asyncio.to_thread(pjs_cli, settings, "keys", "revoke", first.split("_")[2])
    assert revoked.exit_code == 0
    replaced = await ensure_dev_key(local)
    assert replaced != first and (await api.get("/journeys", headers=bearer(replaced))).status_code == 200


async def test_keys_are_not_issued_with_the_apis_dsn_and_the_cli_says_which_dsn_may(
    settings: Settings,
) -> None:
    as_api = settings.model_copy(update={"migration_database_url": settings.resolved_database_url()})

    tenant = await asyncio.to_thread(pjs_cli, as_api, "tenants", "create", "minted-by-the-api")
    key = await asyncio.to_thread(
        pjs_cli, as_api, "keys", "create", "--tenant", "default", "--scope", "admin"
    )

    for refused in (tenant, key):
        assert refused.exit_code == 1
        assert "may not manage tenants and keys" in refused.output
        assert "PJS_MIGRATION_DATABASE_URL" in refused.output and "Traceback" not in refused.output
    listed = await asyncio.to_thread(pjs_cli, settings, "keys", "list", "--json")
    assert orjson.loads(listed.stdout) == []
