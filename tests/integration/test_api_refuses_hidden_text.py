"""Text that could disguise itself where people read it (control characters, bidi overrides) is refused in
patient ids, journey names and node ids, and contact details must be whole: each a 400 naming the field."""

from __future__ import annotations

import copy
from typing import Any

import asyncpg
import httpx
import pytest

from api.examples import CLINIC_JOURNEY, CLINIC_PATIENT, SEED_JOURNEY, SEED_PATIENT
from support.stored import journey_versions_in_store, runs_in_store

DISGUISED_ID = "a\u0001\u001b[31mred\n\r"


def problems(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 400, response.text
    return {problem["path"]: problem["message"] for problem in response.json()["problems"]}


@pytest.fixture
async def journey_id(api: httpx.AsyncClient) -> str:
    journey_id: str = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]
    return journey_id


async def test_a_trigger_for_a_patient_id_with_control_characters_is_refused_and_starts_nothing(
    api: httpx.AsyncClient, journey_id: str, pool: asyncpg.Pool
) -> None:
    response = await api.post(f"/journeys/{journey_id}/trigger", json={**SEED_PATIENT, "id": DISGUISED_ID})

    assert "U+0001" in problems(response)["id"]
    assert "\x1b" not in response.text
    assert await runs_in_store(pool) == 0


async def test_a_batch_item_with_such_a_patient_id_is_refused_alone(
    api: httpx.AsyncClient, journey_id: str
) -> None:
    items = [
        {"idempotencyKey": "k-1", "patient": {**SEED_PATIENT, "id": "p\u202egnp.exe"}},
        {"idempotencyKey": "k-2", "patient": SEED_PATIENT},
    ]

    response = await api.post(f"/journeys/{journey_id}/trigger-batch", json={"items": items})

    assert response.status_code == 202, response.text
    refused, accepted = response.json()["items"]
    assert refused["status"] == 400 and refused["error"]["problems"][0]["path"] == "id"
    assert "runId" in accepted


async def test_a_journey_whose_name_or_node_id_holds_control_characters_is_refused(
    api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    journey: dict[str, Any] = copy.deepcopy(SEED_JOURNEY)
    journey["name"] = "\u001b[2J\u0007x\u202e"
    journey["nodes"][0]["id"] = journey["start_node_id"] = "welcome\u2066"

    response = await api.post("/journeys", json=journey)

    assert set(problems(response)) == {"name", "nodes[0].id"}
    assert await journey_versions_in_store(pool) == 0


@pytest.mark.parametrize("field", ["phone", "email"])
async def test_a_phone_or_email_with_a_trailing_newline_is_refused_naming_it(
    messaging_api: httpx.AsyncClient, field: str
) -> None:
    saved = await messaging_api.post("/journeys", json=CLINIC_JOURNEY)
    assert saved.status_code == 201, saved.text
    patient = {**CLINIC_PATIENT, field: f"{CLINIC_PATIENT[field]}\n"}

    response = await messaging_api.post(f"/journeys/{saved.json()['journeyId']}/trigger", json=patient)

    assert list(problems(response)) == [field]
