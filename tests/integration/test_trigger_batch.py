"""Bulk trigger over HTTP on the real stack: one transaction, an answer per item in order, none half done."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from api.examples import SEED_JOURNEY, SEED_PATIENT
from pjs.settings import Settings
from support.api import app_client
from support.auth import issue_test_key


@pytest.fixture
async def journey_id(api: httpx.AsyncClient) -> str:
    journey_id: str = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]
    return journey_id


def item(key: str, **patient: object) -> dict[str, Any]:
    return {"idempotencyKey": key, "patient": {**SEED_PATIENT, "id": f"patient-{key}", **patient}}


async def batch(api: httpx.AsyncClient, journey_id: str, *items: dict[str, Any]) -> httpx.Response:
    return await api.post(f"/journeys/{journey_id}/trigger-batch", json={"items": list(items)})


async def runs_in_store(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM run_status"))


async def test_every_item_gets_its_run_in_request_order_readable_like_a_single_trigger(
    api: httpx.AsyncClient, journey_id: str, pool: asyncpg.Pool
) -> None:
    response = await batch(api, journey_id, item("a", age=70), item("b", age=40), item("c", age=55))

    assert response.status_code == 202, response.text
    answer = response.json()
    assert (answer["accepted"], answer["refused"]) == (3, 0)
    assert [entry["idempotencyKey"] for entry in answer["items"]] == ["a", "b", "c"]
    for entry, age in zip(answer["items"], (70, 40, 55), strict=True):
        assert entry["created"] is True
        run = (await api.get(f"/journeys/runs/{entry['runId']}")).json()
        assert run["status"] == "in_progress" and run["patientContext"]["age"] == age
    assert await runs_in_store(pool) == 3
    stored = await pool.fetchval("SELECT string_agg(data::text, '') FROM events")
    assert "patient-a" not in stored  # sealed with the patient's key, as a single trigger's


async def test_refused_items_get_a_reason_and_the_others_still_start(
    api: httpx.AsyncClient, journey_id: str, pool: asyncpg.Pool
) -> None:
    no_age = {"idempotencyKey": "no-age", "patient": {"id": "patient-x", "language": "en"}}
    no_key = {"patient": {**SEED_PATIENT}}
    deep: dict[str, Any] = {"leaf": 1}
    for _ in range(40):
        deep = {"nested": deep}
    too_deep = item("deep", notes=deep)

    response = await batch(api, journey_id, item("ok-1"), no_age, no_key, too_deep, item("ok-2"))

    assert response.status_code == 202, response.text
    entries = response.json()["items"]
    assert [("runId" in entry, entry.get("status")) for entry in entries] == [
        (True, None), (False, 400), (False, 400), (False, 400), (True, None),
    ]  # fmt: skip
    assert "age" in str(entries[1]["error"]["problems"])
    assert "idempotencyKey" in entries[2]["error"]["message"]
    assert "PJS_MAX_JSON_DEPTH" in entries[3]["error"]["message"]
    assert await runs_in_store(pool) == 2  # an item either has a run or a reason


async def test_an_items_key_that_is_not_text_is_refused_in_its_entry_and_answered_as_null(
    api: httpx.AsyncClient, journey_id: str
) -> None:
    not_text = [{"idempotencyKey": key, "patient": SEED_PATIENT} for key in ([], {"k": 1}, 7, True)]

    response = await batch(api, journey_id, *not_text, item("ok"))

    assert response.status_code == 202, response.text
    entries = response.json()["items"]
    assert [(entry["idempotencyKey"], entry.get("status")) for entry in entries] == [
        (None, 400), (None, 400), (None, 400), (None, 400), ("ok", None),
    ]  # fmt: skip


async def test_a_repeated_key_returns_the_same_run_and_a_reused_key_with_another_patient_is_refused(
    api: httpx.AsyncClient, journey_id: str, pool: asyncpg.Pool
) -> None:
    first = (await batch(api, journey_id, item("k1"), item("k2"))).json()["items"]

    again = await batch(api, journey_id, item("k1"), item("k2", age=41), item("k3"), item("k3"))

    entries = again.json()["items"]
    assert entries[0] == {"idempotencyKey": "k1", "runId": first[0]["runId"], "created": False}
    assert entries[1]["status"] == 422 and first[1]["runId"] in entries[1]["error"]["message"]
    assert entries[2]["created"] is True and entries[3] == {**entries[2], "created": False}
    assert await runs_in_store(pool) == 3


async def test_the_batch_and_the_single_trigger_share_idempotency_keys(
    api: httpx.AsyncClient, journey_id: str
) -> None:
    patient = {**SEED_PATIENT, "id": "patient-shared"}
    single = await api.post(
        f"/journeys/{journey_id}/trigger", json=patient, headers={"Idempotency-Key": "shared"}
    )

    entries = (await batch(api, journey_id, {"idempotencyKey": "shared", "patient": patient})).json()["items"]

    assert entries == [{"idempotencyKey": "shared", "runId": single.json()["runId"], "created": False}]


async def test_a_batch_items_key_and_the_header_are_one_key_whatever_spaces_surround_them(
    api: httpx.AsyncClient, journey_id: str
) -> None:
    patient = {**SEED_PATIENT, "id": "patient-spaced"}
    single = await api.post(
        f"/journeys/{journey_id}/trigger", json=patient, headers={"Idempotency-Key": "spaced"}
    )

    spaced = {"idempotencyKey": " spaced\t", "patient": patient}
    blank = {"idempotencyKey": "  ", "patient": patient}
    entries = (await batch(api, journey_id, spaced, blank)).json()["items"]

    assert entries[0] == {"idempotencyKey": " spaced\t", "runId": single.json()["runId"], "created": False}
    assert entries[1]["status"] == 400


async def test_more_items_than_the_limit_is_413_naming_the_setting_and_nothing_starts(
    settings: Settings, api_key: str, pool: asyncpg.Pool
) -> None:
    limited = settings.model_copy(update={"max_batch_triggers": 3})
    async with app_client(limited, api_key) as (api, _):
        journey_id = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]
        response = await batch(api, journey_id, *(item(f"k{n}") for n in range(4)))
        accepted = await batch(api, journey_id, *(item(f"k{n}") for n in range(3)))

    assert response.status_code == 413
    assert (
        "at most 3" in response.json()["message"] and "PJS_MAX_BATCH_TRIGGERS" in response.json()["message"]
    )
    assert accepted.status_code == 202 and await runs_in_store(pool) == 3


@pytest.mark.parametrize("body", [{}, {"items": []}, {"items": "x"}, {"items": [1]}, []])
async def test_a_body_that_is_not_a_batch_is_400(api: httpx.AsyncClient, journey_id: str, body: Any) -> None:
    response = await api.post(f"/journeys/{journey_id}/trigger-batch", json=body)

    assert response.status_code == 400
    assert "items" in response.json()["message"]


async def test_an_unknown_journey_or_another_tenants_journey_is_404_and_nothing_starts(
    api: httpx.AsyncClient, journey_id: str, settings: Settings, pool: asyncpg.Pool
) -> None:
    other_key = await issue_test_key(settings.resolved_migration_database_url())
    async with app_client(settings, other_key) as (other, _):
        foreign = await batch(other, journey_id, item("a"))
    unknown = await batch(api, "7d7c9c52-3f0e-4c0a-9d3e-0c4c7a1b2d3e", item("a"))

    assert foreign.status_code == 404 and unknown.status_code == 404
    assert await runs_in_store(pool) == 0


async def test_the_batch_is_audited_with_its_run_ids(api: httpx.AsyncClient, journey_id: str) -> None:
    runs = [entry["runId"] for entry in (await batch(api, journey_id, item("a"), item("b"))).json()["items"]]

    audit = (await api.get("/audit")).json()

    triggered = [entry for entry in audit["entries"] if entry["action"] == "RunsTriggered"]
    assert len(triggered) == 1 and triggered[0]["details"]["runs"] == runs
