"""`pjs keys rotate-master` (and `init-master`): the master key ring that wraps every patient's data key.

Rotation runs while the roles run. It writes a new current master key into PJS_MASTER_KEY_FILE (the old
ones kept) and waits until every role has read the file again (they look every
PJS_MASTER_KEY_CHECK_SECONDS), so none wraps a new data key with an old master key; re-wraps every live
data key under the new one; then, holding off new data keys for a moment (a lock on patient_keys that
waits for the transactions making them), re-wraps what was made meanwhile and drops the old keys from the
file. Events are never touched: they are sealed with the data keys, which do not change. A rotation that
stops half-way is finished by running it again (the file still holds every key some data key is wrapped
with). Dropping the old keys is what makes erasures final: a destroyed data key's wrapped copies left in
Postgres's files, its WAL and backups were wrapped by a master key that no longer exists, and the erasure
references of destroyed keys were keyed by it: nothing computable from a patient id finds those keys.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import asyncpg
import typer
from rich.console import Console

from events.key_ring import KeyRing, KeyRingError, ensure_key_ring, load_key_ring, save_key_ring
from events.patient_keys import PostgresPatientKeys
from pjs.key_commands import keys_app
from pjs.operators import BY_HELP, operator_actor
from pjs.settings import Settings, get_settings
from pjs.wiring import create_pool

console = Console()


@keys_app.command("init-master")
def init_master_command() -> None:
    """Create the master key file (mode 0600) if there is none; an existing one is left as it is."""
    settings = get_settings()
    ring = ensure_key_ring(settings.master_key_file)
    console.print(f"master key file {settings.master_key_file}: current key {ring.current}")


@keys_app.command("rotate-master")
def rotate_master_command(by: Annotated[str | None, typer.Option("--by", help=BY_HELP)] = None) -> None:
    """Make a new current master key and re-wrap every patient's data key under it (the roles may run).
    Audited, once it is done, in every tenant (`MasterKeyRotated`, by whom)."""
    settings = get_settings()
    actor = operator_actor(by)
    try:
        rewrapped, current = asyncio.run(rotate_master(settings, by=actor))
    except (OSError, asyncpg.PostgresError, KeyRingError) as error:
        console.print(
            f"[red]the rotation stopped part-way ({type(error).__name__}: {error}).[/red] Every master key a "
            "data key is wrapped with is still in the file; once the cause is fixed, run "
            "`pjs keys rotate-master` again to finish it."
        )
        raise typer.Exit(1) from None
    console.print(f"{rewrapped} data key(s) re-wrapped under master key {current}; old master keys dropped")


async def rotate_master(settings: Settings, *, by: str) -> tuple[int, str]:
    """Rotate, re-wrap, then drop the old keys; returns (data keys re-wrapped, new current key id). The
    last re-wrap's transaction audits the rotation by `by` (the actor)."""
    path = settings.master_key_file
    ring = load_key_ring(path).rotated()
    save_key_ring(path, ring)
    # Every role reads the file within a check; one that read it just before the write wraps at most the
    # keys of the statement it was making then.
    settle = 2 * settings.master_key_check_seconds + 0.5
    await asyncio.sleep(settle)
    pool = await create_pool(settings, admin=True)
    try:
        rewrapped = await PostgresPatientKeys(pool, ring).rewrap()
        rewrapped += await _rewrap_holding_off_new_keys(pool, ring)
        save_key_ring(path, ring.only_current())
        # A statement that chose its ring before the first write but reached Postgres only now (a long
        # wait for a connection) wrapped its keys with an old master key: this process still holds them.
        await asyncio.sleep(4 * settle)
        rewrapped += await _rewrap_holding_off_new_keys(pool, ring, audited_by=by)
        await PostgresPatientKeys(pool, ring).forget_erasures()
    finally:
        await pool.close()
    return rewrapped, ring.current


async def _rewrap_holding_off_new_keys(
    pool: asyncpg.Pool, ring: KeyRing, *, audited_by: str | None = None
) -> int:
    """Re-wrap under a lock that waits for every transaction still making data keys and keeps new ones out
    until this one commits: none is left wrapped with an old key. With `audited_by`, the rotation's entry
    commits with it."""
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("LOCK TABLE patient_keys IN SHARE MODE")
        rewrapped = await PostgresPatientKeys(connection, ring).rewrap()
        if audited_by is not None:
            await connection.execute(_AUDIT_ROTATION, ring.current, audited_by)
        return rewrapped


# The master key wraps every tenant's data keys, so each tenant's audit log gets the entry: an auditor
# reads it with GET /audit like any other. It names the new key's id (a label, not the key), by whom and
# when; no count of keys re-wrapped, which would tell each clinic how many patients all of them have.
_AUDIT_ROTATION = """
    INSERT INTO audit_log (source_id, actor, action, occurred_at, details, tenant_id)
    SELECT 'master-key:' || $1::text || ':' || tenant_id, $2, 'MasterKeyRotated', now(),
           jsonb_build_object('masterKeyId', $1::text), tenant_id
    FROM tenants
"""
