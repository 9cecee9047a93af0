"""The key store: contexts appended sealed, master key rotation re-wraps data keys, legacy clear runs read."""

from __future__ import annotations

import shutil
from collections.abc import Collection
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest

from events.catalogue import Sealed
from events.key_ring import load_key_ring
from events.key_ring_file import MasterKeys
from events.patient_keys import DataKey, PostgresPatientKeys
from events.patient_vault import PatientVault, TextsToSeal
from events.pg import tenant_transaction
from events.tenancy import DEFAULT_TENANT_ID
from pjs.master_key_commands import rotate_master
from pjs.settings import Settings
from pjs.wiring import event_store, key_ring, patient_vault
from support.journeys import message, patient, save_journey, start_run
from support.plans import GENERIC_PLANS, rows_read, rows_read_in_transaction

CUSTOM_PLANS = "SET plan_cache_mode = force_custom_plan"
JOURNEY = {
    "name": "One message",
    "start_node_id": "hello",
    "nodes": [{"id": "hello", "type": "MESSAGE", "message": "Hi", "next_node_id": None}],
}


async def test_a_triggered_context_is_stored_only_as_ciphertext(
    api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    journey_id = (await api.post("/journeys", json=JOURNEY)).json()["journeyId"]
    run_id = (await api.post(f"/journeys/{journey_id}/trigger", json=patient(patient_id="dora"))).json()[
        "runId"
    ]

    stored = await pool.fetchval("SELECT data::text FROM events WHERE type = 'RunStarted'")
    row = await pool.fetchrow("SELECT patient_id, patient_context::text AS context FROM run_status")
    assert "dora" not in stored and '"ciphertext"' in stored
    assert row["patient_id"] is None and "dora" not in row["context"]
    assert (await api.get(f"/journeys/runs/{run_id}")).json()["patientContext"] == patient(patient_id="dora")
    assert await pool.fetchval("SELECT count(*) FROM patient_keys") == 1


async def test_rotating_the_master_key_rewraps_data_keys_and_leaves_events_alone(
    settings: Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    key_file = tmp_path / "master.key"
    shutil.copy(settings.master_key_file, key_file)
    own = settings.model_copy(update={"master_key_file": key_file})
    sealed = await patient_vault(pool, own).seal_context(patient(patient_id="emil"))
    before = await pool.fetchval("SELECT master_key_id FROM patient_keys")

    rewrapped, current = await rotate_master(own, by="operator:tests")

    assert rewrapped == 1 and current != before
    assert await pool.fetchval("SELECT master_key_id FROM patient_keys") == current
    assert await patient_vault(pool, own).open_context(sealed) == patient(patient_id="emil")
    assert key_file.stat().st_mode & 0o777 == 0o600


async def test_a_legacy_clear_run_still_reads_and_is_not_erased(
    default_tenant_api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    api = default_tenant_api  # a run from before tenancy is the default tenant's
    journey_id, journey = await save_journey(pool, "hello", message("hello"))
    run_id = await start_run(event_store(pool), journey_id, journey, patient(patient_id="fred"))

    run = (await api.get(f"/journeys/runs/{run_id}")).json()

    assert run["patientContext"] == patient(patient_id="fred") and run["erased"] is False
    assert not isinstance((await event_store(pool).read_stream(run_id))[0].event.patient_context, Sealed)  # type: ignore[union-attr]


class CountedKeys(PostgresPatientKeys):
    """The real key store, recording which key ids each read asked it for."""

    def __init__(self, db: asyncpg.Pool, ring: MasterKeys) -> None:
        super().__init__(db, ring)
        self.reads: list[set[UUID]] = []

    async def data_keys(self, key_ids: Collection[UUID]) -> dict[UUID, DataKey]:
        self.reads.append(set(key_ids))
        return await super().data_keys(key_ids)


async def test_a_batch_reads_each_key_once_and_the_next_batch_sees_an_erasure(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    vault = patient_vault(pool, settings)
    context = patient(patient_id="gina")
    sealed = await vault.seal_context(context)
    [[text]] = await vault.seal_texts_many([TextsToSeal(context, sealed.key_id, ["Hello Gina"])])
    ring = key_ring(settings)
    counted = CountedKeys(pool, ring)
    batch = PatientVault(counted, ring).for_batch()

    assert await batch.open_contexts({1: sealed}) == {1: context}
    assert await batch.open_texts({1: text}) == {1: "Hello Gina"}
    assert counted.reads == [{sealed.key_id}]  # the messages used the key the context was opened with

    await vault.keys.destroy(vault.patient(DEFAULT_TENANT_ID, "gina"), datetime.now(UTC))
    assert await batch.open_texts({1: text}) == {1: "Hello Gina"}  # the batch that read it keeps it
    assert await PatientVault(counted, ring).for_batch().open_texts({1: text}) == {1: None}
    assert counted.reads == [{sealed.key_id}, {sealed.key_id}]


async def test_a_key_made_at_first_use_is_the_key_stored_and_every_later_use_gets_it(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    keys = PostgresPatientKeys(pool, key_ring(settings))
    refs = ["ref-hana", "ref-ivo"]

    made = await keys.live_keys(refs)  # made now: used as made, never unwrapped again
    again = await keys.live_keys([*refs, "ref-jan"])  # two found: unwrapped from the store
    stored = await PostgresPatientKeys(pool, key_ring(settings)).data_keys([made[ref].key_id for ref in refs])

    for ref in refs:
        assert again[ref].key_id == made[ref].key_id
        assert again[ref].secret == made[ref].secret == stored[made[ref].key_id].secret
    assert again["ref-jan"].key_id not in {key.key_id for key in made.values()}
    assert await pool.fetchval("SELECT count(*) FROM patient_keys") == 3


async def test_finding_a_patients_key_reads_only_their_keys_even_under_a_plan_made_on_an_empty_table(
    settings: Settings, api_database_url: str
) -> None:
    connection = await asyncpg.connect(api_database_url)  # the API's role, bound by row-level security
    keys = PostgresPatientKeys(connection, key_ring(settings))
    try:
        async with tenant_transaction(connection, DEFAULT_TENANT_ID, generic_plans=True):
            await keys.live_keys(["ref-first"])  # planned now, once for the session: the table is empty
        async with tenant_transaction(connection, DEFAULT_TENANT_ID, generic_plans=True):
            await keys.live_keys([f"ref-{number}" for number in range(2_000)])  # the clinic's other patients
        async with tenant_transaction(connection, DEFAULT_TENANT_ID, generic_plans=True):
            before = await rows_read_in_transaction(connection, "patient_keys")
            await keys.live_keys(["ref-new", "ref-7"])
            read = await rows_read_in_transaction(connection, "patient_keys") - before
    finally:
        await connection.close()

    assert read <= 2  # ref-7's key, and no other patient's


async def test_opening_sealed_data_reads_only_its_keys_even_under_a_plan_made_on_an_empty_table(
    settings: Settings, database_url: str
) -> None:
    connection = await asyncpg.connect(database_url)  # the workers' role, which opens sealed data
    keys = PostgresPatientKeys(connection, key_ring(settings))
    await connection.execute(GENERIC_PLANS)  # as a plan cached for the session
    try:
        assert await keys.data_keys([uuid4()]) == {}  # planned now, on an empty table
        made = await keys.live_keys([f"ref-{number}" for number in range(2_000)])
        async with connection.transaction():
            before = await rows_read_in_transaction(connection, "patient_keys")
            found = await keys.data_keys([made["ref-7"].key_id, made["ref-8"].key_id])
            read = await rows_read_in_transaction(connection, "patient_keys") - before
    finally:
        await connection.close()

    assert set(found) == {made["ref-7"].key_id, made["ref-8"].key_id}
    assert read <= 2


async def test_discarding_made_keys_deletes_only_those_made_in_its_own_transaction(
    settings: Settings, api_database_url: str, pool: asyncpg.Pool
) -> None:
    connection = await asyncpg.connect(api_database_url)  # the API's role, bound by row-level security
    keys = PostgresPatientKeys(connection, key_ring(settings))
    try:
        async with tenant_transaction(connection, DEFAULT_TENANT_ID):
            earlier = await keys.live_keys(["ref-kept"])
        async with tenant_transaction(connection, DEFAULT_TENANT_ID):
            found = await keys.live_keys(["ref-kept", "ref-new"])
            await keys.discard_made([found["ref-kept"].key_id, found["ref-new"].key_id])
    finally:
        await connection.close()

    assert (earlier["ref-kept"].made, found["ref-kept"].made, found["ref-new"].made) == (True, False, True)
    stored = {row["key_id"] for row in await pool.fetch("SELECT key_id FROM patient_keys")}
    assert stored == {earlier["ref-kept"].key_id}  # a key made before is never discarded, whatever is asked


class RewrapReads(asyncpg.Connection):
    """A connection noting the rows of patient_keys each UPDATE it runs reads: a re-wrapped batch's."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rewraps: list[int] = []

    async def execute(self, query: str, *args: Any, **options: Any) -> str:
        if not query.lstrip().startswith("UPDATE"):
            return await super().execute(query, *args, **options)
        before = await rows_read(self, "patient_keys")
        done = await super().execute(query, *args, **options)
        self.rewraps.append(await rows_read(self, "patient_keys") - before)
        return done


@pytest.mark.parametrize("plans", [CUSTOM_PLANS, GENERIC_PLANS], ids=["custom plan", "generic plan"])
async def test_each_batch_of_a_rotation_reads_only_its_own_keys_to_rewrap_them(
    settings: Settings, migration_database_url: str, pool: asyncpg.Pool, plans: str
) -> None:
    first = load_key_ring(settings.master_key_file)
    second = first.rotated()
    third = second.rotated()
    # The rotation's role, which reads every tenant's keys, on a table that has no statistics yet.
    connection = await asyncpg.connect(migration_database_url, connection_class=RewrapReads)
    await connection.execute(plans)
    try:
        await PostgresPatientKeys(pool, first).live_key("ref-first")
        await PostgresPatientKeys(connection, second).rewrap()  # a generic plan is made now, on one key
        made = await PostgresPatientKeys(pool, second).live_keys([f"ref-{number}" for number in range(2_000)])
        connection.rewraps.clear()
        rewrapped = await PostgresPatientKeys(connection, third).rewrap()
    finally:
        await connection.close()

    unwrapped = await PostgresPatientKeys(pool, third.only_current()).data_keys(
        [key.key_id for key in made.values()]
    )
    assert {key_id: key.secret for key_id, key in unwrapped.items()} == {
        key.key_id: key.secret for key in made.values()
    }
    assert rewrapped == 2_001
    assert connection.rewraps == [500, 500, 500, 500, 1]
