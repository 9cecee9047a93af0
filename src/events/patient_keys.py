"""The key store: one data key per patient, wrapped by the master key ring (a KMS: another adapter)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol
from uuid import UUID, uuid4

import asyncpg
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from events.key_ring_file import MasterKeys
from events.pg import Queryable
from events.tenancy import DEFAULT_TENANT_ID

_REWRAP_BATCH: Final = 500
# The reference a key is filed under: the pseudonym scoped to the tenant (migration 0030). A key filed
# under the bare pseudonym (a role of the release before, during an upgrade) is still found and used.
_FILED: Final = "patient_ref_in_tenant({ref}, coalesce(current_tenant(), {tenant}))"
# Both references as one array from a sub-select, a value of the plan: under the API's row-level security
# Postgres bounds an index scan only by conditions without functions that are not leakproof, which
# `patient_ref IN (patient_ref_in_tenant(...), $1)` has, so any plan read every live key of the tenant.
_OF_PATIENT: Final = (
    "patient_ref = ANY (ARRAY(SELECT " + _FILED.format(ref="$1", tenant="{tenant}") + " UNION ALL SELECT $1))"
    " AND tenant_id = coalesce(current_tenant(), {tenant})"
)


@dataclass(frozen=True)
class DataKey:
    key_id: UUID
    secret: bytes
    made: bool = False  # made by the call that returned it, in the caller's transaction: nothing uses it yet

    def __repr__(self) -> str:
        return f"DataKey({self.key_id})"


@dataclass(frozen=True)
class PatientRefs:
    """How one patient's keys are found. Live keys are filed under `ref`; a destroyed key loses it and keeps
    only the erasure reference under the master key current when it was destroyed (`erasure_ref`), so a
    repeated erasure finds it until the rotation that drops that master key, and nothing links it after."""

    ref: str
    erasure_refs: dict[str, str]  # by master key id: one for each master key the ring holds
    current_master_key_id: str

    @property
    def erasure_ref(self) -> str:
        return self.erasure_refs[self.current_master_key_id]


@dataclass(frozen=True)
class PatientKeyIds:
    """Every key a patient was ever given, and when the last of them was destroyed (None: one is live)."""

    key_ids: list[UUID]
    destroyed_at: datetime | None


class PatientKeys(Protocol):
    """The port for data keys. Keys are filed under a patient reference (a pseudonym), never the id."""

    async def live_key(self, patient_ref: str) -> DataKey:
        """The patient's live data key, made on first use (or first use after an erasure)."""
        ...

    async def live_keys(self, patient_refs: Collection[str]) -> dict[str, DataKey]:
        """`live_key` for many patients at once (a bulk trigger), in one round trip where none races."""
        ...

    async def discard_made(self, key_ids: Collection[UUID]) -> None:
        """Delete those of `key_ids` made in the caller's transaction (`DataKey.made`), which sealed nothing
        it keeps: a first use that came to nothing leaves no key filing the patient. Others stay."""
        ...

    async def data_keys(self, key_ids: Collection[UUID]) -> dict[UUID, DataKey]:
        """The live keys among `key_ids`; destroyed or unknown ones are absent."""
        ...

    async def live_key_ids(self, patient_ref: str) -> list[UUID]:
        """The ids of the patient's live keys: what a search by patient id finds runs by."""
        ...

    async def key_ids_of(self, patient: PatientRefs) -> PatientKeyIds:
        """The patient's live keys and the destroyed ones an erasure reference still finds."""
        ...

    async def destroy(self, patient: PatientRefs, now: datetime) -> None:
        """Destroy every live key of the patient, unlinking it from their reference (idempotent)."""
        ...


class PostgresPatientKeys:
    """`PatientKeys` over the patient_keys table."""

    def __init__(self, db: Queryable, master_keys: MasterKeys) -> None:
        self._db = db
        self._master_keys = master_keys

    async def live_key(self, patient_ref: str) -> DataKey:
        return (await self.live_keys([patient_ref]))[patient_ref]

    async def live_keys(self, patient_refs: Collection[str]) -> dict[str, DataKey]:
        keys: dict[str, DataKey] = {}
        missing = sorted(set(patient_refs))  # in one order everywhere: concurrent first uses never deadlock
        for _ in range(3):
            keys |= await self._make_or_read(missing)
            # A concurrent first use after the statement's snapshot made the key: the next round reads it.
            missing = [ref for ref in missing if ref not in keys]
            if not missing:
                return keys
        raise RuntimeError("no live data key could be made or read for the patient")

    async def _make_or_read(self, refs: list[str]) -> dict[str, DataKey]:
        """Each patient's live key, made where it has none: a concurrent first use inserts its key first,
        then ours is dropped and theirs read, unless it committed after this statement's snapshot."""
        made = {ref: (uuid4(), AESGCM.generate_key(256)) for ref in refs}
        ring = self._master_keys.ring()  # one ring for the statement: the key it names wrapped these
        # The CTE's read sees the keys from before its insert: old keys come from it, new ones from `made`.
        rows = await self._db.fetch(
            f"""
            WITH wanted AS (
                SELECT m.*, {_FILED.format(ref="m.ref", tenant="$5")} AS filed
                FROM unnest($1::uuid[], $2::text[], $3::bytea[]) AS m(key_id, ref, wrapped_key)),
            live AS (
                SELECT w.ref, k.key_id, k.wrapped_key, k.master_key_id
                FROM wanted w JOIN patient_keys k ON k.patient_ref IN (w.filed, w.ref)
                -- The references again as one array, so they bound the index scan whatever plan is used: a
                -- plan made while the table was near empty (cached for the session) read every key of the
                -- tenant on each call.
                WHERE k.patient_ref = ANY (ARRAY(SELECT filed FROM wanted UNION ALL SELECT ref FROM wanted))
                  AND k.destroyed_at IS NULL
                  AND k.tenant_id = coalesce(current_tenant(), $5)),  -- the writer's tenant, as the insert's
            made AS (
                INSERT INTO patient_keys (key_id, patient_ref, wrapped_key, master_key_id)
                SELECT key_id, filed, wrapped_key, $4 FROM wanted
                WHERE ref NOT IN (SELECT ref FROM live)
                ON CONFLICT (tenant_id, patient_ref) WHERE destroyed_at IS NULL DO NOTHING
                RETURNING key_id, wrapped_key, master_key_id)
            SELECT w.ref, made.key_id, made.wrapped_key, made.master_key_id
            FROM made JOIN wanted w USING (key_id)
            UNION ALL
            SELECT ref, key_id, wrapped_key, master_key_id FROM live
            """,
            [made[ref][0] for ref in refs],
            refs,
            [ring.wrap(*made[ref]) for ref in refs],
            ring.current,
            DEFAULT_TENANT_ID,
        )
        return {row["ref"]: self._made_or_unwrapped(row, made) for row in rows}

    def _made_or_unwrapped(self, row: asyncpg.Record, made: dict[str, tuple[UUID, bytes]]) -> DataKey:
        """A key this statement made is used as made; one made earlier is unwrapped."""
        key_id, secret = made[row["ref"]]
        return DataKey(key_id, secret, made=True) if row["key_id"] == key_id else self._unwrapped(row)

    async def discard_made(self, key_ids: Collection[UUID]) -> None:
        # `created_at` defaults to now(), the transaction's start: only a key this transaction made matches,
        # which no other transaction can have seen (a concurrent first use waits on it at the unique index).
        await self._db.execute(
            "DELETE FROM patient_keys WHERE key_id = ANY($1::uuid[]) AND created_at = now()", list(key_ids)
        )

    async def data_keys(self, key_ids: Collection[UUID]) -> dict[UUID, DataKey]:
        if not key_ids:
            return {}
        # "Live" said as `wrapped_key IS NOT NULL` (the table's CHECK makes it the same): `destroyed_at IS
        # NULL` matches the live-keys index, which a plan made while the table was near empty then read
        # whole, every key of every tenant, on each call; this way only the primary key fits.
        rows = await self._db.fetch(
            "SELECT key_id, wrapped_key, master_key_id FROM patient_keys"
            " WHERE key_id = ANY($1::uuid[]) AND wrapped_key IS NOT NULL",
            list(set(key_ids)),
        )
        return {row["key_id"]: self._unwrapped(row) for row in rows}

    async def live_key_ids(self, patient_ref: str) -> list[UUID]:
        rows = await self._db.fetch(
            "SELECT key_id FROM patient_keys"
            f" WHERE {_OF_PATIENT.format(tenant='$2')} AND destroyed_at IS NULL",
            patient_ref,
            DEFAULT_TENANT_ID,
        )
        return [row["key_id"] for row in rows]

    async def key_ids_of(self, patient: PatientRefs) -> PatientKeyIds:
        rows = await self._db.fetch(
            "SELECT key_id, destroyed_at FROM patient_keys"
            f" WHERE ({_OF_PATIENT.format(tenant='$3')}) OR erasure_ref = ANY($2::text[])"
            " ORDER BY created_at",
            patient.ref,
            list(patient.erasure_refs.values()),
            DEFAULT_TENANT_ID,
        )
        destroyed = [row["destroyed_at"] for row in rows]
        last = None if not rows or None in destroyed else max(destroyed)
        return PatientKeyIds([row["key_id"] for row in rows], last)

    async def destroy(self, patient: PatientRefs, now: datetime) -> None:
        await self._db.execute(
            "UPDATE patient_keys SET wrapped_key = NULL, master_key_id = NULL, destroyed_at = $2,"
            " patient_ref = NULL, erasure_ref = $3, erasure_master_key_id = $4"
            f" WHERE {_OF_PATIENT.format(tenant='$5')} AND destroyed_at IS NULL",
            patient.ref,
            now,
            patient.erasure_ref,
            patient.current_master_key_id,
            DEFAULT_TENANT_ID,
        )

    async def rewrap(self) -> int:
        """Re-wrap every live data key not under the current master key; events are not touched."""
        done = 0
        ring = self._master_keys.ring()
        while True:
            rows = await self._db.fetch(
                "SELECT key_id, wrapped_key, master_key_id FROM patient_keys"
                " WHERE destroyed_at IS NULL AND master_key_id <> $1 LIMIT $2",
                ring.current,
                _REWRAP_BATCH,
            )
            if not rows:
                return done
            keys = [self._unwrapped(row) for row in rows]
            # The batch's ids again as = ANY, and "live" as in data_keys: `destroyed_at IS NULL` matches the
            # live-keys index, so a plan made while the table had no statistics hashed every live key.
            await self._db.execute(
                """
                UPDATE patient_keys k SET wrapped_key = t.wrapped_key, master_key_id = $3
                FROM unnest($1::uuid[], $2::bytea[]) AS t(key_id, wrapped_key)
                WHERE k.key_id = t.key_id AND k.key_id = ANY ($1::uuid[]) AND k.wrapped_key IS NOT NULL
                """,
                [key.key_id for key in keys],
                [ring.wrap(key.key_id, key.secret) for key in keys],
                ring.current,
            )
            done += len(keys)

    async def forget_erasures(self) -> None:
        """Clear the erasure references keyed by master keys other than the current one (a rotation dropped
        them): nobody could compute those references any more, and now nobody can read them either."""
        await self._db.execute(
            "UPDATE patient_keys SET erasure_ref = NULL, erasure_master_key_id = NULL"
            " WHERE erasure_master_key_id <> $1",
            self._master_keys.ring().current,
        )

    def _unwrapped(self, row: asyncpg.Record) -> DataKey:
        key_id: UUID = row["key_id"]
        ring = self._master_keys.ring_with(row["master_key_id"])
        return DataKey(key_id, ring.unwrap(row["master_key_id"], key_id, bytes(row["wrapped_key"])))


class KeysReadOnce:
    """`PatientKeys` that reads each data key from the store at most once: the keys for one batch's work.

    A worker opens a batch's contexts, then seals or opens its messages with the same keys; the second
    read would ask for the same rows. Short-lived on purpose: a key destroyed after the batch began
    (an erasure) is still used for that batch, as it would be by a batch that read it a moment earlier,
    and never for the next.
    """

    def __init__(self, keys: PatientKeys) -> None:
        self._keys = keys
        self._read: dict[UUID, DataKey | None] = {}  # None: destroyed or unknown when read

    async def data_keys(self, key_ids: Collection[UUID]) -> dict[UUID, DataKey]:
        unread = set(key_ids) - self._read.keys()
        if unread:
            found = await self._keys.data_keys(unread)
            self._read.update({key_id: found.get(key_id) for key_id in unread})
        return {key_id: key for key_id in key_ids if (key := self._read[key_id]) is not None}

    async def live_key(self, patient_ref: str) -> DataKey:
        return await self._keys.live_key(patient_ref)

    async def live_keys(self, patient_refs: Collection[str]) -> dict[str, DataKey]:
        return await self._keys.live_keys(patient_refs)

    async def discard_made(self, key_ids: Collection[UUID]) -> None:
        await self._keys.discard_made(key_ids)

    async def live_key_ids(self, patient_ref: str) -> list[UUID]:
        return await self._keys.live_key_ids(patient_ref)

    async def key_ids_of(self, patient: PatientRefs) -> PatientKeyIds:
        return await self._keys.key_ids_of(patient)

    async def destroy(self, patient: PatientRefs, now: datetime) -> None:
        await self._keys.destroy(patient, now)
