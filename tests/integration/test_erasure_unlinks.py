"""An erasure unlinks the patient: once the master key has rotated, nothing computable from their id finds
what is left of their runs; their booking's idempotency key names no run; analytics keep no exact time."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import orjson

from events.key_ring import load_key_ring
from pjs.master_key_commands import rotate_master
from pjs.settings import Settings
from support.api import app_client
from support.auth import TEST_OPERATOR, issue_test_key
from support.database import pg_dump
from support.roles import eventually, in_process

PATIENT_ID = "erase-me-4f1c"
DAY_BEFORE: dict[str, Any] = {
    "name": "Day before the appointment",
    "start_node_id": "day_before",
    "nodes": [
        {
            "id": "day_before",
            "type": "DELAY",
            "until_field": "patient.appointment_at",
            "offset_seconds": -86_400,
            "next_node_id": "reminder",
        },
        {"id": "reminder", "type": "MESSAGE", "message": "See you tomorrow.", "next_node_id": None},
    ],
}


def booked(appointment: datetime) -> dict[str, Any]:
    return {"id": PATIENT_ID, "age": 72, "language": "en", "appointment_at": appointment.isoformat()}


def an_appointment() -> datetime:
    """In ten days, at a time to the microsecond: what an exact duration would give back."""
    return datetime.now(UTC).replace(microsecond=123_456) + timedelta(days=10, minutes=17)


async def trigger(api: httpx.AsyncClient, journey_id: str, key: str | None = None) -> httpx.Response:
    headers = {} if key is None else {"Idempotency-Key": key}
    return await api.post(f"/journeys/{journey_id}/trigger", json=booked(an_appointment()), headers=headers)


def analytics_lines(directory: Path, event_type: str) -> list[dict[str, Any]]:
    lines = [
        orjson.loads(line) for path in directory.glob("*.ndjson") for line in path.read_bytes().splitlines()
    ]
    return [line for line in lines if line["type"] == event_type]


async def written(directory: Path, event_type: str, count: int) -> list[dict[str, Any]]:
    """The analytics lines of `event_type`, once there are `count` of them."""

    async def enough() -> list[dict[str, Any]] | None:
        lines = analytics_lines(directory, event_type)
        return lines if len(lines) >= count else None

    return await eventually(enough, seconds=60)


async def test_after_an_erasure_and_a_rotation_nothing_computable_from_the_patients_id_is_left(
    own_key_file: Settings, api_key: str, pool: asyncpg.Pool, migration_pool: asyncpg.Pool
) -> None:
    settings = own_key_file
    async with app_client(settings, api_key) as (api, _):
        journey_id = (await api.post("/journeys", json=DAY_BEFORE)).json()["journeyId"]
        tenant_id: UUID = await migration_pool.fetchval("SELECT tenant_id FROM journeys")
        async with in_process(settings, "relay", "engine", "projector", "audit", "analytics"):
            runs = [(await trigger(api, journey_id, key)).json()["runId"] for key in ("bk-1", "bk-2")]
            first = await api.post(f"/patients/{PATIENT_ID}/erasure")
            again = await api.post(f"/patients/{PATIENT_ID}/erasure")
            await eventually(
                lambda: pool.fetchval("SELECT count(*) = 2 FROM audit_log WHERE action = 'PatientErased'")
            )
            await written(settings.analytics_dir, "PatientErased", 2)
        before = load_key_ring(settings.master_key_file)
        dump = await pg_dump(settings.resolved_migration_database_url())

        # Until the rotation only the erasure reference, keyed by the master key, finds the destroyed keys.
        assert before.patient_ref(PATIENT_ID).encode() not in dump
        assert before.erasure_refs(tenant_id, PATIENT_ID)[before.current].encode() in dump
        assert first.status_code == again.status_code == 202 and first.json()["runsCancelled"] == 2
        assert again.json() == {**first.json(), "runsCancelled": 0}  # the same erasedAt

        await rotate_master(settings, by=TEST_OPERATOR)

        after = load_key_ring(settings.master_key_file)
        computable = {
            PATIENT_ID,
            hashlib.sha256(PATIENT_ID.encode()).hexdigest(),
            before.patient_ref(PATIENT_ID),
            *before.erasure_refs(tenant_id, PATIENT_ID).values(),
            *after.erasure_refs(tenant_id, PATIENT_ID).values(),
        }
        dump = await pg_dump(settings.resolved_migration_database_url())
        analytics = b"".join(path.read_bytes() for path in settings.analytics_dir.glob("*.ndjson"))
        assert [value for value in computable if value.encode() in dump + analytics] == []
        for run_id in runs:  # the runs stay, unlinked
            assert (await api.get(f"/journeys/runs/{run_id}")).json()["erased"] is True
        # Final: the service no longer knows the id; the patient coming back is a new patient.
        assert (await api.post(f"/patients/{PATIENT_ID}/erasure")).status_code == 404
        back = (await trigger(api, journey_id)).json()["runId"]
        listed = (await api.get("/journeys/runs", params={"patientId": PATIENT_ID})).json()["runs"]
        assert [run["runId"] for run in listed] == [back]


async def test_an_erased_patients_booking_key_starts_no_run_and_names_none(api: httpx.AsyncClient) -> None:
    journey_id = (await api.post("/journeys", json=DAY_BEFORE)).json()["journeyId"]
    appointment = an_appointment()
    sent = booked(appointment)
    started = await api.post(
        f"/journeys/{journey_id}/trigger", json=sent, headers={"Idempotency-Key": "bk-7"}
    )
    run_id = started.json()["runId"]
    assert (await api.post(f"/patients/{PATIENT_ID}/erasure")).status_code == 202

    retried = await api.post(
        f"/journeys/{journey_id}/trigger", json=sent, headers={"Idempotency-Key": "bk-7"}
    )
    batch = await api.post(
        f"/journeys/{journey_id}/trigger-batch", json={"items": [{"idempotencyKey": "bk-7", "patient": sent}]}
    )

    assert retried.status_code == 409 and run_id not in retried.text
    assert "patient was erased" in retried.json()["message"]
    [item] = batch.json()["items"]
    assert item["status"] == 409 and "runId" not in item and run_id not in batch.text
    assert (await api.get(f"/journeys/runs/{run_id}")).json()["erased"] is True  # no new run took its place


async def test_analytics_give_a_wait_counted_to_a_patients_date_only_to_the_hour(
    settings: Settings, api: httpx.AsyncClient
) -> None:
    journey_id = (await api.post("/journeys", json=DAY_BEFORE)).json()["journeyId"]
    async with in_process(settings, "relay", "engine", "analytics"):
        assert (await trigger(api, journey_id)).status_code == 202
        [line] = await written(settings.analytics_dir, "DelayStarted", 1)

    assert line["format"] == 2
    assert line["duration_seconds"] % 3600 == 0 and line["duration_seconds"] >= 8 * 86_400


async def test_the_same_patient_id_in_two_clinics_is_filed_under_two_references_neither_the_pseudonym(
    settings: Settings, api: httpx.AsyncClient, migration_pool: asyncpg.Pool
) -> None:
    other_clinic = await issue_test_key(settings.resolved_migration_database_url())
    async with app_client(settings, other_clinic) as (other, _):
        for client in (api, other):
            journey_id = (await client.post("/journeys", json=DAY_BEFORE)).json()["journeyId"]
            assert (await trigger(client, journey_id)).status_code == 202

    filed = {row["patient_ref"] for row in await migration_pool.fetch("SELECT patient_ref FROM patient_keys")}
    assert len(filed) == 2
    assert load_key_ring(settings.master_key_file).patient_ref(PATIENT_ID) not in filed


async def test_a_key_filed_before_the_upgrade_is_still_the_patients_found_and_erased(
    settings: Settings, api: httpx.AsyncClient, migration_pool: asyncpg.Pool
) -> None:
    journey_id = (await api.post("/journeys", json=DAY_BEFORE)).json()["journeyId"]
    before = (await trigger(api, journey_id)).json()["runId"]
    # As the release before filed it (or a role of it still running during the upgrade does).
    pseudonym = load_key_ring(settings.master_key_file).patient_ref(PATIENT_ID)
    await migration_pool.execute("UPDATE patient_keys SET patient_ref = $1", pseudonym)

    after = (await trigger(api, journey_id)).json()["runId"]
    listed = (await api.get("/journeys/runs", params={"patientId": PATIENT_ID})).json()["runs"]
    erased = await api.post(f"/patients/{PATIENT_ID}/erasure")

    assert await migration_pool.fetchval("SELECT count(*) FROM patient_keys") == 1  # the same key, used
    assert {run["runId"] for run in listed} == {before, after}
    assert erased.status_code == 202 and erased.json()["runsCancelled"] == 2
    assert await migration_pool.fetchval("SELECT count(*) FROM patient_keys WHERE patient_ref IS NULL") == 1
