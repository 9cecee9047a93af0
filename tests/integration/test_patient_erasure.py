"""Erasure by crypto-shredding: runs cancelled and marked, keys destroyed, reads answer erased, retry-safe."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

from domain.run_state import RunStatus, fold
from engine.erasure import erase_patient
from engine.run_status import PostgresRunHeads
from events.catalogue import PatientErased, RunCancelled
from events.patient_keys import PatientRefs
from events.patient_vault import PatientVault
from events.tenancy import DEFAULT_TENANT_ID
from pjs.settings import Settings
from pjs.wiring import event_store, patient_vault
from support.roles import eventually, in_process

JOURNEY: dict[str, Any] = {
    "name": "Long wait",
    "start_node_id": "hello",
    "nodes": [
        {"id": "hello", "type": "MESSAGE", "message": "Welcome.", "next_node_id": "wait"},
        {"id": "wait", "type": "DELAY", "duration_seconds": 86_400, "next_node_id": None},
    ],
}


def patient(patient_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": patient_id, "age": 70, "language": "en", **extra}


async def trigger(api: httpx.AsyncClient, journey_id: str, context: dict[str, Any]) -> str:
    response = await api.post(f"/journeys/{journey_id}/trigger", json=context)
    assert response.status_code == 202, response.text
    run_id: str = response.json()["runId"]
    return run_id


async def waiting(api: httpx.AsyncClient, run_ids: list[str]) -> None:
    async def all_waiting() -> bool:
        statuses = [(await api.get(f"/journeys/runs/{run_id}")).json()["status"] for run_id in run_ids]
        return all(status == "waiting_delay" for status in statuses)

    await eventually(all_waiting)


async def test_erasure_cancels_the_patients_runs_and_every_read_answers_erased(
    settings: Settings, api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    journey_id = (await api.post("/journeys", json=JOURNEY)).json()["journeyId"]
    async with in_process(settings, "relay", "engine"):
        erased_runs = [await trigger(api, journey_id, patient("anna", note="knee")) for _ in range(2)]
        kept = await trigger(api, journey_id, patient("bert", note="hip"))
        await waiting(api, [*erased_runs, kept])

        first = await api.post("/patients/anna/erasure")
        again = await api.post("/patients/anna/erasure")

    assert first.status_code == 202 and again.status_code == 202
    assert first.json()["patientId"] == "anna" and first.json()["runsCancelled"] == 2
    assert again.json() == {**first.json(), "runsCancelled": 0}  # idempotent: nothing left to do
    for run_id in erased_runs:
        run = (await api.get(f"/journeys/runs/{run_id}")).json()
        assert (run["status"], run["patientContext"], run["erased"]) == ("cancelled", None, True)
        started = (await api.get(f"/journeys/runs/{run_id}/events")).json()["events"][0]
        assert started["type"] == "RunStarted" and started["data"]["patient_context"] is None
        stream = await event_store(pool).read_stream(UUID(run_id))
        assert [type(e.event) for e in stream].count(PatientErased) == 1
        replayed = fold(UUID(run_id), stream)  # what a replay of run_status rebuilds
        assert replayed.erased and replayed.patient_context is None
    other = (await api.get(f"/journeys/runs/{kept}")).json()
    assert other["patientContext"] == patient("bert", note="hip") and not other["erased"]
    assert other["status"] == "waiting_delay"


async def test_an_erased_patients_id_no_longer_finds_their_runs_or_audit_trail_until_triggered_again(
    settings: Settings, api: httpx.AsyncClient
) -> None:
    journey_id = (await api.post("/journeys", json=JOURNEY)).json()["journeyId"]
    erased = await trigger(api, journey_id, patient("anna", note="knee"))
    assert await _found_by_patient_id(api, "anna") == ({erased}, {erased})

    assert (await api.post("/patients/anna/erasure")).status_code == 202

    assert await _found_by_patient_id(api, "anna") == (set(), set())
    assert (await api.get(f"/journeys/runs/{erased}")).json()["erased"] is True  # the run, unlinked, stays
    assert (await api.post("/patients/anna/erasure")).status_code == 202  # a repeat still knows the patient
    again = await trigger(api, journey_id, patient("anna", note="knee"))
    assert await _found_by_patient_id(api, "anna") == ({again}, {again})


async def _found_by_patient_id(api: httpx.AsyncClient, patient_id: str) -> tuple[set[str], set[str]]:
    """The runs, and the runs the audit entries name, that a search by the patient's id finds."""
    listed = await api.get("/journeys/runs", params={"patientId": patient_id})
    searched = await api.post("/journeys/runs/search", json={"patientId": patient_id})
    audited = await api.post("/audit/search", json={"patientId": patient_id})
    assert listed.status_code == searched.status_code == audited.status_code == 200
    assert listed.json()["runs"] == searched.json()["runs"]
    runs = {run["runId"] for run in listed.json()["runs"]}
    entries = audited.json()["entries"]
    named = {entry["runId"] for entry in entries} | {
        run for e in entries for run in e["details"].get("runs", [])
    }
    return runs, named - {None}


class Crash(Exception):
    """Stands for the process dying at this point."""


class CrashingStore:
    """Appends, then dies before the caller hears of it."""

    def __init__(self, store: Any) -> None:
        self._store = store

    async def append(self, *args: Any) -> Any:
        return await self._store.append(*args)

    async def append_many(self, requests: Any) -> Any:
        await self._store.append_many(requests)
        raise Crash


class CrashingKeys:
    """The key store, dying at `destroy` (before it, or after it)."""

    def __init__(self, vault: PatientVault, after: bool) -> None:
        self._keys = vault.keys
        self._after = after

    async def live_key(self, patient_ref: str) -> Any:
        return await self._keys.live_key(patient_ref)

    async def live_keys(self, patient_refs: Any) -> Any:
        return await self._keys.live_keys(patient_refs)

    async def data_keys(self, key_ids: Any) -> Any:
        return await self._keys.data_keys(key_ids)

    async def live_key_ids(self, patient_ref: str) -> Any:
        return await self._keys.live_key_ids(patient_ref)

    async def key_ids_of(self, patient: PatientRefs) -> Any:
        return await self._keys.key_ids_of(patient)

    async def destroy(self, patient: PatientRefs, now: datetime) -> None:
        if self._after:
            await self._keys.destroy(patient, now)
        raise Crash


@pytest.mark.parametrize("crash_at", ["after appending", "before destroying", "after destroying"])
async def test_an_erasure_that_crashed_half_way_ends_the_same_when_retried(
    settings: Settings, default_tenant_api: httpx.AsyncClient, pool: asyncpg.Pool, crash_at: str
) -> None:
    api = default_tenant_api  # erased below as a worker erases: with no tenant set, the default one's
    journey_id = (await api.post("/journeys", json=JOURNEY)).json()["journeyId"]
    async with in_process(settings, "relay", "engine"):
        run_ids = [await trigger(api, journey_id, patient("carl")) for _ in range(2)]
        await waiting(api, run_ids)
    vault = patient_vault(pool, settings)
    store, heads, ref = event_store(pool), PostgresRunHeads(pool), vault.patient(DEFAULT_TENANT_ID, "carl")
    now = datetime(2026, 5, 1, tzinfo=UTC)
    crashing_store = CrashingStore(store) if crash_at == "after appending" else store
    crashing_keys = CrashingKeys(vault, after=crash_at == "after destroying")

    with pytest.raises(Crash):
        await erase_patient(crashing_store, heads, crashing_keys, patient=ref, now=now)
    await erase_patient(store, heads, vault.keys, patient=ref, now=now)

    for run_id in run_ids:
        stream = await event_store(pool).read_stream(UUID(run_id))
        kinds = [type(e.event) for e in stream]
        assert kinds.count(RunCancelled) == 1 and kinds.count(PatientErased) == 1
        state = (await heads.load([UUID(run_id)]))[UUID(run_id)]
        assert state.status is RunStatus.CANCELLED and state.erased and state.patient_context is None
    keys = await vault.keys.key_ids_of(ref)
    assert keys.destroyed_at == now and await vault.keys.data_keys(keys.key_ids) == {}
