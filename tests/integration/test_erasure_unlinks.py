"""After an erasure, the erased patient's booking (their runs' Idempotency-Key) names no run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

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
