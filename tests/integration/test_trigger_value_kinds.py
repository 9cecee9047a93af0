"""On the real API: a patient value of another kind than the journey's condition compares it with (an HbA1c
sent as text to "hba1c >= 7.5") is a 400 naming the field and the node, never its value, and starts no run;
in a batch only that patient is refused; a journey comparing with a number in quotes is refused at save."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from api.examples import SEED_PATIENT
from support.stored import journey_versions_in_store, runs_in_store

DIABETES_REVIEW = {
    "name": "Diabetes review",
    "start_node_id": "hba1c_check",
    "nodes": [
        {
            "id": "hba1c_check",
            "type": "CONDITIONAL",
            "condition": {"field": "patient.hba1c", "operator": ">=", "value": 7.5},
            "on_true_next_node_id": "book_review",
        },
        {"id": "book_review", "type": "MESSAGE", "message": "Please book a review with your nurse."},
    ],
}


@pytest.fixture
async def journey_id(api: httpx.AsyncClient) -> str:
    journey_id: str = (await api.post("/journeys", json=DIABETES_REVIEW)).json()["journeyId"]
    return journey_id


async def test_a_lab_value_sent_as_text_is_refused_naming_the_field_and_node_and_no_run_starts(
    api: httpx.AsyncClient, journey_id: str, pool: asyncpg.Pool
) -> None:
    response = await api.post(f"/journeys/{journey_id}/trigger", json={**SEED_PATIENT, "hba1c": "8.1"})

    assert response.status_code == 400, response.text
    [problem] = response.json()["problems"]
    assert problem["path"] == "hba1c"
    assert "a number" in problem["message"] and "hba1c_check" in problem["message"]
    assert "8.1" not in response.text
    assert await runs_in_store(pool) == 0


async def test_in_a_batch_only_the_patient_with_the_wrong_kind_is_refused(
    api: httpx.AsyncClient, journey_id: str, pool: asyncpg.Pool
) -> None:
    items = [
        {"idempotencyKey": "k-text", "patient": {**SEED_PATIENT, "id": "p-1", "hba1c": "8.1"}},
        {"idempotencyKey": "k-number", "patient": {**SEED_PATIENT, "id": "p-2", "hba1c": 8.1}},
        {"idempotencyKey": "k-unknown", "patient": {**SEED_PATIENT, "id": "p-3", "hba1c": None}},
    ]

    response = await api.post(f"/journeys/{journey_id}/trigger-batch", json={"items": items})

    assert response.status_code == 202, response.text
    refused, accepted, unknown_age = response.json()["items"]
    assert refused["status"] == 400 and refused["error"]["problems"][0]["path"] == "hba1c"
    assert "runId" in accepted and "runId" in unknown_age
    assert await runs_in_store(pool) == 2


async def test_a_journey_comparing_age_with_a_quoted_number_is_refused_at_save(
    api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    journey = {
        "name": "Fall risk",
        "start_node_id": "check",
        "nodes": [
            {
                "id": "check",
                "type": "CONDITIONAL",
                "condition": {"field": "patient.age", "operator": ">", "value": "65"},
                "on_true_next_node_id": "leaflet",
            },
            {"id": "leaflet", "type": "MESSAGE", "message": "Your fall-risk leaflet"},
        ],
    }

    response = await api.post("/journeys", json=journey)

    assert response.status_code == 400, response.text
    [problem] = response.json()["problems"]
    assert problem["path"] == "nodes[0].condition.value" and "without quotes" in problem["message"]
    assert await journey_versions_in_store(pool) == 0
