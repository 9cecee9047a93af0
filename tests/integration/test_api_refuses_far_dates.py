"""On the real API: a trigger whose `until_field` date lies more than 100 years from now (year 9999, or a
placeholder such as 0001-01-01) is a 400 naming the field and the DELAY node, never the date, and starts
no run; in a batch only that patient is refused."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from api.examples import SEED_PATIENT
from support.stored import runs_in_store

APPOINTMENT_REMINDERS = {
    "name": "Appointment reminders",
    "start_node_id": "day_before",
    "nodes": [
        {
            "id": "day_before",
            "type": "DELAY",
            "until_field": "patient.appointment_at",
            "offset_seconds": -86400,
            "next_node_id": "reminder",
        },
        {"id": "reminder", "type": "MESSAGE", "message": "See you tomorrow."},
    ],
}


@pytest.fixture
async def reminders(api: httpx.AsyncClient) -> str:
    """The trigger URL of a journey that waits for the patient's appointment."""
    saved = await api.post("/journeys", json=APPOINTMENT_REMINDERS)
    return f"/journeys/{saved.json()['journeyId']}"


# 0001-01-01 in Tokyo lies before the calendar's first day in UTC: it used to answer 500.
@pytest.mark.parametrize("appointment_at", ["9999-12-31", "0001-01-01", "0001-01-01T08:00:00+09:00"])
async def test_a_date_beyond_the_bound_of_every_delay_is_refused_naming_field_and_node(
    api: httpx.AsyncClient, reminders: str, pool: asyncpg.Pool, appointment_at: str
) -> None:
    patient = {**SEED_PATIENT, "timezone": "Asia/Tokyo", "appointment_at": appointment_at}

    response = await api.post(f"{reminders}/trigger", json=patient)

    assert response.status_code == 400, response.text
    [problem] = response.json()["problems"]
    assert problem["path"] == "appointment_at"
    assert "day_before" in problem["message"] and "100 years" in problem["message"]
    assert appointment_at[:4] not in response.text
    assert await runs_in_store(pool) == 0


async def test_in_a_batch_only_the_patient_with_the_far_date_is_refused(
    api: httpx.AsyncClient, reminders: str, pool: asyncpg.Pool
) -> None:
    items = [
        {"idempotencyKey": f"k-{day[:4]}", "patient": {**SEED_PATIENT, "id": day, "appointment_at": day}}
        for day in ("9999-01-01", "2030-01-01")
    ]

    response = await api.post(f"{reminders}/trigger-batch", json={"items": items})

    assert response.status_code == 202, response.text
    refused, accepted = response.json()["items"]
    assert refused["status"] == 400 and refused["error"]["problems"][0]["path"] == "appointment_at"
    assert "runId" in accepted
    assert await runs_in_store(pool) == 1
