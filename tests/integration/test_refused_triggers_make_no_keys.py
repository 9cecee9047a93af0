"""A trigger that starts no run for a patient leaves no data key for them: an erased patient stays erased,
and a reused Idempotency-Key files no key for the patient it was reused for."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx

from events.key_ring import load_key_ring
from pjs.master_key_commands import rotate_master
from pjs.settings import Settings
from support.api import app_client
from support.auth import TEST_OPERATOR

JOURNEY: dict[str, Any] = {
    "name": "Welcome",
    "start_node_id": "hello",
    "nodes": [{"id": "hello", "type": "MESSAGE", "message": "Welcome.", "next_node_id": None}],
}


def patient(patient_id: str) -> dict[str, Any]:
    return {"id": patient_id, "age": 70, "language": "en"}


async def trigger(api: httpx.AsyncClient, journey_id: str, key: str, patient_id: str) -> httpx.Response:
    return await api.post(
        f"/journeys/{journey_id}/trigger", json=patient(patient_id), headers={"Idempotency-Key": key}
    )


async def live_keys_of(settings: Settings, migration_pool: asyncpg.Pool, patient_id: str) -> int:
    """The live data keys filed under the patient's reference, in any tenant: what "knows" the patient."""
    pseudonym = load_key_ring(settings.master_key_file).patient_ref(patient_id)
    count: int = await migration_pool.fetchval(
        "SELECT count(*) FROM patient_keys WHERE destroyed_at IS NULL"
        " AND patient_ref IN (patient_ref_in_tenant($1, tenant_id), $1)",
        pseudonym,
    )
    return count


async def test_an_erased_patients_resent_booking_makes_no_key_so_the_erasure_stays_final(
    own_key_file: Settings, api_key: str, migration_pool: asyncpg.Pool
) -> None:
    settings = own_key_file
    async with app_client(settings, api_key) as (api, _):
        journey_id = (await api.post("/journeys", json=JOURNEY)).json()["journeyId"]
        assert (await trigger(api, journey_id, "bk-1", "paula")).status_code == 202
        erased = await api.post("/patients/paula/erasure")

        resent = await trigger(api, journey_id, "bk-1", "paula")  # the clinic's queue re-sends the booking
        keys_after_resending = await live_keys_of(settings, migration_pool, "paula")
        again = await api.post("/patients/paula/erasure")
        await rotate_master(settings, by=TEST_OPERATOR)
        after_rotation = await api.post("/patients/paula/erasure")

    assert resent.status_code == 409 and "patient was erased" in resent.json()["message"]
    assert keys_after_resending == 0
    assert erased.status_code == again.status_code == 202
    assert again.json() == {**erased.json(), "runsCancelled": 0}  # the same erasedAt: nothing new erased
    assert after_rotation.status_code == 404  # the service no longer knows the id


async def test_a_key_reused_for_another_patient_makes_no_key_for_that_patient(
    settings: Settings, api: httpx.AsyncClient, migration_pool: asyncpg.Pool
) -> None:
    journey_id = (await api.post("/journeys", json=JOURNEY)).json()["journeyId"]
    assert (await trigger(api, journey_id, "bk-2", "anna")).status_code == 202

    reused = await trigger(api, journey_id, "bk-2", "bert")

    assert reused.status_code == 422, reused.text
    assert await live_keys_of(settings, migration_pool, "bert") == 0
    assert await live_keys_of(settings, migration_pool, "anna") == 1
    assert (await api.post("/patients/bert/erasure")).status_code == 404  # a patient the clinic never had


async def test_a_batch_keeps_the_keys_of_the_patients_it_started_runs_for_and_makes_none_for_the_others(
    settings: Settings, api: httpx.AsyncClient, migration_pool: asyncpg.Pool
) -> None:
    journey_id = (await api.post("/journeys", json=JOURNEY)).json()["journeyId"]
    assert (await trigger(api, journey_id, "bk-old", "paula")).status_code == 202
    assert (await trigger(api, journey_id, "bk-anna", "anna")).status_code == 202
    assert (await api.post("/patients/paula/erasure")).status_code == 202

    response = await api.post(
        f"/journeys/{journey_id}/trigger-batch",
        json={
            "items": [
                {"idempotencyKey": "bk-new", "patient": patient("nina")},
                {"idempotencyKey": "bk-old", "patient": patient("paula")},  # re-sent after the erasure
                {"idempotencyKey": "bk-anna", "patient": patient("nina")},  # anna's key, for nina
            ]
        },
    )

    assert response.status_code == 202, response.text
    started, resent, reused = response.json()["items"]
    assert started["created"] is True and (resent["status"], reused["status"]) == (409, 422)
    run = (await api.get(f"/journeys/runs/{started['runId']}")).json()
    assert run["patientContext"] == patient("nina")  # its key is there: the run's context opens
    assert await live_keys_of(settings, migration_pool, "nina") == 1
    assert await live_keys_of(settings, migration_pool, "paula") == 0
