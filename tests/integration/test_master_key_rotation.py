"""Rotating the master key while the roles run: a role sealing and opening patients' data throughout loses
none of it, and neither does a role started afterwards; and the rotation makes erasures final: a destroyed
data key's leftover copy, as Postgres's files, its WAL or a backup may keep it, no longer unwraps."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from events.catalogue import Sealed
from events.key_ring import KeyRingError, load_key_ring
from events.patient_keys import PostgresPatientKeys
from events.tenancy import DEFAULT_TENANT_ID
from pjs.master_key_commands import rotate_master
from pjs.settings import Settings
from pjs.wiring import patient_vault
from support.cli import pjs_cli
from support.journeys import patient


async def test_a_role_sealing_and_opening_throughout_a_rotation_loses_no_patient(
    own_key_file: Settings, pool: asyncpg.Pool
) -> None:
    running = patient_vault(pool, own_key_file)  # as a role builds it at start
    sealed: dict[int, tuple[Sealed, dict[str, Any]]] = {}
    stop = asyncio.Event()

    async def busy_role() -> None:
        while not stop.is_set():
            context = patient(patient_id=f"patient-{len(sealed)}")
            sealed[len(sealed)] = (await running.seal_context(context), context)
            opened = await running.open_contexts({n: s for n, (s, _) in sealed.items()})
            assert opened == {n: c for n, (_, c) in sealed.items()}
            await asyncio.sleep(0.01)

    role = asyncio.create_task(busy_role())
    await asyncio.sleep(0.3)
    rewrapped, current = await rotate_master(own_key_file, by="operator:tests")
    await asyncio.sleep(0.3)
    stop.set()
    await role  # raises what the role met: a key it could not unwrap

    started_after = patient_vault(pool, own_key_file)
    opened = await started_after.open_contexts({n: s for n, (s, _) in sealed.items()})
    assert opened == {n: c for n, (_, c) in sealed.items()}
    assert len(sealed) > 30 and rewrapped > 0  # the role kept working before, during and after
    assert {row["master_key_id"] for row in await pool.fetch("SELECT master_key_id FROM patient_keys")} == {
        current
    }
    assert list(load_key_ring(own_key_file.master_key_file).master_keys) == [current]


async def test_a_key_made_with_the_old_master_key_after_it_left_the_file_is_rewrapped_all_the_same(
    own_key_file: Settings, pool: asyncpg.Pool
) -> None:
    key_file = own_key_file.master_key_file
    before = load_key_ring(key_file)  # what a statement held that chose its ring before the rotation
    rotating = asyncio.create_task(rotate_master(own_key_file, by="operator:tests"))
    while len(load_key_ring(key_file).master_keys) != 1 or load_key_ring(key_file).current == before.current:
        await asyncio.sleep(0.02)  # until the old key has left the file
    late = await PostgresPatientKeys(pool, before).live_key("a-late-patient")

    _, current = await rotating

    row = await pool.fetchrow(
        "SELECT master_key_id, wrapped_key FROM patient_keys WHERE key_id = $1", late.key_id
    )
    assert row["master_key_id"] == current
    assert load_key_ring(key_file).unwrap(current, late.key_id, bytes(row["wrapped_key"])) == late.secret


async def test_after_a_rotation_a_destroyed_keys_leftover_copy_no_longer_unwraps(
    own_key_file: Settings, pool: asyncpg.Pool
) -> None:
    vault = patient_vault(pool, own_key_file)
    await vault.seal_context(patient(patient_id="greta"))
    copy = await pool.fetchrow("SELECT key_id, wrapped_key, master_key_id FROM patient_keys")
    leftover = (copy["master_key_id"], copy["key_id"], bytes(copy["wrapped_key"]))
    await vault.keys.destroy(vault.patient(DEFAULT_TENANT_ID, "greta"), datetime.now(UTC))

    assert load_key_ring(own_key_file.master_key_file).unwrap(*leftover)  # erased, yet still opens

    await rotate_master(own_key_file, by="operator:tests")

    with pytest.raises(KeyRingError):
        load_key_ring(own_key_file.master_key_file).unwrap(*leftover)


async def test_a_rotation_stopped_part_way_says_to_run_it_again_and_running_it_again_finishes_it(
    own_key_file: Settings, pool: asyncpg.Pool
) -> None:
    vault = patient_vault(pool, own_key_file)
    sealed = await vault.seal_context(patient(patient_id="hanna"))
    good_url = urlsplit(own_key_file.resolved_migration_database_url())
    wrong = good_url._replace(
        netloc=f"{good_url.username}:wrong-password@{good_url.hostname}:{good_url.port}"
    )
    no_database = own_key_file.model_copy(update={"migration_database_url": urlunsplit(wrong)})

    stopped = await asyncio.to_thread(pjs_cli, no_database, "keys", "rotate-master")

    assert stopped.exit_code == 1, stopped.output
    assert "run `pjs keys rotate-master` again" in " ".join(stopped.output.split())
    assert "wrong-password" not in stopped.output
    assert len(load_key_ring(own_key_file.master_key_file).master_keys) == 2  # nothing needed was dropped

    finished = await asyncio.to_thread(pjs_cli, own_key_file, "keys", "rotate-master")

    assert finished.exit_code == 0, finished.output
    assert len(load_key_ring(own_key_file.master_key_file).master_keys) == 1
    assert await patient_vault(pool, own_key_file).open_context(sealed) == patient(patient_id="hanna")
