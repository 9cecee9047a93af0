"""The API's per-request key reads (a search by patient id, an erasure) read only the patient's own keys,
whether the session plans them for the values at hand or once, while the table was empty."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar
from uuid import UUID, uuid4

import asyncpg
import pytest

from events.key_ring import load_key_ring
from events.patient_vault import PatientVault
from events.pg import tenant_transaction
from events.tenancy import DEFAULT_TENANT_ID
from pjs.settings import Settings
from pjs.wiring import patient_vault
from support.plans import rows_read_in_transaction

CLINIC = DEFAULT_TENANT_ID
OTHER_CLINIC = UUID("6f1c2a5e-0c1d-4b7e-9a51-2f0e3c4d5b6a")
PATIENT = "p-7"
EARLIER = datetime(2026, 1, 5, tzinfo=UTC)
NOW = datetime(2026, 5, 1, tzinfo=UTC)
T = TypeVar("T")
PLANS = pytest.mark.parametrize("generic_plans", [False, True], ids=["custom plan", "generic plan"])


@dataclass(frozen=True)
class PatientsKeys:
    """The keys of the patient the request is about, in the clinic and, under the same id, in another."""

    erased: UUID  # destroyed by an earlier erasure; its erasure reference still finds it
    live: UUID
    bare: UUID  # filed under the bare pseudonym, as a role of the release before files it
    other_clinics: UUID


@dataclass(frozen=True)
class Clinic:
    """The API's connection to a clinic of 2,000 patients, and the keys of the one a request is about."""

    connection: asyncpg.Connection
    vault: PatientVault
    keys: PatientsKeys

    async def request(
        self, generic_plans: bool, operation: Callable[[PatientVault], Awaitable[T]]
    ) -> tuple[T, int]:
        """What the operation returns in a transaction of the clinic, as a request's, and the keys it read."""
        async with tenant_transaction(self.connection, CLINIC, generic_plans=generic_plans):
            before = await rows_read_in_transaction(self.connection, "patient_keys")
            done = await operation(self.vault)
            return done, await rows_read_in_transaction(self.connection, "patient_keys") - before


@pytest.fixture
async def clinic(api_database_url: str, settings: Settings) -> AsyncIterator[Clinic]:
    connection = await asyncpg.connect(api_database_url)  # the API's role, bound by row-level security
    try:
        vault = patient_vault(connection, settings)
        yield Clinic(connection, vault, await clinic_of_2000_patients(connection, vault, settings))
    finally:
        await connection.close()


async def clinic_of_2000_patients(
    connection: asyncpg.Connection, vault: PatientVault, settings: Settings
) -> PatientsKeys:
    """Given: every read planned once on the empty table; then the patient erased once and triggered again,
    with 2,000 other patients, 50 of them (the patient among them) also patients of another clinic."""
    async with tenant_transaction(connection, CLINIC, generic_plans=True):
        assert await vault.keys.live_key_ids(vault.patient_ref(PATIENT)) == []
        assert (await vault.keys.key_ids_of(vault.patient(CLINIC, PATIENT))).key_ids == []
        erased = (await vault.keys.live_key(vault.patient_ref(PATIENT))).key_id
        await vault.keys.destroy(vault.patient(CLINIC, PATIENT), EARLIER)
    refs = [vault.patient_ref(f"p-{number}") for number in range(2_000)]
    async with tenant_transaction(connection, CLINIC):
        live = (await vault.keys.live_keys(refs))[vault.patient_ref(PATIENT)].key_id
        bare, ring = uuid4(), load_key_ring(settings.master_key_file)
        await connection.execute(
            "INSERT INTO patient_keys (key_id, patient_ref, wrapped_key, master_key_id)"
            " VALUES ($1, $2, $3, $4)",
            bare,
            vault.patient_ref(PATIENT),
            ring.wrap(bare, bytes(32)),
            ring.current,
        )
    async with tenant_transaction(connection, OTHER_CLINIC):
        other_clinics = (await vault.keys.live_keys(refs[:50]))[vault.patient_ref(PATIENT)].key_id
    return PatientsKeys(erased, live, bare, other_clinics)


@PLANS
async def test_a_search_by_patient_id_reads_only_that_patients_live_keys(
    clinic: Clinic, generic_plans: bool
) -> None:
    found, read = await clinic.request(
        generic_plans, lambda vault: vault.keys.live_key_ids(vault.patient_ref(PATIENT))
    )

    keys = clinic.keys
    assert sorted(found) == sorted([keys.live, keys.bare])  # not the erased key, nor the other clinic's
    assert read <= 2


@PLANS
async def test_finding_a_patient_to_erase_reads_only_that_patients_keys(
    clinic: Clinic, generic_plans: bool
) -> None:
    found, read = await clinic.request(
        generic_plans, lambda vault: vault.keys.key_ids_of(vault.patient(CLINIC, PATIENT))
    )

    keys = clinic.keys
    assert found.key_ids == [keys.erased, keys.live, keys.bare] and found.destroyed_at is None
    assert read <= 3


@PLANS
async def test_an_erasure_destroys_only_that_patients_keys_and_reads_no_other(
    clinic: Clinic, migration_pool: asyncpg.Pool, generic_plans: bool
) -> None:
    _, read = await clinic.request(
        generic_plans, lambda vault: vault.keys.destroy(vault.patient(CLINIC, PATIENT), NOW)
    )

    keys, destroyed = (
        clinic.keys,
        "SELECT key_id, destroyed_at FROM patient_keys WHERE destroyed_at IS NOT NULL",
    )
    assert {row["key_id"]: row["destroyed_at"] for row in await migration_pool.fetch(destroyed)} == {
        keys.erased: EARLIER,
        keys.live: NOW,
        keys.bare: NOW,
    }  # the 1,999 other patients' keys, and the other clinic's key of the same patient id, stay live
    live = await migration_pool.fetchval("SELECT count(*) FROM patient_keys WHERE destroyed_at IS NULL")
    assert live == 1_999 + 50
    assert read <= 2
