"""Tenants, keys and master key rotations leave an audit trail: who did what and when, in the tenant's log."""

from __future__ import annotations

import asyncio
import getpass
import shutil
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson

from pjs.master_key_commands import rotate_master
from pjs.settings import Settings
from support.auth import bearer, secret_of
from support.cli import pjs_cli


async def _cli(settings: Settings, *arguments: str) -> str:
    done = await asyncio.to_thread(pjs_cli, settings, *arguments)
    assert done.exit_code == 0, done.output
    return done.stdout


async def _new_tenant_with_auditor(settings: Settings, *by: str) -> tuple[str, str]:
    """A tenant made with the CLI, and a key of it that may read its audit log."""
    tenant = f"clinic-{uuid.uuid4().hex[:6]}"
    await _cli(settings, "tenants", "create", tenant, *by)
    issued = await _cli(
        settings, "keys", "create", "--tenant", tenant, "--scope", "audit:read", "--json", *by
    )
    return tenant, orjson.loads(issued)["key"]


async def _audit(api: httpx.AsyncClient, key: str) -> list[dict[str, Any]]:
    answer = await api.get("/audit", headers=bearer(key), params={"limit": 1000})
    assert answer.status_code == 200, answer.text
    return [entry for entry in answer.json()["entries"] if entry["action"] != "AuditRead"]


async def test_creating_and_revoking_keys_is_audited_in_the_tenant_naming_the_operator_never_the_secret(
    settings: Settings, api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    tenant, auditor = await _new_tenant_with_auditor(settings, "--by", "alice")
    made = await _cli(settings, "keys", "create", "--tenant", tenant, "--scope", "runs:trigger", "--json",
                      "--by", "alice")  # fmt: skip
    key = orjson.loads(made)
    await _cli(settings, "keys", "revoke", key["keyId"], "--by", "bob")
    await _cli(settings, "keys", "revoke", key["keyId"], "--by", "bob")  # again: changes nothing

    entries = await _audit(api, auditor)

    seen = [(e["action"], e["actor"], e["details"].get("keyId"), e["details"].get("scopes")) for e in entries]
    auditor_id = auditor.split("_")[2]
    assert seen == [
        ("TenantCreated", "operator:alice", None, None),
        ("ApiKeyCreated", "operator:alice", auditor_id, ["audit:read"]),
        ("ApiKeyCreated", "operator:alice", key["keyId"], ["runs:trigger"]),
        ("ApiKeyRevoked", "operator:bob", key["keyId"], None),
    ]
    assert entries[0]["details"] == {"name": tenant}
    assert all(e["runId"] is None and e["patientId"] is None for e in entries)
    stored = await pool.fetchval("SELECT string_agg(details::text || actor || source_id, ' ') FROM audit_log")
    for secret in (secret_of(key["key"]), secret_of(auditor)):
        assert secret not in stored and secret not in str(entries)
    listed = orjson.loads(await _cli(settings, "keys", "list", "--json"))
    [revoked] = [listing for listing in listed if listing["keyId"] == key["keyId"]]
    assert (revoked["createdBy"], revoked["revokedBy"]) == ("operator:alice", "operator:bob")


async def test_an_operator_not_named_with_by_is_the_commands_os_user_and_other_tenants_see_nothing(
    settings: Settings, api: httpx.AsyncClient
) -> None:
    _, auditor = await _new_tenant_with_auditor(settings)
    _, other_auditor = await _new_tenant_with_auditor(settings, "--by", "carol")

    entries = await _audit(api, auditor)
    others = await _audit(api, other_auditor)

    assert {e["actor"] for e in entries} == {f"operator:{getpass.getuser()}"}
    assert {e["actor"] for e in others} == {"operator:carol"}
    assert not {e["auditId"] for e in entries} & {e["auditId"] for e in others}


async def test_a_name_given_with_by_must_be_one_short_printable_line(settings: Settings) -> None:
    tenant = f"clinic-{uuid.uuid4().hex[:6]}"

    refused = [
        await asyncio.to_thread(pjs_cli, settings, "tenants", "create", tenant, "--by", by)
        for by in ("x" * 65, "two\nlines", " ")
    ]

    assert [done.exit_code for done in refused] == [2, 2, 2]
    assert tenant not in await _cli(settings, "keys", "list")


async def test_a_master_key_rotation_is_audited_in_every_tenant_once_it_is_done(
    settings: Settings, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    key_file = tmp_path / "master.key"
    shutil.copy(settings.master_key_file, key_file)
    own = settings.model_copy(update={"master_key_file": key_file, "master_key_check_seconds": 0.1})
    _, first = await _new_tenant_with_auditor(settings)
    _, second = await _new_tenant_with_auditor(settings)

    _, current = await rotate_master(own, by="operator:dana")

    for auditor in (first, second):
        rotations = [e for e in await _audit(api, auditor) if e["action"] == "MasterKeyRotated"]
        assert [(e["actor"], e["details"]) for e in rotations] == [
            ("operator:dana", {"masterKeyId": current})
        ]
