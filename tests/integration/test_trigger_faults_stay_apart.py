"""One request's bad values fail that request alone, on the real API and store: a refusal, or an error no
check foresaw, reaches only the trigger (or the batch item) that carried them; every other gets its run.
Only the store's failure (503) is shared by the requests of a transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import asyncpg
import httpx
import pytest

from api.examples import SEED_PATIENT
from domain.context_fit import ContextFit
from domain.validation import Problem

WAITS_FOR_APPOINTMENT = {
    "name": "Appointment",
    "start_node_id": "d",
    "nodes": [{"id": "d", "type": "DELAY", "until_field": "patient.appt", "next_node_id": None}],
}
BEYOND_THE_CALENDAR = "9999-12-31T23:59:59-14:00"
POISON = "patient-poison"  # a patient whose values trip an error no check foresaw (injected below)
TRIGGERS = 40


def patient(n: int, bad: bool) -> dict[str, Any]:
    appointment = BEYOND_THE_CALENDAR if bad else "2030-01-01"
    return {**SEED_PATIENT, "id": f"patient-{n}", "appt": appointment}


def is_bad(n: int) -> bool:
    return n % 10 == 5  # 4 of 40, spread over the groups


@pytest.fixture
def poisoned(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fault in the checks' code that only one patient's values reach (as the date overflow was)."""
    checked = ContextFit.problems

    def problems(fit: ContextFit, context: Mapping[str, Any], now: datetime) -> list[Problem]:
        if context.get("id") == POISON:
            raise TypeError("unhashable type: 'dict'")
        return checked(fit, context, now)

    monkeypatch.setattr(ContextFit, "problems", problems)


async def trigger_all(api: httpx.AsyncClient, journey_id: str, bodies: list[dict[str, Any]]) -> list[int]:
    responses = await asyncio.gather(
        *(
            api.post(f"/journeys/{journey_id}/trigger", json=body, headers={"Idempotency-Key": f"k-{n}"})
            for n, body in enumerate(bodies)
        )
    )
    return [response.status_code for response in responses]


async def test_concurrent_triggers_with_a_date_beyond_the_calendar_refuse_those_alone(
    api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    journey_id = (await api.post("/journeys", json=WAITS_FOR_APPOINTMENT)).json()["journeyId"]
    responses = await asyncio.gather(
        *(api.post(f"/journeys/{journey_id}/trigger", json=patient(n, is_bad(n))) for n in range(TRIGGERS))
    )

    assert [r.status_code for r in responses] == [400 if is_bad(n) else 202 for n in range(TRIGGERS)]
    for refused in (responses[n] for n in range(TRIGGERS) if is_bad(n)):
        assert [problem["path"] for problem in refused.json()["problems"]] == ["appt"]
        assert BEYOND_THE_CALENDAR not in refused.text
    assert await pool.fetchval("SELECT count(*) FROM run_status") == TRIGGERS - 4


@pytest.mark.usefixtures("poisoned")
async def test_concurrent_triggers_where_one_raises_unexpectedly_fail_that_one_alone(
    api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    journey_id = (await api.post("/journeys", json=WAITS_FOR_APPOINTMENT)).json()["journeyId"]
    bodies = [{**patient(n, bad=False), **({"id": POISON} if is_bad(n) else {})} for n in range(TRIGGERS)]

    statuses = await trigger_all(api, journey_id, bodies)

    assert statuses == [500 if is_bad(n) else 202 for n in range(TRIGGERS)]
    assert await pool.fetchval("SELECT count(*) FROM run_status") == TRIGGERS - 4
    assert await trigger_all(api, journey_id, bodies) == statuses  # retries: the same answers, no new runs
    assert await pool.fetchval("SELECT count(*) FROM run_status") == TRIGGERS - 4


@pytest.mark.usefixtures("poisoned")
async def test_a_batch_item_that_raises_or_is_unfit_gets_its_reason_and_the_others_their_runs(
    api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    journey_id = (await api.post("/journeys", json=WAITS_FOR_APPOINTMENT)).json()["journeyId"]
    items = [{"idempotencyKey": f"k-{n}", "patient": patient(n, bad=n == 3)} for n in range(10)]
    items[7]["patient"]["id"] = POISON

    response = await api.post(f"/journeys/{journey_id}/trigger-batch", json={"items": items})

    assert response.status_code == 202, response.text
    answers = response.json()["items"]
    assert (response.json()["accepted"], response.json()["refused"]) == (8, 2)
    assert answers[3]["status"] == 400 and answers[3]["error"]["problems"][0]["path"] == "appt"
    assert answers[7]["status"] == 500 and answers[7]["error"] == {"message": "Internal server error."}
    assert all("runId" in answers[n] for n in range(10) if n not in (3, 7))
    assert await pool.fetchval("SELECT count(*) FROM run_status") == 8
